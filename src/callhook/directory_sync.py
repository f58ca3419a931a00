"""The directory every process shares: its versions in the store, followed here.

:class:`DirectoryState` holds the number of the version in force in this process
and installs each newer one it finds (through ``install``, the one function that
makes a directory the hub's: :func:`callhook.api.directory.install`). It looks for a
newer version every ``poll`` seconds (0.5 s) and, on PostgreSQL, at once on each
``NOTIFY callhook_directory`` (:meth:`PostgresDirectoryVersions.listen`), so an
edit made through any process is in force on every other within a second or two;
if the LISTEN connection is lost the polling goes on meanwhile.

:meth:`DirectoryState.edit` is the API's way to change it: under a lock, it reads
the newest version first, applies the edit to it (the edit's checks run on that
directory, so a conflict is judged on what is really stored) and appends the result
as the next version; when another process wrote that number first, it starts again
from the newer version. At start the newest stored version replaces the directory
read from ``--directory`` (that file is the base until the first edit).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from callhook.core.directory import Directory, DirectoryError
from callhook.store.base import StoreError
from callhook.store.directory_versions import DirectoryVersion, DirectoryVersions, PostgresDirectoryVersions

__all__ = ["DirectoryBusy", "DirectoryState"]

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 5  # edits that lose the race to another process are applied again this many times


class DirectoryBusy(Exception):
    """Other processes kept writing newer versions while this edit was retried."""


class DirectoryState:
    def __init__(
        self,
        versions: DirectoryVersions,
        current: Callable[[], Directory],
        install: Callable[[Directory], None],
        *,
        scope: str = "",
        poll: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.versions = versions
        self._current, self._install = current, install
        self.scope = scope
        self.poll = poll
        self._clock = clock
        self.version = 0  # 0: the base (the --directory file), nothing stored yet
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ------------------------------------------------------------ following
    async def refresh(self) -> bool:
        """Install the newest stored version if it is newer than ours; True when one was installed."""
        if await self.versions.latest_version(self.scope) <= self.version:
            return False
        found = await self.versions.latest(self.scope)
        if found is None or found.version <= self.version:
            return False
        try:
            new = Directory.from_mapping(found.data)
        except DirectoryError as exc:  # written by a newer or broken release: keep what works
            log.error(
                "directory: stored version %d cannot be read (%s); keeping version %d", found.version, exc, self.version
            )
            return False
        self._install(new)
        self.version = found.version
        log.info("directory: version %d (by %s) is in force", found.version, found.actor)
        return True

    async def start(self) -> None:
        """Install the newest stored version, then follow the store until :meth:`stop`."""
        if await self.refresh():
            log.info("directory: the stored version %d replaces the directory file (its base)", self.version)
        self._tasks.append(asyncio.create_task(self._follow(), name="callhook-directory-poll"))
        if isinstance(self.versions, PostgresDirectoryVersions):
            self._tasks.append(
                asyncio.create_task(self.versions.listen(self._wake.set), name="callhook-directory-listen")
            )

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)
            self._wake.clear()
            try:
                async with self._lock:
                    await self.refresh()
            except StoreError as exc:
                log.warning("directory: cannot read the stored versions (%s); trying again", exc)

    # ------------------------------------------------------------ editing
    async def edit(self, change: Callable[[Directory], tuple[Directory, T]], actor: str) -> T:
        """Apply ``change`` (directory -> (new directory, answer)) to the newest version and store the result.

        ``change`` may raise (an HTTP 403/404/409, say): nothing is stored then."""
        async with self._lock:
            for _ in range(ATTEMPTS):
                await self.refresh()
                new, answer = change(self._current())
                version = DirectoryVersion(self.version + 1, new.to_mapping(), self._clock(), actor)
                if await self.versions.append(self.scope, version):
                    self._install(new)
                    self.version = version.version
                    return answer
        raise DirectoryBusy(f"the directory changed {ATTEMPTS} times while this edit was being applied")

"""The directory's stored versions on each backend, and two followers of one store.

Two :class:`DirectoryState` objects on one database stand for two processes: an
edit made through one is installed by the other, a race between them loses no edit,
and a stored version that cannot be read is refused without losing the one in force.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace

import pytest

from callhook.core.directory import Directory, Extension
from callhook.directory_sync import DirectoryBusy, DirectoryState
from callhook.store import open_store
from callhook.store.directory_versions import KEEP, DirectoryVersion, DirectoryVersions, directory_versions

BASE = {
    "tenant": "acme",
    "extensions": [
        {"number": "20", "name": "Anna", "channel": "PJSIP/20"},
        {"number": "21", "name": "Boris", "channel": "PJSIP/21", "tenant": "globex"},
    ],
    "trunks": [{"name": "city", "channel": "PJSIP/city"}],
    "queues": [{"name": "support", "members": ["20", "21"], "tenant": "acme"}],
    "dids": {"910104219": "main line", "74950000000": {"description": "globex line", "tenant": "globex"}},
}


@dataclass
class Process:
    """What one process holds: the directory in force, and every one it installed."""

    directory: Directory
    installed: list[Directory] = field(default_factory=list)

    def install(self, d: Directory) -> None:
        self.directory = d
        self.installed.append(d)


def _named(d: Directory, number: str, name: str) -> tuple[Directory, str]:
    old = d.extension(number)
    assert old is not None
    exts = tuple(Extension(**{**_fields(e), "name": name}) if e.number == number else e for e in d.extensions)
    return Directory.from_mapping({**d.to_mapping(), "extensions": [_fields(e) for e in exts]}), name


def _fields(e: Extension) -> dict[str, str]:
    return {k: getattr(e, k) for k in ("number", "name", "login", "email", "channel", "tenant")}


def _state(store: object, proc: Process, **kw: float) -> DirectoryState:
    return DirectoryState(directory_versions(store), lambda: proc.directory, proc.install, **kw)


def test_the_stored_form_keeps_everything() -> None:
    d = Directory.from_mapping(BASE)
    again = Directory.from_mapping(d.to_mapping())
    assert again == d
    assert again.did_tenant("74950000000") == "globex"  # the DID -> tenant map survives an edit
    assert again.queue_tenant(again.queues[0]) == "acme"


def test_two_processes_share_the_versions(store_url: str) -> None:
    async def main() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            a, b = Process(Directory.from_mapping(BASE)), Process(Directory.from_mapping(BASE))
            sa, sb = _state(store, a), _state(store, b)
            await sa.start()
            await sb.start()
            assert (sa.version, sb.version, a.installed, b.installed) == (0, 0, [], [])  # the file is the base
            assert await sa.edit(lambda d: _named(d, "20", "Anna K."), "admin") == "Anna K."
            assert sa.version == 1
            deadline = time.monotonic() + 5
            while sb.version < 1 and time.monotonic() < deadline:  # noqa: ASYNC110 -- the follower polls the store
                await asyncio.sleep(0.05)
            assert sb.version == 1
            ext = b.directory.extension("20")
            assert ext is not None
            assert ext.name == "Anna K."
            assert b.directory.did_tenant("74950000000") == "globex"
            # both edit "at once": B writes version 2 first, A's edit is applied again on top of it
            await sb.stop()
            await sb.edit(lambda d: _named(d, "21", "Boris P."), "token tok_1 (desk)")
            await sa.edit(lambda d: _named(d, "20", "Anna Karenina"), "admin")
            assert sa.version == 3
            names = {e.number: e.name for e in a.directory.extensions}
            assert names == {"20": "Anna Karenina", "21": "Boris P."}  # no edit lost
            # a new process starts from the newest version, not the file
            c = Process(Directory.from_mapping(BASE))
            sc = _state(store, c)
            await sc.start()
            assert sc.version == 3
            assert {e.number: e.name for e in c.directory.extensions} == names
            history = await sc.versions.history("", 10)
            assert [(v.version, v.actor) for v in history] == [
                (3, "admin"),
                (2, "token tok_1 (desk)"),
                (1, "admin"),
            ]
            # an edit whose checks fail stores nothing
            with pytest.raises(ValueError, match="no"):
                await sc.edit(lambda d: (_ for _ in ()).throw(ValueError("no")), "admin")
            assert await sc.versions.latest_version("") == 3
            await sa.stop()
            await sc.stop()
        finally:
            await store.close()

    asyncio.run(main())


def test_an_unreadable_version_keeps_the_one_in_force(store_url: str) -> None:
    async def main() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            a = Process(Directory.from_mapping(BASE))
            sa = _state(store, a)
            versions = sa.versions
            bad = {"extensions": [{"number": "20"}, {"number": "20"}]}  # a number twice
            assert await versions.append("", DirectoryVersion(1, bad, 1.0, "someone"))
            assert not await versions.append("", DirectoryVersion(1, BASE, 2.0, "late"))  # number taken
            assert not await sa.refresh()
            assert (sa.version, a.installed) == (0, [])
            assert a.directory == Directory.from_mapping(BASE)
        finally:
            await store.close()

    asyncio.run(main())


class Outrun:
    """The store as seen while another process always writes the next version first."""

    def __init__(self, real: DirectoryVersions) -> None:
        self.real = real

    async def latest_version(self, scope: str) -> int:
        return await self.real.latest_version(scope)

    async def latest(self, scope: str) -> DirectoryVersion | None:
        return await self.real.latest(scope)

    async def history(self, scope: str, limit: int) -> list[DirectoryVersion]:
        return await self.real.history(scope, limit)

    async def append(self, scope: str, v: DirectoryVersion) -> bool:
        assert await self.real.append(scope, replace(v, actor="other"))  # the other one, just before
        return await self.real.append(scope, v)


def test_a_busy_directory_gives_up_and_old_versions_are_trimmed(store_url: str) -> None:
    async def main() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            a = Process(Directory.from_mapping(BASE))
            real = directory_versions(store)
            sa = DirectoryState(Outrun(real), lambda: a.directory, a.install)
            with pytest.raises(DirectoryBusy, match="changed 5 times"):
                await sa.edit(lambda d: _named(d, "20", "Anna K."), "admin")
            assert [v.actor for v in await real.history("", 10)] == ["other"] * 5
            assert sa.version == 4  # it followed the other process meanwhile
            for i in range(KEEP + 5):
                assert await real.append("", DirectoryVersion(6 + i, BASE, 10.0 + i, "admin"))
            history = await real.history("", KEEP + 50)
            assert len(history) == KEEP
            assert history[0].version == KEEP + 10
        finally:
            await store.close()

    asyncio.run(main())


async def _listeners(url: str) -> int:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as c:
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query = %s"
        row = await (await c.execute(sql, ("LISTEN callhook_directory",))).fetchone()
        return int(row[0]) if row else 0


@pytest.mark.postgres
def test_postgres_announces_a_new_version(pg_db_url: str) -> None:
    """With the poll made too slow to matter, the other process learns of an edit by NOTIFY alone."""

    async def main() -> None:
        store = open_store(pg_db_url)
        await store.open()
        try:
            a, b = Process(Directory.from_mapping(BASE)), Process(Directory.from_mapping(BASE))
            sa, sb = _state(store, a, poll=60.0), _state(store, b, poll=60.0)
            await sa.start()
            await sb.start()
            deadline = time.monotonic() + 10
            while await _listeners(pg_db_url) < 2:
                assert time.monotonic() < deadline, "the followers did not LISTEN"
                await asyncio.sleep(0.05)
            started = time.monotonic()
            await sa.edit(lambda d: _named(d, "20", "Anna K."), "admin")
            while not b.installed and time.monotonic() - started < 5:  # noqa: ASYNC110 -- another task installs
                await asyncio.sleep(0.02)
            took = time.monotonic() - started
            assert b.installed, "no NOTIFY reached the other follower"
            assert took < 2.0
            await sa.stop()
            await sb.stop()
        finally:
            await store.close()

    asyncio.run(main())

"""The directory's versions, on each backend (table ``directory_versions``, migration 0007).

Every edit made through the API writes the whole directory (the JSON of a directory
file) as the next version of its scope (``""``: the directory given with
``--directory``). :meth:`append` writes version ``n`` only if nobody has: two
processes editing at once cannot both write ``n``, and the loser reads the newer
version and applies its edit again (:mod:`callhook.directory_sync`). The last
:data:`KEEP` versions of a scope are kept.

On PostgreSQL a new version is announced with ``NOTIFY callhook_directory`` in the
same transaction (:meth:`PostgresDirectoryVersions.listen`); the other backends
are polled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["CHANNEL", "KEEP", "DirectoryVersion", "DirectoryVersions", "directory_versions"]

log = logging.getLogger(__name__)

CHANNEL = "callhook_directory"
KEEP = 100  # versions kept per scope: the newest is in force, the rest are the history


@dataclass(frozen=True, slots=True)
class DirectoryVersion:
    version: int
    data: dict[str, Any]  # shaped like a directory file (Directory.to_mapping())
    created_at: float
    actor: str


class DirectoryVersions(Protocol):
    async def latest_version(self, scope: str) -> int:
        """The newest version's number; 0 when none is stored."""

    async def latest(self, scope: str) -> DirectoryVersion | None: ...

    async def append(self, scope: str, v: DirectoryVersion) -> bool:
        """Store ``v``; False (and nothing written) when its number is taken."""

    async def history(self, scope: str, limit: int) -> list[DirectoryVersion]:
        """The newest ``limit`` versions, newest first, without their bodies (``data`` empty)."""


def _body(v: DirectoryVersion) -> str:
    return json.dumps(v.data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class MemoryDirectoryVersions:
    def __init__(self) -> None:
        self.versions: dict[str, list[DirectoryVersion]] = {}

    async def latest_version(self, scope: str) -> int:
        got = self.versions.get(scope)
        return got[-1].version if got else 0

    async def latest(self, scope: str) -> DirectoryVersion | None:
        got = self.versions.get(scope)
        return got[-1] if got else None

    async def append(self, scope: str, v: DirectoryVersion) -> bool:
        got = self.versions.setdefault(scope, [])
        if got and got[-1].version >= v.version:
            return False
        got.append(DirectoryVersion(v.version, json.loads(_body(v)), v.created_at, v.actor))
        del got[:-KEEP]
        return True

    async def history(self, scope: str, limit: int) -> list[DirectoryVersion]:
        got = self.versions.get(scope, [])
        return [DirectoryVersion(v.version, {}, v.created_at, v.actor) for v in reversed(got[-limit:])]


_LATEST = (
    "SELECT version, body, created_at, actor FROM directory_versions WHERE scope = {m} ORDER BY version DESC LIMIT 1"
)
_HISTORY = "SELECT version, created_at, actor FROM directory_versions WHERE scope = {m} ORDER BY version DESC LIMIT {m}"
_INSERT = "INSERT INTO directory_versions (scope, version, body, created_at, actor) VALUES ({m}, {m}, {m}, {m}, {m})"
_TRIM = "DELETE FROM directory_versions WHERE scope = {m} AND version <= {m}"


def _row(r: Any) -> DirectoryVersion:
    return DirectoryVersion(int(r[0]), json.loads(r[1]), float(r[2]), str(r[3]))


class SqliteDirectoryVersions:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def latest_version(self, scope: str) -> int:
        def go(c: sqlite3.Connection) -> int:
            r = c.execute("SELECT max(version) FROM directory_versions WHERE scope = ?", (scope,)).fetchone()
            return int(r[0] or 0)

        n: int = await self.store._read(go)
        return n

    async def latest(self, scope: str) -> DirectoryVersion | None:
        def go(c: sqlite3.Connection) -> DirectoryVersion | None:
            r = c.execute(_LATEST.format(m="?"), (scope,)).fetchone()
            return _row(r) if r is not None else None

        found: DirectoryVersion | None = await self.store._read(go)
        return found

    async def append(self, scope: str, v: DirectoryVersion) -> bool:
        def go(c: sqlite3.Connection) -> bool:
            c.execute("BEGIN IMMEDIATE")
            try:
                r = c.execute("SELECT max(version) FROM directory_versions WHERE scope = ?", (scope,)).fetchone()
                if int(r[0] or 0) >= v.version:
                    c.execute("ROLLBACK")
                    return False
                c.execute(_INSERT.format(m="?"), (scope, v.version, _body(v), v.created_at, v.actor))
                c.execute(_TRIM.format(m="?"), (scope, v.version - KEEP))
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
            return True

        done: bool = await self.store._write(go)
        return done

    async def history(self, scope: str, limit: int) -> list[DirectoryVersion]:
        def go(c: sqlite3.Connection) -> list[DirectoryVersion]:
            rows = c.execute(_HISTORY.format(m="?"), (scope, limit)).fetchall()
            return [DirectoryVersion(int(r[0]), {}, float(r[1]), str(r[2])) for r in rows]

        found: list[DirectoryVersion] = await self.store._read(go)
        return found


class PostgresDirectoryVersions:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def latest_version(self, scope: str) -> int:
        async with self.store._conn() as c:
            cur = await c.execute(b"SELECT max(version) FROM directory_versions WHERE scope = %s", (scope,))
            r = await cur.fetchone()
            return int(r[0] or 0) if r is not None else 0

    async def latest(self, scope: str) -> DirectoryVersion | None:
        async with self.store._conn() as c:
            r = await (await c.execute(_LATEST.format(m="%s").encode(), (scope,))).fetchone()
            return _row(r) if r is not None else None

    async def append(self, scope: str, v: DirectoryVersion) -> bool:
        import psycopg

        async with self.store._conn() as c:
            try:
                async with c.transaction():
                    args = (scope, v.version, _body(v), v.created_at, v.actor)
                    await c.execute(_INSERT.format(m="%s").encode(), args)
                    await c.execute(_TRIM.format(m="%s").encode(), (scope, v.version - KEEP))
                    await c.execute(b"SELECT pg_notify(%s, %s)", (CHANNEL, f"{scope}:{v.version}"))
            except psycopg.errors.UniqueViolation:
                return False
        return True

    async def history(self, scope: str, limit: int) -> list[DirectoryVersion]:
        async with self.store._conn() as c:
            rows = await (await c.execute(_HISTORY.format(m="%s").encode(), (scope, limit))).fetchall()
            return [DirectoryVersion(int(r[0]), {}, float(r[1]), str(r[2])) for r in rows]

    async def listen(self, on_notify: Callable[[], None]) -> None:
        """Call ``on_notify()`` on every new version announced (and after each reconnect); runs until cancelled."""
        import psycopg

        delay = 0.5
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self.store.url, autocommit=True)
                try:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    on_notify()  # anything missed while not listening
                    async for _ in conn.notifies():
                        on_notify()
                finally:
                    await conn.close()
            except psycopg.Error as exc:
                log.warning("directory: LISTEN connection lost (%s); polling meanwhile", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


_memory: weakref.WeakKeyDictionary[Any, MemoryDirectoryVersions] = weakref.WeakKeyDictionary()


def directory_versions(store: Any) -> DirectoryVersions:
    """The directory versions of ``store``'s backend (one per memory store, shared)."""
    inner = getattr(store, "inner", store)
    kind = type(inner).__name__
    if kind == "SqliteStore":
        return SqliteDirectoryVersions(inner)
    if kind == "PostgresStore":
        return PostgresDirectoryVersions(inner)
    if inner is None:
        return MemoryDirectoryVersions()
    found = _memory.get(inner)
    if found is None:
        found = _memory[inner] = MemoryDirectoryVersions()
    return found

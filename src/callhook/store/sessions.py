# ruff: noqa: S608 -- SQL built from fixed column lists and placeholders; every value is bound
"""Dashboard sessions and one-time sign-in codes, on each backend (tables of migration 0007).

:func:`session_store` gives the one that fits an opened :class:`Store` (a
:class:`~callhook.store.sealed.SealedStore` is looked through): in memory (one per
store, so the hub and its API share it), SQLite (the store's writer and reader
threads) or PostgreSQL (the store's pool). A session is kept under the SHA-256 of
its cookie value and a code under the SHA-256 of the code, never the values.

A code is taken with one ``DELETE ... RETURNING``: whichever process runs it first
gets the row, any other gets nothing, so a code works once however many processes
share the database.
"""

from __future__ import annotations

import sqlite3
import weakref
from dataclasses import dataclass, replace
from typing import Any, Protocol

__all__ = ["CodeRecord", "SessionRecord", "SessionStore", "session_store"]


@dataclass(frozen=True, slots=True)
class SessionRecord:
    token_hash: str
    csrf: str
    tenant: str | None  # None: the admin
    read_only: bool
    token_id: str
    actor: str
    name: str
    created_at: float
    seen_at: float


@dataclass(frozen=True, slots=True)
class CodeRecord:
    code_hash: str
    tenant: str | None
    name: str
    expires_at: float


class SessionStore(Protocol):
    async def add_session(self, s: SessionRecord, *, keep: int) -> None:
        """Store ``s``; then only the ``keep`` most recently seen sessions are kept."""

    async def get_session(self, token_hash: str) -> SessionRecord | None: ...
    async def touch_session(self, token_hash: str, now: float) -> None: ...
    async def delete_session(self, token_hash: str) -> bool: ...
    async def delete_token_sessions(self, token_id: str) -> int: ...
    async def prune(self, *, seen_before: float, created_before: float, now: float) -> None:
        """Drop sessions idle since ``seen_before`` or made before ``created_before``, and expired codes."""

    async def add_code(self, c: CodeRecord) -> None: ...
    async def code_valid(self, code_hash: str, now: float) -> bool: ...
    async def take_code(self, code_hash: str, now: float) -> CodeRecord | None:
        """The code, removed (whether or not it had expired); None when used or unknown."""


_S_COLS = "token_hash, csrf, tenant, read_only, token_id, actor, name, created_at, seen_at"
_C_COLS = "code_hash, tenant, name, expires_at"


def _session(r: Any) -> SessionRecord:
    return SessionRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8])


def _session_row(s: SessionRecord) -> tuple[Any, ...]:
    return (s.token_hash, s.csrf, s.tenant, s.read_only, s.token_id, s.actor, s.name, s.created_at, s.seen_at)


class MemorySessions:
    def __init__(self) -> None:
        self.sessions: dict[str, SessionRecord] = {}
        self.codes: dict[str, CodeRecord] = {}

    async def add_session(self, s: SessionRecord, *, keep: int) -> None:
        self.sessions[s.token_hash] = s
        while len(self.sessions) > keep:  # the least recently used go first
            del self.sessions[min(self.sessions, key=lambda k: self.sessions[k].seen_at)]

    async def get_session(self, token_hash: str) -> SessionRecord | None:
        return self.sessions.get(token_hash)

    async def touch_session(self, token_hash: str, now: float) -> None:
        if (s := self.sessions.get(token_hash)) is not None:
            self.sessions[token_hash] = replace(s, seen_at=now)

    async def delete_session(self, token_hash: str) -> bool:
        return self.sessions.pop(token_hash, None) is not None

    async def delete_token_sessions(self, token_id: str) -> int:
        gone = [k for k, s in self.sessions.items() if token_id and s.token_id == token_id]
        for k in gone:
            del self.sessions[k]
        return len(gone)

    async def prune(self, *, seen_before: float, created_before: float, now: float) -> None:
        for k in [k for k, s in self.sessions.items() if s.seen_at <= seen_before or s.created_at <= created_before]:
            del self.sessions[k]
        for k in [k for k, c in self.codes.items() if c.expires_at <= now]:
            del self.codes[k]

    async def add_code(self, c: CodeRecord) -> None:
        self.codes[c.code_hash] = c

    async def code_valid(self, code_hash: str, now: float) -> bool:
        c = self.codes.get(code_hash)
        return c is not None and c.expires_at > now

    async def take_code(self, code_hash: str, now: float) -> CodeRecord | None:
        return self.codes.pop(code_hash, None)


class SqliteSessions:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def _w(self, sql: str, args: tuple[Any, ...]) -> int:
        def go(c: sqlite3.Connection) -> int:
            return int(c.execute(sql, args).rowcount)

        done: int = await self.store._write(go)
        return done

    async def add_session(self, s: SessionRecord, *, keep: int) -> None:
        def go(c: sqlite3.Connection) -> None:
            c.execute(f"INSERT INTO dashboard_sessions ({_S_COLS}) VALUES ({', '.join('?' * 9)})", _session_row(s))
            c.execute(
                "DELETE FROM dashboard_sessions WHERE token_hash IN "
                "(SELECT token_hash FROM dashboard_sessions ORDER BY seen_at DESC LIMIT -1 OFFSET ?)",
                (keep,),
            )

        await self.store._write(go)

    async def get_session(self, token_hash: str) -> SessionRecord | None:
        def go(c: sqlite3.Connection) -> SessionRecord | None:
            r = c.execute(f"SELECT {_S_COLS} FROM dashboard_sessions WHERE token_hash = ?", (token_hash,)).fetchone()
            return _session(r) if r is not None else None

        found: SessionRecord | None = await self.store._read(go)
        return found

    async def touch_session(self, token_hash: str, now: float) -> None:
        await self._w("UPDATE dashboard_sessions SET seen_at = ? WHERE token_hash = ?", (now, token_hash))

    async def delete_session(self, token_hash: str) -> bool:
        return await self._w("DELETE FROM dashboard_sessions WHERE token_hash = ?", (token_hash,)) > 0

    async def delete_token_sessions(self, token_id: str) -> int:
        return await self._w("DELETE FROM dashboard_sessions WHERE token_id = ? AND token_id <> ''", (token_id,))

    async def prune(self, *, seen_before: float, created_before: float, now: float) -> None:
        def go(c: sqlite3.Connection) -> None:
            c.execute(
                "DELETE FROM dashboard_sessions WHERE seen_at <= ? OR created_at <= ?", (seen_before, created_before)
            )
            c.execute("DELETE FROM signin_codes WHERE expires_at <= ?", (now,))

        await self.store._write(go)

    async def add_code(self, c: CodeRecord) -> None:
        await self._w(
            f"INSERT INTO signin_codes ({_C_COLS}) VALUES (?, ?, ?, ?)", (c.code_hash, c.tenant, c.name, c.expires_at)
        )

    async def code_valid(self, code_hash: str, now: float) -> bool:
        def go(c: sqlite3.Connection) -> bool:
            sql = "SELECT 1 FROM signin_codes WHERE code_hash = ? AND expires_at > ?"
            return c.execute(sql, (code_hash, now)).fetchone() is not None

        found: bool = await self.store._read(go)
        return found

    async def take_code(self, code_hash: str, now: float) -> CodeRecord | None:
        def go(c: sqlite3.Connection) -> CodeRecord | None:
            sql = f"DELETE FROM signin_codes WHERE code_hash = ? RETURNING {_C_COLS}"
            r = c.execute(sql, (code_hash,)).fetchone()
            return CodeRecord(r[0], r[1], r[2], r[3]) if r is not None else None

        found: CodeRecord | None = await self.store._write(go)
        return found


class PostgresSessions:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def _exec(self, sql: str, args: tuple[Any, ...]) -> Any:
        async with self.store._conn() as c:
            return await c.execute(sql.encode(), args)

    async def add_session(self, s: SessionRecord, *, keep: int) -> None:
        async with self.store._conn() as c, c.transaction():
            await c.execute(
                f"INSERT INTO dashboard_sessions ({_S_COLS}) VALUES ({', '.join(['%s'] * 9)})".encode(),
                _session_row(s),
            )
            await c.execute(
                b"DELETE FROM dashboard_sessions WHERE token_hash IN "
                b"(SELECT token_hash FROM dashboard_sessions ORDER BY seen_at DESC OFFSET %s)",
                (keep,),
            )

    async def get_session(self, token_hash: str) -> SessionRecord | None:
        cur = await self._exec(f"SELECT {_S_COLS} FROM dashboard_sessions WHERE token_hash = %s", (token_hash,))
        r = await cur.fetchone()
        return _session(r) if r is not None else None

    async def touch_session(self, token_hash: str, now: float) -> None:
        await self._exec("UPDATE dashboard_sessions SET seen_at = %s WHERE token_hash = %s", (now, token_hash))

    async def delete_session(self, token_hash: str) -> bool:
        cur = await self._exec("DELETE FROM dashboard_sessions WHERE token_hash = %s", (token_hash,))
        return bool(cur.rowcount > 0)

    async def delete_token_sessions(self, token_id: str) -> int:
        cur = await self._exec("DELETE FROM dashboard_sessions WHERE token_id = %s AND token_id <> ''", (token_id,))
        return int(cur.rowcount)

    async def prune(self, *, seen_before: float, created_before: float, now: float) -> None:
        async with self.store._conn() as c:
            await c.execute(
                b"DELETE FROM dashboard_sessions WHERE seen_at <= %s OR created_at <= %s", (seen_before, created_before)
            )
            await c.execute(b"DELETE FROM signin_codes WHERE expires_at <= %s", (now,))

    async def add_code(self, c: CodeRecord) -> None:
        await self._exec(
            f"INSERT INTO signin_codes ({_C_COLS}) VALUES (%s, %s, %s, %s)",
            (c.code_hash, c.tenant, c.name, c.expires_at),
        )

    async def code_valid(self, code_hash: str, now: float) -> bool:
        cur = await self._exec("SELECT 1 FROM signin_codes WHERE code_hash = %s AND expires_at > %s", (code_hash, now))
        return await cur.fetchone() is not None

    async def take_code(self, code_hash: str, now: float) -> CodeRecord | None:
        cur = await self._exec(f"DELETE FROM signin_codes WHERE code_hash = %s RETURNING {_C_COLS}", (code_hash,))
        r = await cur.fetchone()
        return CodeRecord(r[0], r[1], r[2], r[3]) if r is not None else None


_memory: weakref.WeakKeyDictionary[Any, MemorySessions] = weakref.WeakKeyDictionary()


def session_store(store: Any) -> SessionStore:
    """The session and code tables of ``store``'s backend (no store: a private memory one)."""
    inner = getattr(store, "inner", store)
    kind = type(inner).__name__
    if kind == "SqliteStore":
        return SqliteSessions(inner)
    if kind == "PostgresStore":
        return PostgresSessions(inner)
    if inner is None:
        return MemorySessions()
    found = _memory.get(inner)
    if found is None:
        found = _memory[inner] = MemorySessions()
    return found

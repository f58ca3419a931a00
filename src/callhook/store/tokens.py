# ruff: noqa: S105, S608 -- SQL built from fixed column lists and placeholders; every value is bound
"""API tokens and the audit log, on each backend (tables of migration 0004).

:func:`token_store` gives the one that fits an opened :class:`Store` (a
:class:`~callhook.store.sealed.SealedStore` is looked through): in memory, SQLite
(the store's own writer and reader threads) or PostgreSQL (the store's pool). A
token is kept as the SHA-256 of its value, never the value.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from typing import Any, Protocol

__all__ = ["AuditEntry", "TokenRecord", "TokenStore", "token_store"]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    tenant: str
    read_only: bool
    token_hash: str
    prefix: str
    created_at: float
    created_by: str
    expires_at: float | None = None
    revoked_at: float | None = None

    def valid_at(self, now: float) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: float
    actor: str
    tenant: str
    action: str
    target: str
    status: int
    id: int = 0


class TokenStore(Protocol):
    async def add_token(self, t: TokenRecord) -> None: ...
    async def list_tokens(self) -> list[TokenRecord]: ...
    async def revoke_token(self, token_id: str, now: float) -> bool: ...
    async def add_audit(self, e: AuditEntry) -> None: ...
    async def list_audit(self, *, tenant: str | None, before: int | None, limit: int) -> list[AuditEntry]: ...


_TOKEN_COLS = "id, name, tenant, read_only, token_hash, prefix, created_at, created_by, expires_at, revoked_at"
_AUDIT_COLS = "at, actor, tenant, action, target, status"


def _token(r: Any) -> TokenRecord:
    return TokenRecord(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6], r[7], r[8], r[9])


def _audit(r: Any) -> AuditEntry:
    return AuditEntry(r[1], r[2], r[3], r[4], r[5], r[6], id=r[0])


def _token_row(t: TokenRecord) -> tuple[Any, ...]:
    return (
        t.id,
        t.name,
        t.tenant,
        t.read_only,
        t.token_hash,
        t.prefix,
        t.created_at,
        t.created_by,
        t.expires_at,
        t.revoked_at,
    )


def _audit_sql(tenant: str | None, before: int | None, mark: str) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if tenant is not None:
        where.append(f"tenant = {mark}")
        args.append(tenant)
    if before is not None:
        where.append(f"id < {mark}")
        args.append(before)
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    return f"SELECT id, {_AUDIT_COLS} FROM audit_log{cond} ORDER BY id DESC LIMIT {mark}", args


class MemoryTokens:
    def __init__(self) -> None:
        self.tokens: dict[str, TokenRecord] = {}
        self.audit: list[AuditEntry] = []

    async def add_token(self, t: TokenRecord) -> None:
        self.tokens[t.id] = t

    async def list_tokens(self) -> list[TokenRecord]:
        return sorted(self.tokens.values(), key=lambda t: (t.created_at, t.id))

    async def revoke_token(self, token_id: str, now: float) -> bool:
        t = self.tokens.get(token_id)
        if t is None or t.revoked_at is not None:
            return False
        self.tokens[token_id] = replace(t, revoked_at=now)
        return True

    async def add_audit(self, e: AuditEntry) -> None:
        self.audit.append(replace(e, id=len(self.audit) + 1))

    async def list_audit(self, *, tenant: str | None, before: int | None, limit: int) -> list[AuditEntry]:
        rows = [e for e in reversed(self.audit) if (tenant is None or e.tenant == tenant)]
        return [e for e in rows if before is None or e.id < before][:limit]


class SqliteTokens:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def add_token(self, t: TokenRecord) -> None:
        def go(c: sqlite3.Connection) -> None:
            c.execute(f"INSERT INTO api_tokens ({_TOKEN_COLS}) VALUES ({', '.join('?' * 10)})", _token_row(t))

        await self.store._write(go)

    async def list_tokens(self) -> list[TokenRecord]:
        def go(c: sqlite3.Connection) -> list[TokenRecord]:
            return [_token(r) for r in c.execute(f"SELECT {_TOKEN_COLS} FROM api_tokens ORDER BY created_at, id")]

        result: list[TokenRecord] = await self.store._read(go)
        return result

    async def revoke_token(self, token_id: str, now: float) -> bool:
        def go(c: sqlite3.Connection) -> bool:
            cur = c.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (now, token_id))
            return cur.rowcount > 0

        done: bool = await self.store._write(go)
        return done

    async def add_audit(self, e: AuditEntry) -> None:
        def go(c: sqlite3.Connection) -> None:
            c.execute(
                f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                (e.at, e.actor, e.tenant, e.action, e.target, e.status),
            )

        await self.store._write(go)

    async def list_audit(self, *, tenant: str | None, before: int | None, limit: int) -> list[AuditEntry]:
        sql, args = _audit_sql(tenant, before, "?")

        def go(c: sqlite3.Connection) -> list[AuditEntry]:
            return [_audit(r) for r in c.execute(sql, (*args, limit))]

        result: list[AuditEntry] = await self.store._read(go)
        return result


class PostgresTokens:
    def __init__(self, store: Any) -> None:
        self.store = store

    async def _exec(self, sql: str, args: tuple[Any, ...]) -> Any:
        async with self.store._conn() as c:
            return await c.execute(sql.encode(), args)

    async def add_token(self, t: TokenRecord) -> None:
        await self._exec(f"INSERT INTO api_tokens ({_TOKEN_COLS}) VALUES ({', '.join(['%s'] * 10)})", _token_row(t))

    async def list_tokens(self) -> list[TokenRecord]:
        async with self.store._conn() as c:
            cur = await c.execute(f"SELECT {_TOKEN_COLS} FROM api_tokens ORDER BY created_at, id".encode())
            return [_token(r) for r in await cur.fetchall()]

    async def revoke_token(self, token_id: str, now: float) -> bool:
        cur = await self._exec(
            "UPDATE api_tokens SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL", (now, token_id)
        )
        return bool(cur.rowcount > 0)

    async def add_audit(self, e: AuditEntry) -> None:
        await self._exec(
            f"INSERT INTO audit_log ({_AUDIT_COLS}) VALUES (%s, %s, %s, %s, %s, %s)",
            (e.at, e.actor, e.tenant, e.action, e.target, e.status),
        )

    async def list_audit(self, *, tenant: str | None, before: int | None, limit: int) -> list[AuditEntry]:
        sql, args = _audit_sql(tenant, before, "%s")
        async with self.store._conn() as c:
            cur = await c.execute(sql.encode(), (*args, limit))
            return [_audit(r) for r in await cur.fetchall()]


def token_store(store: Any) -> TokenStore:
    """The token and audit tables of ``store``'s backend."""
    inner = getattr(store, "inner", store)
    kind = type(inner).__name__
    if kind == "SqliteStore":
        return SqliteTokens(inner)
    if kind == "PostgresStore":
        return PostgresTokens(inner)
    return MemoryTokens()

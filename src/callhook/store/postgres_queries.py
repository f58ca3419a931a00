"""The SQL of the PostgreSQL store: coroutines of one connection (autocommit; the
writers open their own transaction).

SQL text is assembled only from constant fragments; every value is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg

from callhook.core.events import Event
from callhook.core.serialize import event_from_dict, event_to_dict
from callhook.core.subscription import Subscription
from callhook.store.base import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    FINAL,
    SUBSCRIPTION_COLUMNS,
    Attempt,
    Counts,
    Delivery,
    DeliveryQuery,
    EventQuery,
    Finish,
    MissedMark,
    NewEvent,
    Page,
    SubscriptionStats,
    attempt_from_row,
    attempt_row,
    delivery_from_row,
    replay_expiry,
    stats_from_attempts,
    subscription_from_row,
    subscription_row,
)
from callhook.store.migrations import migrations

Conn = psycopg.AsyncConnection[tuple[Any, ...]]
CHANNEL = "callhook_deliveries"
_MIGRATION_LOCK = 0x63616C6C686F6F6B  # "callhook"
loads = orjson.loads


def dumps(v: Any) -> str:
    return orjson.dumps(v).decode()


def group_lock(sub_id: str, key: str) -> int:
    digest = hashlib.blake2b(f"{sub_id}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def _lock_groups(c: Conn, groups: Iterable[tuple[str, str]]) -> None:
    keys = sorted({group_lock(s, k) for s, k in groups})  # one order everywhere: no deadlocks
    if keys:
        await c.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", (keys,))


async def migrate(c: Conn) -> None:
    await c.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    try:
        await c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = await (await c.execute("SELECT max(version) FROM schema_version")).fetchone()
        current = (row[0] if row else None) or 0
        for version, _name, sql in migrations("postgres"):
            if version > current:
                async with c.transaction():
                    for stmt in sql.split(";"):
                        if stmt.strip():
                            await c.execute(stmt.encode())
                    await c.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
    finally:
        await c.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


# ---------------------------------------------------------------- subscriptions
_SUB_INSERT = (
    f"INSERT INTO subscriptions ({', '.join(SUBSCRIPTION_COLUMNS)}, created_at, updated_at) "
    f"VALUES ({', '.join(['%s'] * (len(SUBSCRIPTION_COLUMNS) + 2))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SUBSCRIPTION_COLUMNS[1:])
    + ", updated_at = excluded.updated_at"
)


async def put_subscription(c: Conn, sub: Subscription, now: float) -> None:
    await c.execute(_SUB_INSERT, (*subscription_row(sub, dumps), now, now))


async def select_subscriptions(
    c: Conn, sub_id: str | None, tenant: str | None, with_secrets: bool
) -> list[Subscription]:
    sql = f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM subscriptions WHERE true"
    args: list[Any] = []
    if sub_id is not None:
        sql, args = sql + " AND id = %s", [*args, sub_id]
    if tenant is not None:
        sql, args = sql + " AND tenant = %s", [*args, tenant]
    rows = await (await c.execute(sql + " ORDER BY id", args)).fetchall()
    return [subscription_from_row(dict(zip(SUBSCRIPTION_COLUMNS, r, strict=True)), loads, with_secrets) for r in rows]


async def delete_subscription(c: Conn, sub_id: str, tenant: str | None) -> bool:
    if tenant is None:
        cur = await c.execute("DELETE FROM subscriptions WHERE id = %s", (sub_id,))
    else:
        cur = await c.execute("DELETE FROM subscriptions WHERE id = %s AND tenant = %s", (sub_id, tenant))
    return cur.rowcount > 0


async def set_enabled(c: Conn, sub_id: str, enabled: bool, now: float) -> bool:
    cur = await c.execute(
        "UPDATE subscriptions SET enabled = %s, updated_at = %s WHERE id = %s", (enabled, now, sub_id)
    )
    return cur.rowcount > 0


# ---------------------------------------------------------------- outbox
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, subscription_id, tenant, order_key, status, head, next_at, expires_at, "
    "method, url, headers, body, last_error, created_at, finished_at, replay_of) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


async def _active_groups(c: Conn, groups: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The groups among ``groups`` that already have a pending or inflight delivery."""
    if not groups:
        return set()
    subs, keys = zip(*groups, strict=True)
    rows = await (
        await c.execute(
            "SELECT DISTINCT d.subscription_id, d.order_key FROM deliveries d "
            "JOIN unnest(%s::text[], %s::text[]) AS g(s, k) ON d.subscription_id = g.s AND d.order_key = g.k "
            "WHERE d.status IN ('pending', 'inflight')",
            (list(subs), list(keys)),
        )
    ).fetchall()
    return {(r[0], r[1]) for r in rows}


class _Heads:
    def __init__(self, active: set[tuple[str, str]]) -> None:
        self._taken = set(active)

    def take(self, sub_id: str, key: str) -> bool:
        if (sub_id, key) in self._taken:
            return False
        self._taken.add((sub_id, key))
        return True


async def append(c: Conn, items: Sequence[NewEvent], now: float) -> int:
    async with c.transaction():
        ids = [i.event.id for i in items]
        rows = await (await c.execute("SELECT id FROM events WHERE id = ANY(%s)", (ids,))).fetchall()
        seen = {r[0] for r in rows}
        fresh = []
        for item in items:
            if item.event.id not in seen:
                seen.add(item.event.id)
                fresh.append(item)
        groups = {(d.subscription_id, d.order_key) for i in fresh for d in i.deliveries if d.status not in FINAL}
        await _lock_groups(c, groups)
        heads = _Heads(await _active_groups(c, groups))
        ev_rows, d_rows = [], []
        for item in fresh:
            ev = item.event
            ev_rows.append(
                (ev.id, ev.type.value, ev.ts.timestamp(), ev.tenant, ev.call_id, ev.seq, dumps(event_to_dict(ev)), now)
            )
            for d in item.deliveries:
                final = d.status in FINAL
                r = d.request
                d_rows.append(
                    (
                        ev.id,
                        d.subscription_id,
                        d.tenant,
                        d.order_key,
                        d.status.value,
                        False if final else heads.take(d.subscription_id, d.order_key),
                        d.next_at,
                        d.expires_at,
                        r.method,
                        r.url,
                        dumps(r.headers),
                        r.body,
                        d.last_error,
                        now,
                        now if final else None,
                        None,
                    )
                )
        async with c.cursor() as cur:
            if ev_rows:
                await cur.executemany(
                    "INSERT INTO events (id, type, ts, tenant, call_id, seq, body, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s)",
                    ev_rows,
                )
            if d_rows:
                await cur.executemany(_INSERT_DELIVERY, d_rows)
                await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        return len(d_rows)


_D_COLUMNS = ", ".join(f"d.{col.strip()}" for col in DELIVERY_COLUMNS.split(","))


async def claim(c: Conn, now: float, limit: int, lease_until: float, lease_id: str) -> list[Delivery]:
    rows = await (
        await c.execute(
            "WITH c AS (SELECT id FROM deliveries WHERE status = 'pending' AND head AND next_at <= %s "
            " ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"UPDATE deliveries d SET status = 'inflight', lease_id = %s, lease_until = %s FROM c WHERE d.id = c.id "
            f"RETURNING {_D_COLUMNS}",
            (now, limit, lease_id, lease_until),
        )
    ).fetchall()
    return sorted((delivery_from_row(r, loads) for r in rows), key=lambda d: (d.next_at, d.id))


_PROMOTE = (
    "UPDATE deliveries SET head = true WHERE id = (SELECT min(id) FROM deliveries WHERE subscription_id = %s "
    "AND order_key = %s AND status IN ('pending', 'inflight')) AND NOT head"
)


async def finish(c: Conn, items: Sequence[Finish], now: float) -> tuple[int, int]:
    applied = promoted = 0
    async with c.transaction():
        final_ids = [f.delivery_id for f in items if f.status in FINAL]
        if final_ids:
            rows = await (
                await c.execute("SELECT subscription_id, order_key FROM deliveries WHERE id = ANY(%s)", (final_ids,))
            ).fetchall()
            await _lock_groups(c, ((r[0], r[1]) for r in rows))
        async with c.cursor() as cur:
            attempts = [attempt_row(f.attempt, dumps) for f in items if f.attempt is not None]
            if attempts:
                await cur.executemany(
                    f"INSERT INTO attempts ({ATTEMPT_COLUMNS.removeprefix('id, ')}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    attempts,
                )
        for f in items:
            if f.disable_subscription:
                await c.execute(
                    "UPDATE subscriptions SET enabled = false, updated_at = %s WHERE id = %s",
                    (now, f.disable_subscription),
                )
            final = f.status in FINAL
            row = await (
                await c.execute(
                    "UPDATE deliveries SET status = %s, head = %s, attempts = attempts + %s, "
                    "next_at = coalesce(%s, next_at), lease_id = NULL, lease_until = NULL, last_error = %s, "
                    "last_status = %s, finished_at = %s WHERE id = %s AND status = 'inflight' AND lease_id = %s "
                    "RETURNING subscription_id, order_key",
                    (
                        f.status.value,
                        not final,
                        int(f.attempt is not None),
                        f.next_at,
                        f.last_error,
                        f.last_status,
                        now if final else None,
                        f.delivery_id,
                        f.lease_id,
                    ),
                )
            ).fetchone()
            if row is None:
                continue
            applied += 1
            if final:
                promoted += (await c.execute(_PROMOTE, (row[0], row[1]))).rowcount
        if promoted:
            await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return applied, promoted


async def requeue_expired(c: Conn, now: float) -> int:
    cur = await c.execute(
        "UPDATE deliveries SET status = 'pending', lease_id = NULL, lease_until = NULL "
        "WHERE status = 'inflight' AND lease_until < %s",
        (now,),
    )
    if cur.rowcount:
        await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return cur.rowcount


async def retry_delivery(c: Conn, delivery_id: int, now: float, tenant: str | None) -> bool:
    async with c.transaction():
        row = await (
            await c.execute(
                "SELECT subscription_id, order_key, tenant, created_at, expires_at FROM deliveries "
                "WHERE id = %s AND status IN ('dead', 'expired') FOR UPDATE",
                (delivery_id,),
            )
        ).fetchone()
        if row is None or (tenant is not None and row[2] != tenant):
            return False
        await _lock_groups(c, [(row[0], row[1])])
        head = not await _active_groups(c, {(row[0], row[1])})
        await c.execute(
            "UPDATE deliveries SET status = 'pending', head = %s, attempts = 0, next_at = %s, "
            "expires_at = %s, finished_at = NULL WHERE id = %s",
            (head, now, replay_expiry(row[3], row[4], now), delivery_id),
        )
        await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        return True


async def expedite(c: Conn, delivery_id: int, now: float, tenant: str | None) -> bool:
    sql = "UPDATE deliveries SET next_at = least(next_at, %s) WHERE id = %s AND status = 'pending'"
    args: list[Any] = [now, delivery_id]
    if tenant is not None:
        sql, args = sql + " AND tenant = %s", [*args, tenant]
    cur = await c.execute(sql, args)
    if cur.rowcount:
        await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return cur.rowcount > 0


def _scope(
    sub_id: str | None, tenant: str | None, since: float | None, until: float | None, where: list[str], args: list[Any]
) -> None:
    for cond, value in (
        ("subscription_id = %s", sub_id),
        ("tenant = %s", tenant),
        ("created_at >= %s", since),
        ("created_at < %s", until),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)


async def replay(
    c: Conn,
    now: float,
    sub_id: str | None,
    since: float | None,
    until: float | None,
    tenant: str | None,
    limit: int,
    call_id: str | None = None,
) -> int:
    where: list[str] = ["status IN ('done', 'dead', 'expired')"]
    args: list[Any] = []
    _scope(sub_id, tenant, since, until, where, args)
    if call_id is not None:
        where.append("event_id IN (SELECT id FROM events WHERE call_id = %s)")
        args.append(call_id)
    async with c.transaction():
        rows = await (
            await c.execute(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)} ORDER BY id LIMIT %s",
                (*args, limit),
            )
        ).fetchall()
        old = [delivery_from_row(r, loads) for r in rows]
        groups = {(d.subscription_id, d.order_key) for d in old}
        await _lock_groups(c, groups)
        heads = _Heads(await _active_groups(c, groups))
        new = [
            (
                d.event_id,
                d.subscription_id,
                d.tenant,
                d.order_key,
                "pending",
                heads.take(d.subscription_id, d.order_key),
                now,
                replay_expiry(d.created_at, d.expires_at, now),
                d.request.method,
                d.request.url,
                dumps(d.request.headers),
                d.request.body,
                "",
                now,
                None,
                d.id,
            )
            for d in old
        ]
        if new:
            async with c.cursor() as cur:
                await cur.executemany(_INSERT_DELIVERY, new)
            await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        return len(new)


# ---------------------------------------------------------------- queries
async def get_delivery(c: Conn, delivery_id: int, tenant: str | None) -> tuple[Delivery, list[Attempt]] | None:
    row = await (await c.execute(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = %s", (delivery_id,))).fetchone()
    if row is None or (tenant is not None and row[3] != tenant):
        return None
    attempts = await (
        await c.execute(f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = %s ORDER BY id", (delivery_id,))
    ).fetchall()
    return delivery_from_row(row, loads), [attempt_from_row(a, loads) for a in attempts]


async def list_deliveries(c: Conn, dq: DeliveryQuery) -> Page[Delivery]:
    where: list[str] = ["true"]
    args: list[Any] = []
    _scope(dq.subscription_id, dq.tenant, dq.since, dq.until, where, args)
    for cond, value in (
        ("status = %s", dq.status),
        ("event_id = %s", dq.event_id),
        ("id < %s", dq.before_id),
        ("event_id IN (SELECT id FROM events WHERE call_id = %s)", dq.call_id),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    rows = await (
        await c.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s",
            (*args, dq.limit + 1),
        )
    ).fetchall()
    items = [delivery_from_row(r, loads) for r in rows[: dq.limit]]
    return Page(items, str(items[-1].id) if len(rows) > dq.limit else None)


async def list_events(c: Conn, eq: EventQuery) -> Page[Event]:
    where: list[str] = ["true"]
    args: list[Any] = []
    for cond, value in (
        ("tenant = %s", eq.tenant),
        ("type = %s", eq.type),
        ("call_id = %s", eq.call_id),
        ("ts >= %s", eq.since),
        ("ts < %s", eq.until),
        ("id < %s", eq.before_id),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    rows = await (
        await c.execute(
            f"SELECT body FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT %s", (*args, eq.limit + 1)
        )
    ).fetchall()
    items = [event_from_dict(r[0]) for r in rows[: eq.limit]]
    return Page(items, items[-1].id if len(rows) > eq.limit else None)


async def call_events(c: Conn, call_id: str, tenant: str | None) -> list[Event]:
    sql, args = "SELECT body FROM events WHERE call_id = %s", [call_id]
    if tenant is not None:
        sql, args = sql + " AND tenant = %s", [*args, tenant]
    rows = await (await c.execute(sql + " ORDER BY seq, id", args)).fetchall()
    return [event_from_dict(r[0]) for r in rows]


async def counts(c: Conn, sub_id: str | None = None) -> Counts:
    one = "" if sub_id is None else " AND subscription_id = %s"
    rows = await (
        await c.execute(
            "SELECT status, count(*) FROM deliveries WHERE status IN "
            f"('pending', 'inflight', 'dead', 'expired'){one} GROUP BY status",
            () if sub_id is None else (sub_id,),
        )
    ).fetchall()
    by = {r[0]: r[1] for r in rows}
    return Counts(by.get("pending", 0), by.get("inflight", 0), by.get("dead", 0), by.get("expired", 0))


async def subscription_stats(c: Conn, sub_id: str, since: float) -> SubscriptionStats:
    rows = await (
        await c.execute(
            "SELECT status, duration_ms, error, at FROM attempts WHERE subscription_id = %s AND at >= %s",
            (sub_id, since),
        )
    ).fetchall()
    return stats_from_attempts([(r[0], r[1], r[2], r[3]) for r in rows])


# ---------------------------------------------------------------- missed-call marks
async def put_missed_mark(c: Conn, m: MissedMark) -> None:
    await c.execute(
        "INSERT INTO missed_marks (tenant, number, at, done_by) VALUES (%s, %s, %s, %s) ON CONFLICT (tenant, number) "
        "DO UPDATE SET at = excluded.at, done_by = excluded.done_by",
        (m.tenant, m.number, m.at, m.by),
    )


async def list_missed_marks(c: Conn, tenant: str | None) -> list[MissedMark]:
    sql = "SELECT tenant, number, at, done_by FROM missed_marks"
    args: tuple[str, ...] = ()
    if tenant is not None:
        sql, args = sql + " WHERE tenant = %s", (tenant,)
    rows = await (await c.execute(sql + " ORDER BY tenant, number", args)).fetchall()
    return [MissedMark(r[0], r[1], r[2], r[3]) for r in rows]

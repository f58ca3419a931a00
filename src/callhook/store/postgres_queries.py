"""The SQL of the PostgreSQL store: coroutines of one connection (autocommit; the
writers open their own transaction).

SQL text is assembled only from constant fragments; every value is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import psycopg

from callhook.core.events import Event
from callhook.core.serialize import event_from_dict, event_to_dict
from callhook.core.subscription import Subscription
from callhook.store import outbox, reporting, sql
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
    Lease,
    LedgerRow,
    MissedMark,
    NewEvent,
    Page,
    SubscriptionStats,
    attempt_from_row,
    delivery_from_row,
    replay_expiry,
    stats_from_attempts,
    subscription_from_row,
    subscription_row,
)
from callhook.store.ledger import LEDGER_SQL, fold
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
    stmt, args = sql.subscriptions(sub_id, tenant)
    rows = await (await c.execute(sql.pg(stmt), args)).fetchall()
    return [subscription_from_row(dict(zip(SUBSCRIPTION_COLUMNS, r, strict=True)), loads, with_secrets) for r in rows]


async def delete_subscription(c: Conn, sub_id: str, tenant: str | None, now: float) -> bool:
    """Delete it and close its open deliveries as dead, reason deleted, in one commit."""
    async with c.transaction():
        if tenant is None:
            cur = await c.execute("DELETE FROM subscriptions WHERE id = %s", (sub_id,))
        else:
            cur = await c.execute("DELETE FROM subscriptions WHERE id = %s AND tenant = %s", (sub_id, tenant))
        if cur.rowcount > 0:
            await c.execute(
                "UPDATE deliveries SET status = 'dead', dead_reason = 'subscription_deleted', head = false, "
                "lease_id = NULL, lease_until = NULL, last_error = 'subscription deleted', finished_at = %s "
                "WHERE subscription_id = %s AND status IN ('pending', 'inflight')",
                (now, sub_id),
            )
        return cur.rowcount > 0


async def ledger(c: Conn, tenant: str | None, sub_id: str | None) -> list[LedgerRow]:
    where: list[str] = []
    args: list[Any] = []
    if tenant is not None:
        where.append("tenant = %s")
        args.append(tenant)
    if sub_id is not None:
        where.append("subscription_id = %s")
        args.append(sub_id)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return fold(await (await c.execute(LEDGER_SQL.format(where=clause), args)).fetchall())


async def set_enabled(c: Conn, sub_id: str, enabled: bool, now: float) -> bool:
    cur = await c.execute(
        "UPDATE subscriptions SET enabled = %s, updated_at = %s WHERE id = %s", (enabled, now, sub_id)
    )
    return cur.rowcount > 0


# ---------------------------------------------------------------- outbox
# The rules are in callhook.store.outbox; this is PostgreSQL's SQL for them.
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (id, event_id, subscription_id, tenant, order_key, status, head, next_at, expires_at, "
    "method, url, headers, body, last_error, created_at, finished_at, replay_of, lease_id, lease_until) "
    "OVERRIDING SYSTEM VALUE "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


_EVENT_LOCKS = 0x63_68_6B  # the class key of the per-event-id locks (two-int advisory keys)


async def _lock_events(c: Conn, ids: Sequence[str]) -> None:
    """Two processes appending the same event id (two readers of one PBX, a takeover)
    serialise on it: the second one's SELECT then sees the first one's committed row and
    skips the event with its deliveries, instead of failing on the primary key. Held to
    the end of the transaction; taken in one order everywhere, before any group lock
    (and in a key space of their own), so appends cannot deadlock."""
    keys = sorted(
        {int.from_bytes(hashlib.blake2b(i.encode(), digest_size=4).digest(), "big", signed=True) for i in ids}
    )
    if keys:
        await c.execute("SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int[]) AS k", (_EVENT_LOCKS, keys))


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


async def _new_ids(c: Conn, n: int) -> list[int]:
    rows = await (
        await c.execute("SELECT nextval(pg_get_serial_sequence('deliveries', 'id')) FROM generate_series(1, %s)", (n,))
    ).fetchall()
    return [r[0] for r in rows]


async def append(
    c: Conn, items: Sequence[NewEvent], now: float, room: int, lease: Lease | None, recent: outbox.RecentEvents
) -> tuple[int, list[Delivery]]:
    """Returns (deliveries created, those leased to the feed)."""
    async with c.transaction():
        ids = [i.event.id for i in items]
        await _lock_events(c, ids)
        rows = await (await c.execute("SELECT id FROM events WHERE id = ANY(%s)", (ids,))).fetchall()
        fresh = outbox.fresh_items(items, {r[0] for r in rows})
        groups = {(d.subscription_id, d.order_key) for i in fresh for d in i.deliveries if d.status not in FINAL}
        await _lock_groups(c, groups)
        planned = outbox.plan(fresh, await _active_groups(c, groups), now, room, lease)
        new_ids = await _new_ids(c, len(planned)) if planned else []
        d_rows = []
        for did, p in zip(new_ids, planned, strict=True):
            d, r, final = p.new, p.new.request, p.status in FINAL
            d_rows.append(
                (
                    did,
                    p.event.id,
                    d.subscription_id,
                    d.tenant,
                    d.order_key,
                    p.status.value,
                    p.head,
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
                    p.lease.id if p.lease else None,
                    p.lease.until if p.lease else None,
                )
            )
        async with c.cursor() as cur:
            if fresh:
                await cur.executemany(
                    "INSERT INTO events (id, type, ts, tenant, call_id, seq, body, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s)",
                    [
                        (
                            ev.id,
                            ev.type.value,
                            ev.ts.timestamp(),
                            ev.tenant,
                            ev.call_id,
                            ev.seq,
                            dumps(event_to_dict(ev)),
                            now,
                        )
                        for ev in (i.event for i in fresh)
                    ],
                )
                calls, steps = reporting.apply_sql([i.event for i in fresh])  # the reporting tables, same commit
                if calls:
                    await cur.executemany(sql.pg(reporting.CALL_INSERT), calls)
                for stmt, args in steps:
                    await cur.execute(sql.pg(stmt), args)
            if d_rows:
                await cur.executemany(_INSERT_DELIVERY, d_rows)
        fed = [outbox.to_delivery(p, did, now) for did, p in zip(new_ids, planned, strict=True) if p.lease]
        if len(d_rows) > len(fed):
            await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    recent.add([i.event for i in fresh])  # committed
    return len(d_rows), fed


_D_COLUMNS = ", ".join(f"d.{col.strip()}" for col in DELIVERY_COLUMNS.split(","))


async def _deliveries(c: Conn, rows: Sequence[Any], recent: outbox.RecentEvents) -> list[Delivery]:
    """Rows of _D_COLUMNS with their events: from ``recent`` when there (the steady
    state), else read back and decoded in one statement (after a restart, long
    retries). The statements that hand out rows return no event body: most are in
    ``recent``, and shipping and decoding each body was half of a promotion's cost."""
    events: dict[str, Event] = {}
    missing = sorted({r[1] for r in rows if recent.get(r[1]) is None})
    if missing:
        got = await (await c.execute("SELECT id, body::text FROM events WHERE id = ANY(%s)", (missing,))).fetchall()
        events = {r[0]: event_from_dict(loads(r[1])) for r in got}
    return [delivery_from_row(r, loads, recent.get(r[1]) or events.get(r[1])) for r in rows]


async def claim(
    c: Conn, now: float, limit: int, lease_until: float, lease_id: str, recent: outbox.RecentEvents
) -> list[Delivery]:
    rows = await (
        await c.execute(
            "WITH c AS (SELECT id FROM deliveries WHERE status = 'pending' AND head AND next_at <= %s "
            " ORDER BY next_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            f"UPDATE deliveries d SET status = 'inflight', lease_id = %s, lease_until = %s FROM c WHERE d.id = c.id "
            f"RETURNING {_D_COLUMNS}",
            (now, limit, lease_id, lease_until),
        )
    ).fetchall()
    return sorted(await _deliveries(c, rows, recent), key=lambda d: (d.next_at, d.id))


# A batch's rows go as one JSON document (orjson: a few microseconds), not as a dozen
# arrays that psycopg would build element by element in Python (a tenth of a
# dispatcher's time); bytes travel base64-encoded.
_FINISH = (
    "UPDATE deliveries d SET status = f.status, head = f.head, attempts = d.attempts + f.n, "
    "next_at = coalesce(f.next_at, d.next_at), lease_id = NULL, lease_until = NULL, last_error = f.err, "
    "last_status = f.st, finished_at = f.fin, method = coalesce(f.method, d.method), url = coalesce(f.url, d.url), "
    "headers = coalesce(f.headers, d.headers), body = coalesce(decode(f.body, 'base64'), d.body), dead_reason = f.why "
    "FROM json_to_recordset(%s::json) AS f(id bigint, lease text, status text, head bool, n int, next_at float8, "
    "err text, st int, fin float8, method text, url text, headers text, body text, why text) "
    "WHERE d.id = f.id AND d.status = 'inflight' AND d.lease_id = f.lease "
    "RETURNING d.subscription_id, d.order_key, d.status IN ('done', 'dead', 'expired')"
)
_INSERT_ATTEMPTS = (
    f"INSERT INTO attempts ({ATTEMPT_COLUMNS.removeprefix('id, ')}) "
    "SELECT a.delivery_id, a.subscription_id, a.at, a.method, a.url, a.headers, a.status, decode(a.body, 'base64'), "
    "a.duration_ms, a.error FROM json_to_recordset(%s::json) AS a(delivery_id bigint, subscription_id text, "
    "at float8, method text, url text, headers text, status int, body text, duration_ms float8, error text)"
)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


_DUE = "%(lease)s::text IS NOT NULL AND d.status = 'pending' AND d.next_at <= %(now)s"
_PROMOTE = (
    f"UPDATE deliveries d SET head = true, "
    f"status = CASE WHEN {_DUE} THEN 'inflight' ELSE d.status END, "
    f"lease_id = CASE WHEN {_DUE} THEN %(lease)s ELSE d.lease_id END, "
    f"lease_until = CASE WHEN {_DUE} THEN %(until)s ELSE d.lease_until END "
    # each group's oldest active row: one probe of deliveries_group per group (LIMIT 1),
    # not a read of every pending row of the group (a call with a long backlog)
    "FROM json_to_recordset(%(groups)s::json) AS g(s text, k text) CROSS JOIN LATERAL (SELECT x.id FROM deliveries x "
    "WHERE x.subscription_id = g.s AND x.order_key = g.k AND x.status IN ('pending', 'inflight') "
    "ORDER BY x.id LIMIT 1) AS m "
    f"WHERE d.id = m.id AND NOT d.head RETURNING {_D_COLUMNS}"
)


async def record(
    c: Conn, items: Sequence[Finish], now: float, lease: Lease | None, recent: outbox.RecentEvents
) -> tuple[int, list[Delivery]]:
    """Apply a batch of outcomes: a constant number of statements whatever its size."""
    rows = outbox.outcomes(items, now)
    sent = {f.delivery_id: f.sent for f in items if f.sent is not None}
    successors: list[Delivery] = []
    async with c.transaction():
        final_ids = [o.id for o in rows if o.final]
        if final_ids:
            groups = await (
                await c.execute("SELECT subscription_id, order_key FROM deliveries WHERE id = ANY(%s)", (final_ids,))
            ).fetchall()
            await _lock_groups(c, ((r[0], r[1]) for r in groups))
        attempts = [
            {
                "delivery_id": a.delivery_id,
                "subscription_id": a.subscription_id,
                "at": a.at,
                "method": a.method,
                "url": a.url,
                "headers": dumps(a.headers),
                "status": a.status,
                "body": _b64(a.body),
                "duration_ms": a.duration_ms,
                "error": a.error,
            }
            for a in (f.attempt for f in items if f.attempt is not None)
        ]
        if attempts:
            await c.execute(_INSERT_ATTEMPTS, (dumps(attempts),))
        disable = sorted({f.disable_subscription for f in items if f.disable_subscription})
        if disable:
            await c.execute(
                "UPDATE subscriptions SET enabled = false, updated_at = %s WHERE id = ANY(%s)", (now, disable)
            )
        if not rows:
            return 0, []

        values = []
        for o in rows:
            r = sent.get(o.id)
            values.append(
                {
                    "id": o.id,
                    "lease": o.lease_id,
                    "status": o.status,
                    "head": o.head,
                    "n": o.attempts,
                    "next_at": o.next_at,
                    "err": o.last_error,
                    "st": o.last_status,
                    "fin": o.finished_at,
                    "method": r.method if r else None,
                    "url": r.url if r else None,
                    "headers": dumps(r.headers) if r else None,
                    "body": _b64(r.body) if r else None,
                    "why": o.dead_reason,
                }
            )
        applied = await (await c.execute(_FINISH, (dumps(values),))).fetchall()
        ended = sorted({(r[0], r[1]) for r in applied if r[2]})
        if any(not o.final and o.next_at is not None and o.next_at <= now for o in rows):
            await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))  # released: due now, for anyone
        if ended:
            promoted = await (
                await c.execute(
                    _PROMOTE,
                    {
                        "lease": lease.id if lease else None,
                        "until": lease.until if lease else None,
                        "now": now,
                        "groups": dumps([{"s": g[0], "k": g[1]} for g in ended]),
                    },
                )
            ).fetchall()
            mine = [r for r in promoted if lease is not None and r[17] == lease.id]
            successors = await _deliveries(c, mine, recent)
            if len(mine) < len(promoted):
                await c.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    return len(applied), successors


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
            "expires_at = %s, finished_at = NULL, dead_reason = '' WHERE id = %s",
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
    stmt, args = sql.replay_source(sub_id, since, until, tenant, limit, call_id)
    async with c.transaction():
        rows = await (await c.execute(sql.pg(stmt), args)).fetchall()
        old = [delivery_from_row(r, loads) for r in rows]
        groups = {(d.subscription_id, d.order_key) for d in old}
        await _lock_groups(c, groups)
        taken = await _active_groups(c, groups)
        heads = []
        for d in old:
            heads.append((d.subscription_id, d.order_key) not in taken)
            taken.add((d.subscription_id, d.order_key))
        new_ids = await _new_ids(c, len(old)) if old else []
        new = [
            (
                did,
                d.event_id,
                d.subscription_id,
                d.tenant,
                d.order_key,
                "pending",
                head,
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
                None,
                None,
            )
            for did, d, head in zip(new_ids, old, heads, strict=True)
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
    stmt, args = sql.deliveries(dq)
    rows = await (await c.execute(sql.pg(stmt), args)).fetchall()
    items = [delivery_from_row(r, loads) for r in rows[: dq.limit]]
    return Page(items, str(items[-1].id) if len(rows) > dq.limit else None)


async def list_events(c: Conn, eq: EventQuery) -> Page[Event]:
    stmt, args = sql.events(eq)
    rows = await (await c.execute(sql.pg(stmt), args)).fetchall()
    items = [event_from_dict(r[0]) for r in rows[: eq.limit]]
    return Page(items, items[-1].id if len(rows) > eq.limit else None)


async def call_events(c: Conn, call_id: str, tenant: str | None) -> list[Event]:
    stmt, args = sql.call_events(call_id, tenant)
    rows = await (await c.execute(sql.pg(stmt), args)).fetchall()
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

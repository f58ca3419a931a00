"""The SQL of the SQLite store: plain functions of a connection, run in its threads.

Writers wrap themselves in ``BEGIN IMMEDIATE`` .. ``COMMIT``; readers run alone.
SQL text is assembled only from constant fragments; every value is a bound parameter.
"""
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

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
    attempt_row,
    delivery_from_row,
    replay_expiry,
    stats_from_attempts,
    subscription_from_row,
    subscription_row,
)
from callhook.store.ledger import LEDGER_SQL, fold

loads = orjson.loads


def dumps(v: Any) -> str:
    return orjson.dumps(v).decode()


class Connection(sqlite3.Connection):
    """A connection that knows the ``synchronous`` level of durable commits."""

    durable_level = "FULL"


@contextmanager
def _tx(conn: sqlite3.Connection, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
    """A write transaction; a ``durable`` one is on disk (fsync) when this returns."""
    level = conn.durable_level if durable and isinstance(conn, Connection) else "NORMAL"
    if level != "NORMAL":
        conn.execute(f"PRAGMA synchronous={level}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        if level != "NORMAL":
            conn.execute("PRAGMA synchronous=NORMAL")


# ---------------------------------------------------------------- subscriptions
_SUB_INSERT = (
    f"INSERT INTO subscriptions ({', '.join(SUBSCRIPTION_COLUMNS)}, created_at, updated_at) "
    f"VALUES ({', '.join('?' * (len(SUBSCRIPTION_COLUMNS) + 2))}) ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in SUBSCRIPTION_COLUMNS[1:])
    + ", updated_at = excluded.updated_at"
)


def put_subscription(conn: sqlite3.Connection, sub: Subscription, now: float) -> None:
    with _tx(conn, durable=True):
        conn.execute(_SUB_INSERT, (*subscription_row(sub, dumps), now, now))


def select_subscriptions(
    conn: sqlite3.Connection, sub_id: str | None, tenant: str | None, with_secrets: bool
) -> list[Subscription]:
    stmt, args = sql.subscriptions(sub_id, tenant)
    rows = conn.execute(stmt, args).fetchall()
    return [subscription_from_row(dict(zip(SUBSCRIPTION_COLUMNS, r, strict=True)), loads, with_secrets) for r in rows]


def delete_subscription(conn: sqlite3.Connection, sub_id: str, tenant: str | None, now: float) -> bool:
    """Delete it and close its open deliveries as dead, reason deleted, in one commit."""
    with _tx(conn, durable=True):
        if tenant is None:
            cur = conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
        else:
            cur = conn.execute("DELETE FROM subscriptions WHERE id = ? AND tenant = ?", (sub_id, tenant))
        if cur.rowcount > 0:
            conn.execute(CLOSE_DELETED, (now, sub_id))
        return cur.rowcount > 0


# A deleted subscription's open deliveries end at once (the ledger's "deleted").
CLOSE_DELETED = (
    "UPDATE deliveries SET status = 'dead', dead_reason = 'subscription_deleted', head = 0, lease_id = NULL, "
    "lease_until = NULL, last_error = 'subscription deleted', finished_at = ? "
    "WHERE subscription_id = ? AND status IN ('pending', 'inflight')"
)


def ledger(conn: sqlite3.Connection, tenant: str | None, sub_id: str | None) -> list[LedgerRow]:
    where, args = [], []
    if tenant is not None:
        where.append("tenant = ?")
        args.append(tenant)
    if sub_id is not None:
        where.append("subscription_id = ?")
        args.append(sub_id)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    return fold(conn.execute(LEDGER_SQL.format(where=clause), args).fetchall())


def set_enabled(conn: sqlite3.Connection, sub_id: str, enabled: bool, now: float) -> bool:
    with _tx(conn, durable=True):
        cur = conn.execute("UPDATE subscriptions SET enabled = ?, updated_at = ? WHERE id = ?", (enabled, now, sub_id))
        return cur.rowcount > 0


# ---------------------------------------------------------------- outbox
# The rules are in callhook.store.outbox; this is SQLite's SQL for them.
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, subscription_id, tenant, order_key, status, head, next_at, expires_at, "
    "method, url, headers, body, last_error, created_at, finished_at, replay_of, lease_id, lease_until) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_ACTIVE_GROUPS = (
    "SELECT DISTINCT d.subscription_id, d.order_key FROM deliveries d "
    "JOIN (SELECT value ->> 0 AS s, value ->> 1 AS k FROM json_each(?)) g "
    "ON d.subscription_id = g.s AND d.order_key = g.k WHERE d.status IN ('pending', 'inflight')"
)


def _active_groups(conn: sqlite3.Connection, groups: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The groups among ``groups`` that already have a pending or inflight row (one statement)."""
    if not groups:
        return set()
    return {(r[0], r[1]) for r in conn.execute(_ACTIVE_GROUPS, (dumps(sorted(groups)),))}


def _stored_events(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        seen.update(r[0] for r in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk))
    return seen


def append(
    conn: sqlite3.Connection,
    items: Sequence[NewEvent],
    now: float,
    room: int,
    lease: Lease | None,
    recent: outbox.RecentEvents,
) -> tuple[int, list[Delivery]]:
    """Returns (deliveries created, those leased to the feed)."""
    with _tx(conn, durable=True):
        fresh = outbox.fresh_items(items, _stored_events(conn, [i.event.id for i in items]))
        groups = {(d.subscription_id, d.order_key) for i in fresh for d in i.deliveries if d.status not in FINAL}
        planned = outbox.plan(fresh, _active_groups(conn, groups), now, room, lease)
        conn.executemany(
            "INSERT INTO events (id, type, ts, tenant, call_id, seq, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    ev.id,
                    ev.type.value,
                    ev.ts.timestamp(),
                    ev.tenant,
                    ev.call_id,
                    ev.seq,
                    orjson.dumps(event_to_dict(ev)),
                    now,
                )
                for ev in (i.event for i in fresh)
            ],
        )
        calls, steps = reporting.apply_sql([i.event for i in fresh])  # the reporting tables, same commit
        if calls:
            conn.executemany(reporting.CALL_INSERT, calls)
        for stmt, args in steps:
            conn.execute(stmt, args)
        rows = []
        for p in planned:
            d, r, final = p.new, p.new.request, p.status in FINAL
            rows.append(
                (
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
        conn.executemany(_INSERT_DELIVERY, rows)
        fed: list[Delivery] = []
        if rows and any(p.lease is not None for p in planned):
            # One writer holds the file: the ids just assigned are consecutive.
            last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
            first = last - len(rows) + 1
            fed = [outbox.to_delivery(p, first + k, now) for k, p in enumerate(planned) if p.lease is not None]
    recent.add([i.event for i in fresh])  # committed
    return len(rows), fed


def reset_inflight(conn: sqlite3.Connection) -> None:
    with _tx(conn):
        conn.execute(
            "UPDATE deliveries SET status = 'pending', lease_id = NULL, lease_until = NULL WHERE status = 'inflight'"
        )


def _with_events(conn: sqlite3.Connection, rows: list[Any], recent: outbox.RecentEvents) -> list[Delivery]:
    """Deliveries (rows in DELIVERY_COLUMNS order) with their events: from ``recent``,
    else read, one lookup per 500 (a scalar subquery in RETURNING is not planned on
    the primary key)."""
    known = {r[1]: ev for r in rows if (ev := recent.get(r[1])) is not None}
    if len(known) == len(rows):
        return [delivery_from_row(r, loads, known[r[1]]) for r in rows]
    ids = sorted({r[1] for r in rows} - set(known))
    bodies: dict[str, Any] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        bodies.update(conn.execute(f"SELECT id, body FROM events WHERE id IN ({marks})", chunk).fetchall())
    return [delivery_from_row((*r, bodies.get(r[1])), loads, known.get(r[1])) for r in rows]


def claim(
    conn: sqlite3.Connection, now: float, limit: int, lease_until: float, lease_id: str, recent: outbox.RecentEvents
) -> list[Delivery]:
    with _tx(conn):
        rows = conn.execute(
            "UPDATE deliveries SET status = 'inflight', lease_id = ?, lease_until = ? WHERE id IN ("
            " SELECT id FROM deliveries WHERE status = 'pending' AND head = 1 AND next_at <= ?"
            f" ORDER BY next_at LIMIT ?) RETURNING {DELIVERY_COLUMNS}",
            (lease_id, lease_until, now, limit),
        ).fetchall()
        claimed = _with_events(conn, rows, recent)
    return sorted(claimed, key=lambda d: (d.next_at, d.id))


_FINISH = (
    "UPDATE deliveries SET status = f.status, head = f.head, attempts = attempts + f.n, "
    "next_at = coalesce(f.next_at, deliveries.next_at), lease_id = NULL, lease_until = NULL, "
    "last_error = f.err, last_status = f.st, finished_at = f.fin, dead_reason = f.why "
    "FROM (SELECT value ->> 0 AS id, value ->> 1 AS lease, value ->> 2 AS status, value ->> 3 AS head, "
    "value ->> 4 AS n, value ->> 5 AS next_at, value ->> 6 AS err, value ->> 7 AS st, value ->> 8 AS fin, "
    "value ->> 9 AS why "
    "FROM json_each(?)) AS f "
    "WHERE deliveries.id = f.id AND deliveries.status = 'inflight' AND deliveries.lease_id = f.lease "
    "RETURNING deliveries.subscription_id, deliveries.order_key, deliveries.status IN ('done', 'dead', 'expired')"
)
# The next active row of each group whose head ended becomes head; if due, it is
# leased to the caller at once (lease id NULL: left pending for a claim).
_PROMOTE = (
    "UPDATE deliveries SET head = 1, "
    "status = CASE WHEN ?1 IS NOT NULL AND status = 'pending' AND next_at <= ?3 THEN 'inflight' ELSE status END, "
    "lease_id = CASE WHEN ?1 IS NOT NULL AND status = 'pending' AND next_at <= ?3 THEN ?1 ELSE lease_id END, "
    "lease_until = CASE WHEN ?1 IS NOT NULL AND status = 'pending' AND next_at <= ?3 THEN ?2 ELSE lease_until END "
    # each group's oldest active row: one probe of deliveries_group per group (LIMIT 1),
    # not a read of every pending row of the group (a call with a long backlog)
    "WHERE head = 0 AND id IN (SELECT (SELECT d.id FROM deliveries d "
    "WHERE d.subscription_id = g.s AND d.order_key = g.k AND d.status IN ('pending', 'inflight') "
    "ORDER BY d.id LIMIT 1) FROM (SELECT value ->> 0 AS s, value ->> 1 AS k FROM json_each(?4)) g) "
    f"RETURNING {DELIVERY_COLUMNS}"
)
_SENT = (
    "UPDATE deliveries SET method = ?, url = ?, headers = ?, body = ? "
    "WHERE id = ? AND status = 'inflight' AND lease_id = ?"
)


def record(
    conn: sqlite3.Connection, items: Sequence[Finish], now: float, lease: Lease | None, recent: outbox.RecentEvents
) -> tuple[int, list[Delivery]]:
    """Apply a batch of outcomes: at most five statements whatever its size (attempts,
    410 disables, changed requests, finishes, promotions), plus one read per 500
    successors whose event is no longer in ``recent``."""
    rows = outbox.outcomes(items, now)
    with _tx(conn):
        attempts = [attempt_row(f.attempt, dumps) for f in items if f.attempt is not None]
        if attempts:
            conn.executemany(
                f"INSERT INTO attempts ({ATTEMPT_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                attempts,
            )
        disable = sorted({f.disable_subscription for f in items if f.disable_subscription})
        if disable:
            conn.execute(
                "UPDATE subscriptions SET enabled = 0, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))",
                (now, dumps(disable)),
            )
        sent = [
            (f.sent.method, f.sent.url, dumps(f.sent.headers), f.sent.body, f.delivery_id, f.lease_id)
            for f in items
            if f.sent
        ]
        if sent:
            conn.executemany(_SENT, sent)
        values = [
            (
                o.id,
                o.lease_id,
                o.status,
                int(o.head),
                o.attempts,
                o.next_at,
                o.last_error,
                o.last_status,
                o.finished_at,
                o.dead_reason,
            )
            for o in rows
        ]
        applied = conn.execute(_FINISH, (dumps(values),)).fetchall() if values else []
        ended = sorted({(r[0], r[1]) for r in applied if r[2]})
        successors: list[Delivery] = []
        if ended:
            promoted = conn.execute(
                _PROMOTE,
                (lease.id if lease else None, lease.until if lease else None, now, dumps(ended)),
            ).fetchall()
            mine = [r for r in promoted if lease is not None and r[17] == lease.id]
            successors = _with_events(conn, mine, recent)
    return len(applied), successors


def requeue_expired(conn: sqlite3.Connection, now: float) -> int:
    with _tx(conn):
        return conn.execute(
            "UPDATE deliveries SET status = 'pending', lease_id = NULL, lease_until = NULL "
            "WHERE status = 'inflight' AND lease_until < ?",
            (now,),
        ).rowcount


def retry_delivery(conn: sqlite3.Connection, delivery_id: int, now: float, tenant: str | None) -> bool:
    with _tx(conn, durable=True):
        row = conn.execute(
            "SELECT subscription_id, order_key, tenant, created_at, expires_at FROM deliveries "
            "WHERE id = ? AND status IN ('dead', 'expired')",
            (delivery_id,),
        ).fetchone()
        if row is None or (tenant is not None and row[2] != tenant):
            return False
        head = not _active_groups(conn, {(row[0], row[1])})
        conn.execute(
            "UPDATE deliveries SET status = 'pending', head = ?, attempts = 0, next_at = ?, "
            "expires_at = ?, finished_at = NULL, dead_reason = '' WHERE id = ?",
            (head, now, replay_expiry(row[3], row[4], now), delivery_id),
        )
        return True


def expedite(conn: sqlite3.Connection, delivery_id: int, now: float, tenant: str | None) -> bool:
    with _tx(conn, durable=True):
        sql = "UPDATE deliveries SET next_at = min(next_at, ?) WHERE id = ? AND status = 'pending'"
        args: list[Any] = [now, delivery_id]
        if tenant is not None:
            sql, args = sql + " AND tenant = ?", [*args, tenant]
        return conn.execute(sql, args).rowcount > 0


def replay(
    conn: sqlite3.Connection,
    now: float,
    sub_id: str | None,
    since: float | None,
    until: float | None,
    tenant: str | None,
    limit: int,
    call_id: str | None = None,
) -> int:
    stmt, args = sql.replay_source(sub_id, since, until, tenant, limit, call_id)
    with _tx(conn, durable=True):
        rows = conn.execute(stmt, args).fetchall()
        old = [delivery_from_row(r, loads) for r in rows]
        taken = _active_groups(conn, {(d.subscription_id, d.order_key) for d in old})
        new = []
        for d in old:
            group = (d.subscription_id, d.order_key)
            head = group not in taken
            taken.add(group)
            new.append(
                (
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
            )
        conn.executemany(_INSERT_DELIVERY, new)
        return len(new)


# ---------------------------------------------------------------- queries (reader)
def get_delivery(
    conn: sqlite3.Connection, delivery_id: int, tenant: str | None
) -> tuple[Delivery, list[Attempt]] | None:
    row = conn.execute(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
    if row is None or (tenant is not None and row[3] != tenant):
        return None
    attempts = conn.execute(
        f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? ORDER BY id", (delivery_id,)
    ).fetchall()
    return delivery_from_row(row, loads), [attempt_from_row(a, loads) for a in attempts]


def list_deliveries(conn: sqlite3.Connection, dq: DeliveryQuery) -> Page[Delivery]:
    stmt, args = sql.deliveries(dq)
    rows = conn.execute(stmt, args).fetchall()
    items = [delivery_from_row(r, loads) for r in rows[: dq.limit]]
    return Page(items, str(items[-1].id) if len(rows) > dq.limit else None)


def list_events(conn: sqlite3.Connection, eq: EventQuery) -> Page[Event]:
    stmt, args = sql.events(eq)
    rows = conn.execute(stmt, args).fetchall()
    items = [event_from_dict(loads(r[0])) for r in rows[: eq.limit]]
    return Page(items, items[-1].id if len(rows) > eq.limit else None)


def call_events(conn: sqlite3.Connection, call_id: str, tenant: str | None) -> list[Event]:
    stmt, args = sql.call_events(call_id, tenant)
    return [event_from_dict(loads(r[0])) for r in conn.execute(stmt, args)]


def counts(conn: sqlite3.Connection, sub_id: str | None = None) -> Counts:
    one = "" if sub_id is None else " AND subscription_id = ?"
    args = () if sub_id is None else (sub_id,)
    by = dict(
        conn.execute(
            f"SELECT status, count(*) FROM deliveries WHERE status IN ('pending', 'inflight'){one} GROUP BY status",
            args,
        ).fetchall()
    )
    by.update(
        conn.execute(
            f"SELECT status, count(*) FROM deliveries WHERE status IN ('dead', 'expired'){one} GROUP BY status", args
        ).fetchall()
    )
    return Counts(by.get("pending", 0), by.get("inflight", 0), by.get("dead", 0), by.get("expired", 0))


def subscription_stats(conn: sqlite3.Connection, sub_id: str, since: float) -> SubscriptionStats:
    rows = conn.execute(
        "SELECT status, duration_ms, error, at FROM attempts WHERE subscription_id = ? AND at >= ?", (sub_id, since)
    ).fetchall()
    return stats_from_attempts(rows)


# ---------------------------------------------------------------- missed-call marks
def put_missed_mark(conn: sqlite3.Connection, m: MissedMark) -> None:
    with _tx(conn, durable=True):
        conn.execute(
            "INSERT INTO missed_marks (tenant, number, at, done_by) VALUES (?, ?, ?, ?) ON CONFLICT (tenant, number) "
            "DO UPDATE SET at = excluded.at, done_by = excluded.done_by",
            (m.tenant, m.number, m.at, m.by),
        )


def list_missed_marks(conn: sqlite3.Connection, tenant: str | None) -> list[MissedMark]:
    sql = "SELECT tenant, number, at, done_by FROM missed_marks"
    args: tuple[str, ...] = ()
    if tenant is not None:
        sql, args = sql + " WHERE tenant = ?", (tenant,)
    return [MissedMark(*r) for r in conn.execute(sql + " ORDER BY tenant, number", args)]

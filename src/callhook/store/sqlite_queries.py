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
    sql = f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM subscriptions WHERE 1 = 1"
    args: list[Any] = []
    if sub_id is not None:
        sql, args = sql + " AND id = ?", [*args, sub_id]
    if tenant is not None:
        sql, args = sql + " AND tenant = ?", [*args, tenant]
    rows = conn.execute(sql + " ORDER BY id", args).fetchall()
    return [subscription_from_row(dict(zip(SUBSCRIPTION_COLUMNS, r, strict=True)), loads, with_secrets) for r in rows]


def delete_subscription(conn: sqlite3.Connection, sub_id: str, tenant: str | None) -> bool:
    with _tx(conn, durable=True):
        if tenant is None:
            cur = conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,))
        else:
            cur = conn.execute("DELETE FROM subscriptions WHERE id = ? AND tenant = ?", (sub_id, tenant))
        return cur.rowcount > 0


def set_enabled(conn: sqlite3.Connection, sub_id: str, enabled: bool, now: float) -> bool:
    with _tx(conn, durable=True):
        cur = conn.execute("UPDATE subscriptions SET enabled = ?, updated_at = ? WHERE id = ?", (enabled, now, sub_id))
        return cur.rowcount > 0


# ---------------------------------------------------------------- outbox
_GROUP_ACTIVE = (
    "SELECT 1 FROM deliveries WHERE subscription_id = ? AND order_key = ? AND status IN ('pending', 'inflight') LIMIT 1"
)
_INSERT_DELIVERY = (
    "INSERT INTO deliveries (event_id, subscription_id, tenant, order_key, status, head, next_at, expires_at, "
    "method, url, headers, body, last_error, created_at, finished_at, replay_of) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class _Heads:
    """Whether a new delivery is its group's head: only if the group has no active row."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._active: set[tuple[str, str]] = set()

    def take(self, sub_id: str, key: str) -> bool:
        group = (sub_id, key)
        if group in self._active:
            return False
        self._active.add(group)
        return self._conn.execute(_GROUP_ACTIVE, group).fetchone() is None


def append(conn: sqlite3.Connection, items: Sequence[NewEvent], now: float) -> int:
    with _tx(conn, durable=True):
        seen: set[str] = set()
        ids = [i.event.id for i in items]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            seen.update(r[0] for r in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", chunk))
        heads = _Heads(conn)
        ev_rows, d_rows = [], []
        for item in items:
            ev = item.event
            if ev.id in seen:
                continue
            seen.add(ev.id)
            ev_rows.append(
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
            )
            for d in item.deliveries:
                final = d.status in FINAL
                head = False if final else heads.take(d.subscription_id, d.order_key)
                r = d.request
                d_rows.append(
                    (
                        ev.id,
                        d.subscription_id,
                        d.tenant,
                        d.order_key,
                        d.status.value,
                        head,
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
        conn.executemany(
            "INSERT INTO events (id, type, ts, tenant, call_id, seq, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ev_rows,
        )
        conn.executemany(_INSERT_DELIVERY, d_rows)
        return len(d_rows)


def reset_inflight(conn: sqlite3.Connection) -> None:
    with _tx(conn):
        conn.execute(
            "UPDATE deliveries SET status = 'pending', lease_id = NULL, lease_until = NULL WHERE status = 'inflight'"
        )


def claim(conn: sqlite3.Connection, now: float, limit: int, lease_until: float, lease_id: str) -> list[Delivery]:
    with _tx(conn):
        rows = conn.execute(
            "UPDATE deliveries SET status = 'inflight', lease_id = ?, lease_until = ? WHERE id IN ("
            " SELECT id FROM deliveries WHERE status = 'pending' AND head = 1 AND next_at <= ?"
            f" ORDER BY next_at LIMIT ?) RETURNING {DELIVERY_COLUMNS}",
            (lease_id, lease_until, now, limit),
        ).fetchall()
    return sorted((delivery_from_row(r, loads) for r in rows), key=lambda d: (d.next_at, d.id))


_PROMOTE = (
    "UPDATE deliveries SET head = 1 WHERE id = (SELECT min(id) FROM deliveries WHERE subscription_id = ? "
    "AND order_key = ? AND status IN ('pending', 'inflight')) AND head = 0"
)


def finish(conn: sqlite3.Connection, items: Sequence[Finish], now: float) -> tuple[int, int]:
    applied = promoted = 0
    with _tx(conn):
        attempts = [attempt_row(f.attempt, dumps) for f in items if f.attempt is not None]
        if attempts:
            conn.executemany(
                f"INSERT INTO attempts ({ATTEMPT_COLUMNS.removeprefix('id, ')}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                attempts,
            )
        for f in items:
            if f.disable_subscription:
                conn.execute(
                    "UPDATE subscriptions SET enabled = 0, updated_at = ? WHERE id = ?", (now, f.disable_subscription)
                )
            final = f.status in FINAL
            row = conn.execute(
                "UPDATE deliveries SET status = ?, head = ?, attempts = attempts + ?, next_at = coalesce(?, next_at), "
                "lease_id = NULL, lease_until = NULL, last_error = ?, last_status = ?, finished_at = ? "
                "WHERE id = ? AND status = 'inflight' AND lease_id = ? RETURNING subscription_id, order_key",
                (
                    f.status.value,
                    not final,
                    f.attempt is not None,
                    f.next_at,
                    f.last_error,
                    f.last_status,
                    now if final else None,
                    f.delivery_id,
                    f.lease_id,
                ),
            ).fetchone()
            if row is None:
                continue
            applied += 1
            if final:
                promoted += conn.execute(_PROMOTE, row).rowcount
    return applied, promoted


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
        head = _Heads(conn).take(row[0], row[1])
        conn.execute(
            "UPDATE deliveries SET status = 'pending', head = ?, attempts = 0, next_at = ?, "
            "expires_at = ?, finished_at = NULL WHERE id = ?",
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


def _scope(
    sub_id: str | None, tenant: str | None, since: float | None, until: float | None, where: list[str], args: list[Any]
) -> None:
    for cond, value in (
        ("subscription_id = ?", sub_id),
        ("tenant = ?", tenant),
        ("created_at >= ?", since),
        ("created_at < ?", until),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)


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
    where: list[str] = ["status IN ('done', 'dead', 'expired')"]
    args: list[Any] = []
    _scope(sub_id, tenant, since, until, where, args)
    if call_id is not None:
        where.append("event_id IN (SELECT id FROM events WHERE call_id = ?)")
        args.append(call_id)
    with _tx(conn, durable=True):
        rows = conn.execute(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)} ORDER BY id LIMIT ?", (*args, limit)
        ).fetchall()
        heads = _Heads(conn)
        new = []
        for r in rows:
            d = delivery_from_row(r, loads)
            new.append(
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
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    _scope(dq.subscription_id, dq.tenant, dq.since, dq.until, where, args)
    for cond, value in (
        ("status = ?", dq.status),
        ("event_id = ?", dq.event_id),
        ("id < ?", dq.before_id),
        ("event_id IN (SELECT id FROM events WHERE call_id = ?)", dq.call_id),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    rows = conn.execute(
        f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
        (*args, dq.limit + 1),
    ).fetchall()
    items = [delivery_from_row(r, loads) for r in rows[: dq.limit]]
    return Page(items, str(items[-1].id) if len(rows) > dq.limit else None)


def list_events(conn: sqlite3.Connection, eq: EventQuery) -> Page[Event]:
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    for cond, value in (
        ("tenant = ?", eq.tenant),
        ("type = ?", eq.type),
        ("call_id = ?", eq.call_id),
        ("ts >= ?", eq.since),
        ("ts < ?", eq.until),
        ("id < ?", eq.before_id),
    ):
        if value is not None:
            where.append(cond)
            args.append(value)
    rows = conn.execute(
        f"SELECT body FROM events WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", (*args, eq.limit + 1)
    ).fetchall()
    items = [event_from_dict(loads(r[0])) for r in rows[: eq.limit]]
    return Page(items, items[-1].id if len(rows) > eq.limit else None)


def call_events(conn: sqlite3.Connection, call_id: str, tenant: str | None) -> list[Event]:
    sql, args = "SELECT body FROM events WHERE call_id = ?", [call_id]
    if tenant is not None:
        sql, args = sql + " AND tenant = ?", [*args, tenant]
    return [event_from_dict(loads(r[0])) for r in conn.execute(sql + " ORDER BY seq, id", args)]


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

"""The SQL both backends share, written once: the queries of the delivery log, the
calls and the subscriptions, where SQLite and PostgreSQL speak the same SQL.

Statements are built with ``?`` placeholders from constant fragments (every value
is a bound parameter); :func:`pg` turns them into psycopg's ``%s``. What differs
per dialect -- the outbox's set-based statements (``json_each`` against
``unnest``), locking, RETURNING of inserted ids -- stays in ``sqlite_queries`` and
``postgres_queries``.
"""
# ruff: noqa: S608

from __future__ import annotations

from typing import Any

from callhook.store.base import DELIVERY_COLUMNS, SUBSCRIPTION_COLUMNS, DeliveryQuery, EventQuery

__all__ = ["call_events", "deliveries", "events", "pg", "replay_source", "subscriptions"]

Query = tuple[str, list[Any]]


def pg(sql: str) -> str:
    """The statement with psycopg's placeholders (the shared SQL has no literal ``?``)."""
    return sql.replace("?", "%s")


def _where(conds: list[tuple[str, Any]], base: tuple[str, ...] = ()) -> tuple[str, list[Any]]:
    where = list(base)
    args: list[Any] = []
    for cond, value in conds:
        if value is not None:
            where.append(cond)
            args.append(value)
    return " AND ".join(where) or "1 = 1", args


def _scope(sub_id: str | None, tenant: str | None, since: float | None, until: float | None) -> list[tuple[str, Any]]:
    return [
        ("subscription_id = ?", sub_id),
        ("tenant = ?", tenant),
        ("created_at >= ?", since),
        ("created_at < ?", until),
    ]


def subscriptions(sub_id: str | None, tenant: str | None) -> Query:
    where, args = _where([("id = ?", sub_id), ("tenant = ?", tenant)])
    return f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM subscriptions WHERE {where} ORDER BY id", args


def deliveries(dq: DeliveryQuery) -> Query:
    """One page of the delivery log, newest first, one row more than the page."""
    where, args = _where(
        [
            *_scope(dq.subscription_id, dq.tenant, dq.since, dq.until),
            ("status = ?", dq.status.value if dq.status is not None else None),
            ("event_id = ?", dq.event_id),
            ("id < ?", dq.before_id),
            ("event_id IN (SELECT id FROM events WHERE call_id = ?)", dq.call_id),
        ]
    )
    return f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {where} ORDER BY id DESC LIMIT ?", [*args, dq.limit + 1]


def events(eq: EventQuery) -> Query:
    """One page of stored events, newest first, one row more than the page."""
    where, args = _where(
        [
            ("tenant = ?", eq.tenant),
            ("type = ?", eq.type),
            ("call_id = ?", eq.call_id),
            ("ts >= ?", eq.since),
            ("ts < ?", eq.until),
            ("id < ?", eq.before_id),
        ]
    )
    return f"SELECT body FROM events WHERE {where} ORDER BY id DESC LIMIT ?", [*args, eq.limit + 1]


def call_events(call_id: str, tenant: str | None) -> Query:
    where, args = _where([("call_id = ?", call_id), ("tenant = ?", tenant)])
    return f"SELECT body FROM events WHERE {where} ORDER BY seq, id", args


def replay_source(
    sub_id: str | None, since: float | None, until: float | None, tenant: str | None, limit: int, call_id: str | None
) -> Query:
    """The finished deliveries a replay re-queues, oldest first."""
    where, args = _where(
        [
            *_scope(sub_id, tenant, since, until),
            ("event_id IN (SELECT id FROM events WHERE call_id = ?)", call_id),
        ],
        base=("status IN ('done', 'dead', 'expired')",),
    )
    return f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE {where} ORDER BY id LIMIT ?", [*args, limit]

"""Reporting tables: call records and queue visits as plain SQL rows (docs/reporting.md).

Filled by the store's ``append``, in the same commit as the events they come from, so
a BI tool or ``psql`` reads the same facts as the event log:

``report_calls``
    one row per ``call.record`` event (the CDR callhook builds when a call ended).
``report_queue_visits``
    one row per (call, queue) stay, the same visits as the statistics API's queue
    figures (:mod:`callhook.core.stats`): opened by ``queue.joined`` (a re-join
    replaces it), ``wait`` set by the first ``queue.bridged`` or a successful
    ``queue.left``, ``talk`` by a successful ``queue.left``, ``abandoned`` when it
    left abandoned before being answered. Events of one commit are applied in (time,
    sequence) order; a visit's events arrive in order across commits as the PBX
    sends them.

The same SQL serves SQLite and PostgreSQL (``?`` placeholders; :func:`callhook.store.sql.pg`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from callhook.core.events import Event, EventType

__all__ = ["CALL_INSERT", "apply_sql", "call_rows", "visit_steps"]

CALL_INSERT = (
    "INSERT INTO report_calls (event_id, tenant, call_id, start_at, answer_at, end_at, duration, billsec, "
    "disposition, answered_by, source, destination, caller_num, called_num, direction) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING"
)

_JOIN = (
    "INSERT INTO report_queue_visits (tenant, call_id, queue, joined_at, wait, talk, abandoned) "
    "VALUES (?, ?, ?, ?, NULL, NULL, 0) ON CONFLICT (call_id, queue) DO UPDATE SET "
    "tenant = excluded.tenant, joined_at = excluded.joined_at, wait = NULL, talk = NULL, abandoned = 0"
)
_BRIDGED = "UPDATE report_queue_visits SET wait = coalesce(wait, ?) WHERE call_id = ? AND queue = ?"
_LEFT_OK = "UPDATE report_queue_visits SET wait = coalesce(wait, ?), talk = ? WHERE call_id = ? AND queue = ?"
_LEFT_ABANDONED = "UPDATE report_queue_visits SET abandoned = 1 WHERE call_id = ? AND queue = ? AND wait IS NULL"


def call_rows(events: Iterable[Event]) -> list[tuple[Any, ...]]:
    """``report_calls`` rows of the call.record events among ``events``."""
    out = []
    for ev in events:
        r = ev.record
        if ev.type is not EventType.CALL_RECORD or r is None:
            continue
        p = ev.party
        out.append(
            (
                ev.id,
                ev.tenant,
                ev.call_id,
                r.start.timestamp(),
                r.answer.timestamp() if r.answer is not None else None,
                r.end.timestamp(),
                r.duration,
                r.billsec,
                r.disposition,
                r.answered_by,
                r.source,
                r.destination,
                p.caller_num,
                p.called_num,
                p.direction.value if p.direction is not None else "",
            )
        )
    return out


def visit_steps(events: Iterable[Event]) -> list[tuple[str, tuple[Any, ...]]]:
    """The statements (and their values) that apply ``events`` to ``report_queue_visits``,
    in (time, sequence) order, as :func:`callhook.core.stats` reads the visits."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    for ev in sorted(events, key=lambda e: (e.ts, e.call_id, e.seq, e.id)):
        if not ev.type.is_queue or not ev.queue:
            continue
        call = ev.call_id or ev.id
        qc = ev.queue_call
        if ev.type is EventType.QUEUE_JOINED:
            out.append((_JOIN, (ev.tenant, call, ev.queue, ev.ts.timestamp())))
        elif ev.type is EventType.QUEUE_BRIDGED:
            out.append((_BRIDGED, (qc.wait if qc is not None else 0.0, call, ev.queue)))
        elif ev.type is EventType.QUEUE_LEFT and qc is not None:
            if qc.cc_result == "success":
                out.append((_LEFT_OK, (qc.wait, qc.call_voice_sec, call, ev.queue)))
            elif qc.cc_result == "abandoned":
                out.append((_LEFT_ABANDONED, (call, ev.queue)))
    return out


def apply_sql(events: Sequence[Event]) -> tuple[list[tuple[Any, ...]], list[tuple[str, tuple[Any, ...]]]]:
    """(report_calls rows, queue-visit statements) for the fresh events of a commit."""
    return call_rows(events), visit_steps(events)

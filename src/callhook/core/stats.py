"""Call-centre statistics from stored events: queue figures and the missed calls to call back.

Pure: events in, values out; the caller chooses the events (a time range of the
event log) and the clock never enters. Events may come in any order; they are
sorted by (time, sequence) first.

Queue figures
    A *visit* is one call's stay in one queue, keyed by (call id, queue) and opened
    by ``queue.joined``; only visits opened in the given events count (a call that
    joined before the range is not offered in it).

    =============  ==============================================================
    offered        visits
    answered       visits bridged to an agent (``queue.bridged``, or ``queue.left``
                   with ``cc_result`` success)
    abandoned      visits that left with ``cc_result`` abandoned (the caller hung up)
    service level  answered within N seconds of joining / offered; N is the queue's
                   ``service_level`` from the directory unless overridden
    ASA            average wait (join -> bridge) of the answered visits
    AHT            average talk (bridge -> leave) of the answered visits that left
    abandon rate   abandoned / offered
    =============  ==============================================================

Missed calls to call back
    Incoming calls (``call.ended``, direction incoming) that nobody answered, grouped
    by (tenant, caller number). A later answered call with that number, in either
    direction (it called again and got through, or somebody called it back), clears
    the number's earlier missed calls. Anonymous callers cannot be called back and
    are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from callhook.core.events import Direction, Event, EventType

__all__ = ["MissedCall", "QueueStats", "missed_calls", "queue_stats"]


@dataclass(frozen=True, slots=True)
class QueueStats:
    queue: str
    offered: int
    answered: int
    abandoned: int
    answered_within: int
    service_level_seconds: int
    service_level: float | None  # None when nothing was offered
    asa: float | None  # seconds; None when nothing was answered
    aht: float | None  # seconds; None when no answered visit has ended
    abandon_rate: float | None


@dataclass(frozen=True, slots=True)
class MissedCall:
    tenant: str
    number: str
    count: int
    first: datetime
    last: datetime
    call_ids: tuple[str, ...]
    queue: str = ""  # the queue of the last missed call, if it went through one


@dataclass(slots=True)
class _Visit:
    queue: str
    wait: float | None = None  # set when answered
    talk: float | None = None  # set when an answered visit left
    abandoned: bool = False


def _ordered(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (e.ts, e.call_id, e.seq, e.id))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _visits(events: Iterable[Event]) -> list[_Visit]:
    visits: dict[tuple[str, str], _Visit] = {}
    for ev in _ordered(events):
        if not ev.type.is_queue or not ev.queue:
            continue
        key = (ev.call_id or ev.id, ev.queue)
        if ev.type is EventType.QUEUE_JOINED:
            visits[key] = _Visit(ev.queue)
            continue
        v = visits.get(key)
        if v is None:
            continue  # joined before the range
        qc = ev.queue_call
        if ev.type is EventType.QUEUE_BRIDGED and v.wait is None:
            v.wait = qc.wait if qc is not None else 0.0
        elif ev.type is EventType.QUEUE_LEFT and qc is not None:
            if qc.cc_result == "success":
                if v.wait is None:
                    v.wait = qc.wait
                v.talk = qc.call_bill_sec
            elif qc.cc_result == "abandoned" and v.wait is None:
                v.abandoned = True
    return list(visits.values())


def queue_stats(events: Iterable[Event], service_levels: Mapping[str, int], *, default_level: int = 20,
                override: int | None = None, queues: Iterable[str] = ()) -> list[QueueStats]:
    """Figures per queue, sorted by name; ``queues`` are listed even with no visit.

    ``service_levels`` maps a queue to its threshold in seconds (the directory's);
    ``override`` replaces every queue's threshold.
    """
    by_queue: dict[str, list[_Visit]] = {q: [] for q in queues}
    for v in _visits(events):
        by_queue.setdefault(v.queue, []).append(v)
    out = []
    for name in sorted(by_queue):
        visits = by_queue[name]
        level = override if override is not None else service_levels.get(name, default_level)
        answered = [v for v in visits if v.wait is not None]
        waits = [v.wait for v in answered if v.wait is not None]
        talks = [v.talk for v in answered if v.talk is not None]
        within = sum(1 for w in waits if w <= level)
        abandoned = sum(1 for v in visits if v.abandoned)
        out.append(QueueStats(
            queue=name, offered=len(visits), answered=len(answered), abandoned=abandoned, answered_within=within,
            service_level_seconds=level, service_level=_ratio(within, len(visits)), asa=_mean(waits),
            aht=_mean(talks), abandon_rate=_ratio(abandoned, len(visits)),
        ))
    return out


@dataclass(slots=True)
class _Missed:
    calls: list[Event] = field(default_factory=list)


def missed_calls(events: Iterable[Event]) -> list[MissedCall]:
    """Numbers to call back, the most recent missed call first."""
    open_: dict[tuple[str, str], _Missed] = {}
    for ev in _ordered(events):
        if ev.type is not EventType.CALL_ENDED or ev.outcome is None:
            continue
        p = ev.party
        if ev.outcome.answered:
            for number in (p.caller_num, p.called_num):
                open_.pop((ev.tenant, number), None)
        elif p.direction is Direction.INCOMING and p.caller_num:
            open_.setdefault((ev.tenant, p.caller_num), _Missed()).calls.append(ev)
    out = [
        MissedCall(tenant=tenant, number=number, count=len(m.calls), first=m.calls[0].ts, last=m.calls[-1].ts,
                   call_ids=tuple(e.call_id for e in m.calls), queue=m.calls[-1].queue)
        for (tenant, number), m in open_.items() if m.calls
    ]
    out.sort(key=lambda m: (m.last, m.number), reverse=True)
    return out

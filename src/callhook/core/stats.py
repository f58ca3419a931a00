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

    Buckets (:func:`queue_stats_buckets`): each visit counts in the bucket it joined
    in, with its whole outcome (a call that joined at 10:59 and was answered at 11:01
    is answered in the 10:00 bucket), so the buckets add up to the whole range.

Missed calls to call back
    Incoming calls that no person answered (``call.ended`` with ``outcome.missed``:
    VOIPEX's "No user response"; a ring-all leg answered elsewhere is not missed),
    grouped by (tenant, caller number). A later answered call with that number, in
    either direction (it called again and got through, or somebody called it back),
    clears the number's earlier missed calls; so does a mark "done" by hand, for the
    calls up to its time. Anonymous callers cannot be called back and are left out.

Agents (:func:`agent_stats`)
    Per extension: *answered* is the calls in which the extension's own phone
    answered (``call.answered`` or ``call.pickup`` of its leg); *missed* is the calls
    its phone rang in (``call.ringing``) that ended missed (nobody answered them).

Agents per queue (:func:`agent_queue_stats`)
    Per (extension, queue), over the visits of :func:`queue_stats`: *answered* is the
    visits bridged to the extension (``queue.bridged``, or ``queue.left`` with
    success, naming the agent's leg), so the answered of a queue's agents add up to
    the queue's answered; *missed* is the visits offered to it (``queue.offered``)
    that left the queue unanswered by anybody (abandoned or timed out).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from callhook.core.events import Direction, Event, EventType

__all__ = [
    "AgentDay",
    "AgentQueueDay",
    "MissedCall",
    "QueueStats",
    "agent_queue_stats",
    "agent_stats",
    "missed_calls",
    "queue_stats",
    "queue_stats_buckets",
]


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


@dataclass(frozen=True, slots=True)
class AgentDay:
    extension: str
    answered: int
    missed: int


@dataclass(frozen=True, slots=True)
class AgentQueueDay:
    extension: str
    queue: str
    answered: int
    missed: int


@dataclass(slots=True)
class _Visit:
    queue: str
    joined: datetime
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
            visits[key] = _Visit(ev.queue, ev.ts)
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
                v.talk = qc.call_voice_sec  # seed 002: talk with the agent (bill also counts an IVR)
            elif qc.cc_result == "abandoned" and v.wait is None:
                v.abandoned = True
    return list(visits.values())


def _figures(name: str, visits: list[_Visit], level: int) -> QueueStats:
    answered = [v for v in visits if v.wait is not None]
    waits = [v.wait for v in answered if v.wait is not None]
    talks = [v.talk for v in answered if v.talk is not None]
    within = sum(1 for w in waits if w <= level)
    abandoned = sum(1 for v in visits if v.abandoned)
    return QueueStats(
        queue=name,
        offered=len(visits),
        answered=len(answered),
        abandoned=abandoned,
        answered_within=within,
        service_level_seconds=level,
        service_level=_ratio(within, len(visits)),
        asa=_mean(waits),
        aht=_mean(talks),
        abandon_rate=_ratio(abandoned, len(visits)),
    )


def _by_queue(
    visits: Iterable[_Visit],
    service_levels: Mapping[str, int],
    default_level: int,
    override: int | None,
    queues: Iterable[str],
) -> list[QueueStats]:
    by_queue: dict[str, list[_Visit]] = {q: [] for q in queues}
    for v in visits:
        by_queue.setdefault(v.queue, []).append(v)
    return [
        _figures(name, by_queue[name], override if override is not None else service_levels.get(name, default_level))
        for name in sorted(by_queue)
    ]


def queue_stats(
    events: Iterable[Event],
    service_levels: Mapping[str, int],
    *,
    default_level: int = 20,
    override: int | None = None,
    queues: Iterable[str] = (),
) -> list[QueueStats]:
    """Figures per queue, sorted by name; ``queues`` are listed even with no visit.

    ``service_levels`` maps a queue to its threshold in seconds (the directory's);
    ``override`` replaces every queue's threshold.
    """
    return _by_queue(_visits(events), service_levels, default_level, override, queues)


def queue_stats_buckets(
    events: Iterable[Event],
    edges: Sequence[datetime],
    service_levels: Mapping[str, int],
    *,
    default_level: int = 20,
    override: int | None = None,
    queues: Iterable[str] = (),
) -> list[list[QueueStats]]:
    """Figures per bucket ``[edges[i], edges[i+1])`` (``len(edges) - 1`` of them) by join time.

    Visits that joined outside ``[edges[0], edges[-1])`` are left out.
    """
    names = list(queues)
    slots: list[list[_Visit]] = [[] for _ in range(max(0, len(edges) - 1))]
    for v in _visits(events):
        i = bisect_right(edges, v.joined) - 1
        if 0 <= i < len(slots):
            slots[i].append(v)
    return [_by_queue(vs, service_levels, default_level, override, names) for vs in slots]


@dataclass(slots=True)
class _Missed:
    calls: list[Event] = field(default_factory=list)


def missed_calls(events: Iterable[Event], marks: Mapping[tuple[str, str], datetime] | None = None) -> list[MissedCall]:
    """Numbers to call back, the most recent missed call first.

    ``marks`` maps (tenant, number) to the time it was marked done by hand: its
    missed calls up to then are left out.
    """
    open_: dict[tuple[str, str], _Missed] = {}
    for ev in _ordered(events):
        if ev.type is not EventType.CALL_ENDED or ev.outcome is None:
            continue
        p = ev.party
        if ev.outcome.missed:
            if p.direction is Direction.INCOMING and p.caller_num:
                open_.setdefault((ev.tenant, p.caller_num), _Missed()).calls.append(ev)
        elif ev.outcome.answered:
            for number in (p.caller_num, p.called_num):
                open_.pop((ev.tenant, number), None)
    done = marks or {}
    out = []
    for (tenant, number), m in open_.items():
        mark = done.get((tenant, number))
        calls = [e for e in m.calls if mark is None or e.ts > mark]
        if calls:
            out.append(
                MissedCall(
                    tenant=tenant,
                    number=number,
                    count=len(calls),
                    first=calls[0].ts,
                    last=calls[-1].ts,
                    call_ids=tuple(e.call_id for e in calls),
                    queue=calls[-1].queue,
                )
            )
    out.sort(key=lambda m: (m.last, m.number), reverse=True)
    return out


def agent_stats(events: Iterable[Event]) -> list[AgentDay]:
    """Calls answered and missed per extension (see the module docstring), by extension."""
    rang: dict[str, set[str]] = {}
    answered: dict[str, set[str]] = {}
    missed: dict[str, set[str]] = {}
    for ev in _ordered(events):
        leg = ev.leg
        if leg is not None and leg.number and not leg.external:
            if ev.type is EventType.CALL_RINGING:
                rang.setdefault(ev.call_id, set()).add(leg.number)
            elif ev.type in (EventType.CALL_ANSWERED, EventType.CALL_PICKUP):
                answered.setdefault(leg.number, set()).add(ev.call_id)
        if ev.type is EventType.CALL_ENDED and ev.outcome is not None and ev.outcome.missed:
            for number in rang.get(ev.call_id, ()):
                missed.setdefault(number, set()).add(ev.call_id)
    return [AgentDay(n, len(answered.get(n, ())), len(missed.get(n, ()))) for n in sorted(set(answered) | set(missed))]


@dataclass(slots=True)
class _AgentVisit:
    offered: set[str] = field(default_factory=set)
    answered_by: str = ""
    left_unanswered: bool = False


def agent_queue_stats(events: Iterable[Event]) -> list[AgentQueueDay]:
    """Answered and missed visits per (extension, queue) (see the module docstring), sorted."""
    visits: dict[tuple[str, str], _AgentVisit] = {}
    for ev in _ordered(events):
        if not ev.type.is_queue or not ev.queue:
            continue
        key = (ev.call_id or ev.id, ev.queue)
        if ev.type is EventType.QUEUE_JOINED:
            visits[key] = _AgentVisit()
            continue
        v = visits.get(key)
        if v is None:
            continue  # joined before the range
        number = ev.leg.number if ev.leg is not None and not ev.leg.external else ""
        if ev.type is EventType.QUEUE_OFFERED and number:
            v.offered.add(number)
        elif ev.type is EventType.QUEUE_BRIDGED and number and not v.answered_by:
            v.answered_by = number
        elif ev.type is EventType.QUEUE_LEFT:
            qc = ev.queue_call
            if qc is not None and qc.cc_result == "success":
                v.answered_by = v.answered_by or number
            elif not v.answered_by:
                v.left_unanswered = True
    answered: dict[tuple[str, str], int] = {}
    missed: dict[tuple[str, str], int] = {}
    for (_, queue), v in visits.items():
        if v.answered_by:
            answered[(v.answered_by, queue)] = answered.get((v.answered_by, queue), 0) + 1
        elif v.left_unanswered:
            for number in v.offered:
                missed[(number, queue)] = missed.get((number, queue), 0) + 1
    return [
        AgentQueueDay(ext, queue, answered.get((ext, queue), 0), missed.get((ext, queue), 0))
        for ext, queue in sorted(set(answered) | set(missed))
    ]

"""Agent time reports per day and queue (the qpanel / QueueMetrics staples). Pure.

Per (day, extension, queue), in seconds, over the events given and the range
[start, end):

==============  ==============================================================
login           logged in to the queue: ``agent.login`` to ``agent.logout`` (an
                agent still logged in counts up to ``end``; one logged in before
                the first event of the range is not known to be and is not counted)
paused          per pause reason: ``agent.paused`` to ``agent.unpaused`` (or the
                logout), within its login (reason ``""`` when the PBX gave none)
talk            ``queue.bridged`` to ``queue.left`` of the calls the extension took
                from the queue (or to its logout / ``end``), within its login
idle            login - paused - talk (not below 0): logged in, available, no call
==============  ==============================================================

Each interval is split at the days' midnights in the given time zone, so the days
add up to the whole range. An agent event without a queue stands for all of that
agent's queues only when it is a logout (Asterisk's logoff from every queue);
otherwise it is its own queue ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from callhook.core.events import Event, EventType

__all__ = ["AgentTime", "agent_time"]


@dataclass(slots=True)
class AgentTime:
    day: date
    extension: str
    queue: str
    login: float = 0.0
    paused: dict[str, float] = field(default_factory=dict)  # by pause reason
    talk: float = 0.0

    @property
    def paused_total(self) -> float:
        return sum(self.paused.values())

    @property
    def idle(self) -> float:
        return max(0.0, self.login - self.paused_total - self.talk)


def _split(a: datetime, b: datetime, tz: tzinfo) -> Iterable[tuple[date, float]]:
    """(day, seconds) of [a, b) cut at the midnights of ``tz``."""
    a, b = a.astimezone(tz), b.astimezone(tz)
    while a < b:
        midnight = datetime.combine(a.date() + timedelta(days=1), datetime.min.time(), tz)
        cut = min(b, midnight)
        yield a.date(), (cut - a).total_seconds()
        a = cut


@dataclass(slots=True)
class _Session:
    since: datetime
    pause: tuple[datetime, str] | None = None
    talks: dict[str, datetime] = field(default_factory=dict)  # call id -> bridged at


def agent_time(events: Iterable[Event], start: datetime, end: datetime, tz: tzinfo) -> list[AgentTime]:
    """The report rows, sorted by (day, extension, queue)."""
    rows: dict[tuple[date, str, str], AgentTime] = {}
    sessions: dict[tuple[str, str], _Session] = {}  # (extension, queue) -> open login

    def add(ext: str, queue: str, a: datetime, b: datetime, what: str, reason: str = "") -> None:
        a, b = max(a, start), min(b, end)
        for day, secs in _split(a, b, tz):
            row = rows.setdefault((day, ext, queue), AgentTime(day, ext, queue))
            if what == "login":
                row.login += secs
            elif what == "talk":
                row.talk += secs
            else:
                row.paused[reason] = row.paused.get(reason, 0.0) + secs

    def close(ext: str, queue: str, at: datetime) -> None:
        s = sessions.pop((ext, queue), None)
        if s is None:
            return
        add(ext, queue, s.since, at, "login")
        if s.pause is not None:
            add(ext, queue, s.pause[0], at, "pause", s.pause[1])
        for bridged in s.talks.values():
            add(ext, queue, bridged, at, "talk")

    for ev in sorted(events, key=lambda e: (e.ts, e.seq, e.id)):
        if ev.type.is_agent and ev.agent is not None and ev.agent.number:
            ext, queue = ev.agent.number, ev.queue
            s = sessions.get((ext, queue))
            if ev.type is EventType.AGENT_LOGIN:
                if s is None:
                    sessions[(ext, queue)] = _Session(ev.ts)
            elif ev.type is EventType.AGENT_LOGOUT:
                for key in [k for k in sessions if k[0] == ext and (not queue or k[1] == queue)]:
                    close(key[0], key[1], ev.ts)
            elif ev.type is EventType.AGENT_PAUSED and s is not None and s.pause is None:
                s.pause = (ev.ts, ev.agent.pause_reason)
            elif ev.type is EventType.AGENT_UNPAUSED and s is not None and s.pause is not None:
                add(ext, queue, s.pause[0], ev.ts, "pause", s.pause[1])
                s.pause = None
        elif ev.type in (EventType.QUEUE_BRIDGED, EventType.QUEUE_LEFT) and ev.queue:
            leg = ev.leg
            number = leg.number if leg is not None and not leg.external else ""
            call = ev.call_id or ev.id
            if ev.type is EventType.QUEUE_BRIDGED:
                s = sessions.get((number, ev.queue)) if number else None
                if s is not None:
                    s.talks.setdefault(call, ev.ts)
            else:
                for (ext, queue), s in sessions.items():
                    if queue == ev.queue and call in s.talks:
                        add(ext, queue, s.talks.pop(call), ev.ts, "talk")
    for ext, queue in list(sessions):
        close(ext, queue, end)
    return [rows[k] for k in sorted(rows)]

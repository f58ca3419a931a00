"""``/api/v1/queues/stats`` and ``/api/v1/missed-calls``: call-centre figures over a time
range, computed by :mod:`callhook.core.stats` from the stored events.

The range defaults to the last 24 hours. At most ``MAX_EVENTS`` events of each type
are read; ``truncated`` says when a range held more (narrow it).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from callhook.api.agents import agents_seen, visible_queues
from callhook.api.auth import Auth, Principal
from callhook.api.paging import ERRORS, Since, Until, epoch, invalid
from callhook.core import stats
from callhook.core.events import Event, EventType
from callhook.store.base import EventQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["statistics"], responses=ERRORS)

MAX_EVENTS = 200_000


class QueueStatsOut(BaseModel):
    queue: str
    offered: int
    answered: int
    abandoned: int
    answered_within: int
    service_level_seconds: int
    service_level: float | None
    asa: float | None
    aht: float | None
    abandon_rate: float | None


class QueueStatsPage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    queues: list[QueueStatsOut]


class MissedCallOut(BaseModel):
    tenant: str
    number: str
    count: int
    first: datetime
    last: datetime
    call_ids: list[str]
    queue: str


class MissedCallsPage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    numbers: list[MissedCallOut]


def _range(request: Request, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    hub = request.app.state.hub
    until_ts, since_ts = epoch(request, until, "until"), epoch(request, since)
    end = datetime.fromtimestamp(hub.now() if until_ts is None else until_ts, hub.tz)
    try:
        start = end - timedelta(days=1) if since_ts is None else datetime.fromtimestamp(since_ts, hub.tz)
    except OverflowError:
        raise invalid("query", "until", "time out of range") from None
    return start, end


async def _events(store: Any, p: Principal, tenant: str | None, types: tuple[EventType, ...], start: datetime,
                  end: datetime) -> tuple[list[Event], bool]:
    out: list[Event] = []
    truncated = False
    for t in types:
        cursor: str | None = None
        read = 0
        while True:
            page = await store.list_events(EventQuery(tenant=p.scope(tenant), type=t.value, since=start.timestamp(),
                                                      until=end.timestamp(), before_id=cursor, limit=1000))
            out.extend(page.items)
            read += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
            if read >= MAX_EVENTS:
                truncated = True
                break
    return out, truncated


@router.get("/queues/stats", response_model=QueueStatsPage)
async def queue_stats(request: Request, p: Auth, since: Since = None, until: Until = None,
                      service_level: Annotated[int | None, Query(ge=1, le=3600, description="seconds; overrides "
                                                                 "every queue's")] = None,
                      tenant: Annotated[str | None, Query(max_length=256)] = None) -> QueueStatsPage:
    """Per queue: offered, answered, abandoned, service level, ASA, AHT, abandon rate."""
    hub = request.app.state.hub
    start, end = _range(request, since, until)
    events, truncated = await _events(hub.store, p, tenant, (EventType.QUEUE_JOINED, EventType.QUEUE_BRIDGED,
                                                             EventType.QUEUE_LEFT), start, end)
    queues = hub.directory.queues
    levels = {q.name: q.service_level for q in queues}
    names = [n for n in visible_queues(hub.directory, agents_seen(hub, p), p) if n in levels]
    result = stats.queue_stats(events, levels, override=service_level, queues=names)
    return QueueStatsPage(since=start, until=end, truncated=truncated,
                          queues=[QueueStatsOut.model_validate(s, from_attributes=True) for s in result])


@router.get("/missed-calls", response_model=MissedCallsPage)
async def missed_calls(request: Request, p: Auth, since: Since = None, until: Until = None,
                       tenant: Annotated[str | None, Query(max_length=256)] = None) -> MissedCallsPage:
    """Incoming calls nobody answered, by caller number, still not called back in the range."""
    hub = request.app.state.hub
    start, end = _range(request, since, until)
    events, truncated = await _events(hub.store, p, tenant, (EventType.CALL_ENDED,), start, end)
    numbers = [MissedCallOut(tenant=m.tenant, number=m.number, count=m.count, first=m.first, last=m.last,
                             call_ids=list(m.call_ids), queue=m.queue) for m in stats.missed_calls(events)]
    return MissedCallsPage(since=start, until=end, truncated=truncated, numbers=numbers)

"""``/api/v1/missed-calls``: the callers to call back, and marking one done by hand.

The list is :func:`callhook.core.stats.missed_calls` over the ``call.ended`` events of
the range (default: the last 24 hours): incoming calls no person answered, by
caller number, until a later answered call with that number (either direction)
clears them. ``POST /api/v1/missed-calls/{number}/done`` stores a mark (who,
when; one per tenant and number, in the store's ``missed_marks`` table): the
number's missed calls up to then leave the list, a later missed call brings it
back. ``done`` in the list answer shows the marks made in the range.

A number's ``queue`` is the queue its last missed call waited in, read from the
call's ``queue.joined`` events (the last queue it joined) when ``call.ended`` does
not name one. ``queue=NAME`` keeps only the missed calls that went through that
queue (an answered call with the number still clears it, whichever way it went).
The list is paged: ``limit`` numbers from ``offset`` (most recent missed call
first); ``total`` is how many numbers the filters found and ``queues`` the queues
their missed calls went through (for a filter menu).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.auth import Auth, Principal
from callhook.api.paging import ERRORS, Since, Until
from callhook.api.services import hub_of
from callhook.api.statistics import Tenant, events_in_range, stats_range
from callhook.core import stats
from callhook.core.events import Event, EventType
from callhook.store.base import MissedMark

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/missed-calls", tags=["statistics"], responses=ERRORS)


class MissedCallOut(BaseModel):
    tenant: str
    number: str
    count: int
    first: datetime
    last: datetime
    call_ids: list[str]
    queue: str


class DoneOut(BaseModel):
    tenant: str
    number: str
    at: datetime
    by: str


class MissedCallsPage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    numbers: list[MissedCallOut]
    total: int = Field(description="numbers to call back with these filters (all pages)")
    offset: int
    limit: int
    queues: list[str] = Field(default_factory=list, description="the queues of the missed calls in the range")
    done: list[DoneOut] = Field(default_factory=list, description="numbers marked done by hand in the range")


class DoneIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: Annotated[str, Field(max_length=256, description="admin only: whose caller (default: directory's)")] = ""
    by: Annotated[str, Field(max_length=128, description="who handled it (default: the signed-in name)")] = ""


Number = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z+*#._-]+$")]


def _done_out(m: MissedMark, tz: tzinfo) -> DoneOut:
    return DoneOut(tenant=m.tenant, number=m.number, at=datetime.fromtimestamp(m.at, tz), by=m.by)


QueueName = Annotated[str | None, Query(max_length=128, description="only missed calls that went through this queue")]
PageLimit = Annotated[int, Query(ge=1, le=1000, description="numbers per page")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="numbers to skip")]


def _with_queues(events: list[Event]) -> tuple[list[Event], list[str]]:
    """The ``call.ended`` events, each naming the queue its call last joined; and the queues."""
    joined: dict[str, tuple[datetime, str]] = {}
    for ev in events:
        if ev.type is EventType.QUEUE_JOINED and ev.queue and ev.call_id:
            had = joined.get(ev.call_id)
            if had is None or ev.ts >= had[0]:
                joined[ev.call_id] = (ev.ts, ev.queue)
    ended = []
    for ev in events:
        if ev.type is EventType.CALL_ENDED:
            if not ev.queue and ev.call_id in joined:
                ev = replace(ev, queue=joined[ev.call_id][1])
            ended.append(ev)
    queues = sorted({e.queue for e in ended if e.queue and e.outcome is not None and e.outcome.missed})
    return ended, queues


@router.get("", response_model=MissedCallsPage)
async def missed_calls(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    tenant: Tenant = None,
    queue: QueueName = None,
    limit: PageLimit = 1000,
    offset: Offset = 0,
) -> MissedCallsPage:
    """Incoming calls nobody answered, by caller number, still not called back (nor marked done) in the range."""
    hub = hub_of(request)
    start, end = stats_range(request, since, until)
    events, truncated = await events_in_range(
        hub.store, p, tenant, (EventType.CALL_ENDED, EventType.QUEUE_JOINED), start, end
    )
    ended, queues = _with_queues(events)
    if queue:
        ended = [e for e in ended if e.outcome is None or not e.outcome.missed or e.queue == queue]
    marks = await hub.store.list_missed_marks(tenant=p.scope(tenant))
    at = {(m.tenant, m.number): datetime.fromtimestamp(m.at, hub.tz) for m in marks}
    found = stats.missed_calls(ended, at)
    numbers = [
        MissedCallOut(
            tenant=m.tenant,
            number=m.number,
            count=m.count,
            first=m.first,
            last=m.last,
            call_ids=list(m.call_ids),
            queue=m.queue,
        )
        for m in found[offset : offset + limit]
    ]
    done = sorted((m for m in marks if start.timestamp() <= m.at < end.timestamp()), key=lambda m: -m.at)
    return MissedCallsPage(
        since=start,
        until=end,
        truncated=truncated,
        numbers=numbers,
        total=len(found),
        offset=offset,
        limit=limit,
        queues=queues,
        done=[_done_out(m, hub.tz) for m in done],
    )


def _who(request: Request, p: Principal, given: str) -> str:
    if given.strip():
        return given.strip()
    session = getattr(request.state, "session", None)
    if session is not None and session.name:
        return str(session.name)
    return "admin" if p.is_admin else f"tenant {p.tenant}"


@router.post("/{number}/done", response_model=DoneOut)
async def mark_done(number: Number, request: Request, p: Auth, body: DoneIn | None = None) -> DoneOut:
    """Mark a caller handled: its missed calls until now leave the call-back list."""
    hub = hub_of(request)
    body = body or DoneIn()
    if p.tenant is not None and body.tenant and body.tenant != p.tenant:
        raise HTTPException(status_code=403, detail="a tenant token marks only its own tenant's callers")
    tenant = p.tenant if p.tenant is not None else (body.tenant or hub.directory.tenant)
    mark = MissedMark(tenant=tenant, number=number, at=hub.now(), by=_who(request, p, body.by))
    await hub.store.put_missed_mark(mark)
    return _done_out(mark, hub.tz)

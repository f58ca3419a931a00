"""``/api/v1/calls``: live calls (the tracker's memory), ended calls and one call's timeline
(the stored events).

A live call's tenant is its calling extension's, else the first extension leg's, else
the directory's; stored events carry their own tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS, Before, Limit, PageOut, Since, Until, epoch, event_json, scan_events
from callhook.api.services import PbxFilter, hub_of, pbxes_of
from callhook.core.events import Event, EventType
from callhook.core.ingest_party import LiveCall
from callhook.core.tracker.machine import LegState, VisitState
from callhook.core.tracker.snapshot import CallView
from callhook.store.base import EventQuery

if TYPE_CHECKING:
    from callhook.pbx_link import PbxLink

__all__ = ["CallLive", "ingested_out", "live_out", "router"]

router = APIRouter(prefix="/api/v1/calls", tags=["calls"], responses=ERRORS)


class LegOut(BaseModel):
    extension: str
    name: str
    channel: str
    external: bool
    state: str  # ringing | talking | dialling
    on_hold: bool


class CallLive(BaseModel):
    call_id: str
    tenant: str
    start: datetime
    state: str
    caller_num: str
    caller_name: str
    called_num: str
    direction: str | None
    caller_type: str
    queue: str
    answered_by: str
    legs: list[LegOut]
    pbx: str = ""  # the PBX the call is on ("" for an ingested call)


class CallSummary(BaseModel):
    call_id: str
    tenant: str
    pbx: str = ""  # the PBX the call was on ("" for an ingested call)
    ended_at: datetime
    caller_num: str
    caller_name: str
    called_num: str
    direction: str | None
    caller_type: str
    answered: bool
    answering_exten: str
    missed: bool
    event_id: str


class CallTimeline(BaseModel):
    call_id: str
    live: CallLive | None
    events: list[dict[str, Any]]


def live_out(call: CallView, link: PbxLink | None = None) -> CallLive:
    """A live call as the API shows it, from the tracker's frozen snapshot."""
    legs = [
        LegOut(
            extension=leg.extension,
            name=leg.name,
            channel=leg.channel,
            external=leg.external,
            state=_LEG_STATE.get(leg.state, "dialling"),
            on_hold=leg.on_hold,
        )
        for leg in call.legs
    ]
    visit = call.visit
    queued = visit is not None and visit.state in (VisitState.WAITING, VisitState.CONNECTING)
    return CallLive(
        call_id=link.call_id(call.id) if link is not None else call.id,
        tenant=call.tenant,
        start=call.start,
        state=call.state,
        caller_num=call.caller_num,
        caller_name=call.caller_name,
        called_num=call.called_num,
        direction=call.direction,
        caller_type=call.caller_type,
        queue=visit.queue if visit is not None and queued else "",
        answered_by=call.answered_by,
        legs=legs,
        pbx=link.name if link is not None else "",
    )


_LEG_STATE = {LegState.RINGING: "ringing", LegState.ANSWERED: "talking", LegState.HELD: "talking"}


def ingested_out(call: LiveCall) -> CallLive:
    """An ingested call in progress (the ingest call model's frozen view)."""
    p = call.party
    return CallLive(
        call_id=call.call_id,
        tenant=call.tenant,
        start=call.start,
        state=call.state,
        caller_num=p.caller_num,
        caller_name=p.caller_name,
        called_num=p.called_num,
        direction=p.direction.value if p.direction else None,
        caller_type=p.caller_type,
        queue=call.queue,
        answered_by=call.answered_by,
        legs=[
            LegOut(extension=g.extension, name=g.name, channel="", external=g.external, state=g.state, on_hold=False)
            for g in call.legs
        ],
    )


def _outcomes(ev: Event) -> tuple[str, ...]:
    """The ``outcome`` filter values a call matches: a missed call is also unanswered."""
    o = ev.outcome
    if o is not None and o.answered:
        return ("answered",)
    return ("missed", "unanswered") if o is not None and o.missed else ("unanswered",)


def _summary(ev: Event) -> CallSummary:
    o, p = ev.outcome, ev.party
    return CallSummary(
        call_id=ev.call_id,
        tenant=ev.tenant,
        pbx=ev.pbx,
        ended_at=ev.ts,
        caller_num=p.caller_num,
        caller_name=p.caller_name,
        called_num=p.called_num,
        direction=p.direction.value if p.direction else None,
        caller_type=p.caller_type,
        answered=bool(o and o.answered),
        answering_exten=o.answering_exten if o else "",
        missed=bool(o and o.missed),
        event_id=ev.id,
    )


@router.get("/live", response_model=list[CallLive])
async def live_calls(request: Request, p: Auth, pbx: PbxFilter = None) -> list[CallLive]:
    """Calls in progress now (from each PBX and from ingested events), oldest first;
    ``pbx``: only that PBX's calls."""
    hub = hub_of(request)
    out = [live_out(c, link) for link in pbxes_of(hub, pbx) for c in link.tracker.snapshot().calls]
    if pbx is None:
        out += [ingested_out(c) for c in hub.ingest.model.live_calls()]
    return sorted((c for c in out if p.sees(c.tenant)), key=lambda c: c.start)


@router.get("", response_model=PageOut[CallSummary])
async def ended_calls(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    number: Annotated[str | None, Query(max_length=64, description="caller or called")] = None,
    direction: Annotated[str | None, Query(max_length=32)] = None,
    answered: bool | None = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    extension: Annotated[
        str | None, Query(max_length=64, description="calling, called, answering or last dialled extension")
    ] = None,
    outcome: Annotated[
        Literal["answered", "missed", "unanswered"] | None,
        Query(description="answered by a person; missed (incoming, nobody answered); or any call nobody answered"),
    ] = None,
    pbx: PbxFilter = None,
    before: Before = None,
    limit: Limit = 100,
) -> PageOut[CallSummary]:
    """Ended calls (one ``call.ended`` event each), newest first; ``pbx``: only that PBX's."""

    def keep(ev: Event) -> bool:
        s, o = ev.party, ev.outcome
        if pbx is not None and ev.pbx != pbx:
            return False
        if number is not None and number not in (s.caller_num, s.called_num):
            return False
        if extension is not None and extension not in (
            s.caller_num,
            s.called_num,
            o.answering_exten if o else "",
            o.last_dialed_exten if o else "",
        ):
            return False
        if direction is not None and (s.direction.value if s.direction else "") != direction:
            return False
        if outcome is not None and outcome not in _outcomes(ev):
            return False
        return answered is None or bool(o and o.answered) == answered

    q = EventQuery(
        tenant=p.scope(tenant),
        type=EventType.CALL_ENDED.value,
        since=epoch(request, since),
        until=epoch(request, until, "until"),
        before_id=before,
        limit=limit,
    )
    page = await scan_events(hub_of(request).store, q, keep)
    return PageOut(items=[_summary(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/{call_id}", response_model=CallTimeline)
async def call_timeline(call_id: Annotated[str, Path(max_length=128)], request: Request, p: Auth) -> CallTimeline:
    """One call: its stored events in order, and its live state while it lasts."""
    hub = hub_of(request)
    events = await hub.store.call_events(call_id, tenant=p.tenant)
    live = None
    for link in hub.pbxes:
        own = link.own_call_id(call_id)
        call = link.tracker.snapshot().call(own) if own is not None else None
        if call is not None:
            live = live_out(call, link)
            break
    if live is None:
        ingested = hub.ingest.model.live_call(call_id, p.tenant)
        live = ingested_out(ingested) if ingested is not None else None
    if live is not None and not p.sees(live.tenant):
        live = None
    if not events and live is None:
        raise HTTPException(status_code=404, detail=f"no call {call_id!r}")
    return CallTimeline(call_id=call_id, live=live, events=[event_json(e) for e in events])

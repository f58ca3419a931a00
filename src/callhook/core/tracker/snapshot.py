"""Frozen views of the tracker's live state, for readers outside the core (the API,
the dashboard, the terminal board). A snapshot is taken whole at one moment and never
changes; the tracker's working objects (:mod:`.state`) are not handed out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from callhook.core.tracker.ledger import Ledger
from callhook.core.tracker.machine import LegState, VisitState
from callhook.core.tracker.state import Call

__all__ = ["CallView", "LegView", "MemberView", "TrackerSnapshot", "VisitView", "take_snapshot"]


@dataclass(frozen=True, slots=True)
class LegView:
    uid: str
    channel: str
    extension: str  # the extension, or the one an outside party rings for; "" unknown
    name: str
    tenant: str
    external: bool
    state: LegState
    spy: bool = False

    @property
    def on_hold(self) -> bool:
        return self.state is LegState.HELD


@dataclass(frozen=True, slots=True)
class VisitView:
    queue: str
    state: VisitState
    joined: datetime
    position: int
    offers: int
    bridged_to: str  # the answering agent's extension, "" before


@dataclass(frozen=True, slots=True)
class CallView:
    id: str
    tenant: str  # the calling extension's, else the first extension leg's, else the call's
    start: datetime
    state: str  # ringing | talking | on hold | transferring | queued | dialling
    caller_num: str
    caller_name: str
    called_num: str
    direction: str | None
    caller_type: str
    answered_by: str
    legs: tuple[LegView, ...]
    visit: VisitView | None


@dataclass(frozen=True, slots=True)
class MemberView:
    queue: str
    interface: str
    name: str
    paused: bool
    reason: str
    since: datetime | None
    static: bool
    in_call: bool
    wrapup: int
    wrapup_until: datetime | None


@dataclass(frozen=True, slots=True)
class TrackerSnapshot:
    tenant: str
    calls: tuple[CallView, ...]  # announced calls, in the order they started
    members: tuple[MemberView, ...]
    presence: tuple[tuple[str, str], ...]  # (extension, state)

    def call(self, call_id: str) -> CallView | None:
        return next((c for c in self.calls if c.id == call_id), None)


def _tenant(call: Call, default: str) -> str:
    if call.caller_ext is not None and call.caller_ext.tenant:
        return call.caller_ext.tenant
    for ch in call.channels.values():
        if ch.ext is not None and ch.ext.tenant:
            return ch.ext.tenant
    return call.tenant or default


def _view(call: Call, led: Ledger) -> CallView:
    legs = []
    for ch in call.channels.values():
        if not ch.is_leg:
            continue
        ext = ch.ext or ch.on_behalf
        legs.append(
            LegView(
                uid=ch.uid,
                channel=ch.name,
                extension=ext.number if ext else "",
                name=ext.name if ext else "",
                tenant=ext.tenant if ext else "",
                external=ch.ext is None,
                state=ch.leg,
                spy=ch.spy,
            )
        )
    v = call.visit
    visit = None
    if v is not None:
        bridged = v.bridged_leg.number if v.bridged_leg is not None else ""
        visit = VisitView(v.queue, v.state, v.joined, v.position, v.offers, bridged)
    return CallView(
        id=call.id,
        tenant=_tenant(call, led.tenant),
        start=call.start,
        state=call.state,
        caller_num=call.caller_num,
        caller_name=call.caller_name,
        called_num=call.called_num,
        direction=call.direction.value if call.direction else None,
        caller_type=call.caller_type,
        answered_by=call.answering_exten,
        legs=tuple(legs),
        visit=visit,
    )


def take_snapshot(led: Ledger) -> TrackerSnapshot:
    calls = tuple(_view(c, led) for c in led.calls.values() if c.announced)
    members = tuple(
        MemberView(
            m.queue, m.interface, m.name, m.paused, m.reason, m.since, m.static, m.in_call, m.wrapup, m.wrapup_until
        )
        for m in led.agents.members.values()
    )
    return TrackerSnapshot(tenant=led.tenant, calls=calls, members=members, presence=())

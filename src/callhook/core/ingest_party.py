"""The ingest call model's state of one call, and the fields it derives.

:class:`CallState` is what :class:`~callhook.core.ingest_calls.IngestCalls` remembers
of one ingested call; :func:`complete_party` fills the call-level facts,
:func:`leg_event` completes a leg event, :func:`end_events` adds what the end of
a call implies (the missed call's ``No user response``). Derivations:

=================  ===========================================================
caller_type        ``external`` for an incoming call, else ``internal``; with no
                   direction: ``internal`` when the caller is an extension
direction          from caller_type and the directory: an extension calling an
                   extension is ``outgoingLocal``, else ``outgoing``; external
                   callers ``incoming``
caller_name        the directory's name of a calling extension
record_name        ``YYYYMMDD-HHMMSS-<caller>-<called>`` from the call's start
leg name/login     the directory's, by the leg's number
leg external       an outgoing call's Ringing/Answered whose number is the caller's
                   own is the outside party's (AMI's ``Leg.external``)
hangup.answered    the leg (or, for the caller's own channel, the call) answered
hangup.cause       the Q.850 code of the reason text
=================  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from callhook.core.directory import Directory
from callhook.core.events import CallOutcome, CallParty, CallRecord, Direction, Event, EventType, Hangup, Leg

__all__ = ["CallState", "LegState", "LiveCall", "LiveLeg", "complete_party", "end_events", "leg_event"]

T = EventType
NO_USER_RESPONSE = "No user response"
# Q.850 texts as callhook's tracker writes them (docs/events.md), and VOIPEX's own
_CAUSE = {
    "normal clearing": 16,
    "user busy": 17,
    "no user response": 18,
    "no answer": 19,
    "call rejected": 21,
    "answered elsewhere": 26,
    "originator cancel": 0,
}


@dataclass(frozen=True, slots=True)
class LiveLeg:
    extension: str
    name: str
    external: bool
    state: str  # ringing | talking


@dataclass(frozen=True, slots=True)
class LiveCall:
    """A frozen view of an ingested call in progress (what ``/api/v1/calls/live`` shows)."""

    call_id: str
    tenant: str
    start: datetime
    state: str
    party: CallParty
    queue: str
    answered_by: str
    legs: tuple[LiveLeg, ...]
    source: str


@dataclass(slots=True)
class LegState:
    number: str
    external: bool
    group: int
    leg: Leg
    answered: bool = False
    ended: bool = False


@dataclass(slots=True)
class CallState:
    call_id: str
    tenant: str
    start: datetime
    source: str = ""
    party: CallParty = field(default_factory=CallParty)
    seq: int = 0
    announced: bool = False
    legs: list[LegState] = field(default_factory=list)
    group: int = 0
    answered: bool = False  # by a person: an extension or the outside party
    answering_exten: str = ""
    first_answer: datetime | None = None
    busy: bool = False
    hung_up: bool = False  # the caller's side ended (a leg-less Hangup, or it left the queue unanswered)
    caller_gone: bool = False  # it left a queue unanswered (Webitel Leaving abandoned/cancel)
    hung_up_cause: str = ""  # the call's hang-up cause as the vendor told it (Webitel call_cause): it is over
    queue: str = ""
    in_queue: bool = False
    touched: datetime | None = None
    last_ts: datetime | None = None
    end_due: datetime | None = None
    ended: datetime | None = None
    ended_at: datetime | None = None  # receipt time of the end (for retain)

    def live_legs(self) -> list[LegState]:
        return [g for g in self.legs if not g.ended]

    def over(self) -> bool:
        """Nothing of the call is left: its legs ended and the caller gone (or no leg came)."""
        # once the caller is gone, a leg still ringing is withdrawn with it
        left = [g for g in self.live_legs() if not self.hung_up_cause and (g.answered or not self.caller_gone)]
        return bool(self.legs or self.hung_up or self.caller_gone) and not left and not self.in_queue

    def deadline(self, idle_end: timedelta, retain: timedelta) -> datetime:
        assert self.touched is not None
        if self.ended is not None:
            return (self.ended_at or self.touched) + retain
        idle = self.touched + idle_end
        return min(idle, self.end_due) if self.end_due is not None else idle

    def outcome(self, record: CallRecord | None, given: CallOutcome | None = None) -> CallOutcome:
        group = [g for g in self.legs if g.group == self.group and not g.external]
        answered_leg = next((g for g in group if g.answered), None)
        last = answered_leg.number if answered_leg else (group[-1].number if group else "")
        answered = self.answered or (record is not None and record.disposition == "ANSWERED")
        if given is not None:
            answered = given.answered
            o = given
        else:
            o = CallOutcome(
                answered=answered,
                answering_exten=self.answering_exten,
                last_dial_answered=answered_leg is not None or (answered and not group),
                last_dialed_exten=last,
            )
        return replace(o, missed=self.party.direction is Direction.INCOMING and not answered)

    def record(self, end: datetime) -> CallRecord:
        duration = max(0, int((end - self.start).total_seconds() + 0.5))
        billsec = max(0, int((end - self.first_answer).total_seconds() + 0.5)) if self.first_answer else 0
        return CallRecord(
            start=self.start,
            end=end,
            answer=self.first_answer,
            duration=duration,
            billsec=billsec,
            disposition="ANSWERED" if self.answered else ("BUSY" if self.busy else "NO ANSWER"),
            answered_by=self.answering_exten,
            source=self.party.caller_num,
            destination=self.party.called_num,
        )

    def snapshot(self) -> LiveCall:
        legs = tuple(
            LiveLeg(g.number, g.leg.name, g.external, "talking" if g.answered else "ringing") for g in self.live_legs()
        )
        if any(g.state == "talking" for g in legs):
            state = "talking"
        elif legs:
            state = "ringing"
        else:
            state = "queued" if self.in_queue else "dialling"
        return LiveCall(
            call_id=self.call_id,
            tenant=self.tenant,
            start=self.start,
            state=state,
            party=self.party,
            queue=self.queue if self.in_queue else "",
            answered_by=self.answering_exten,
            legs=legs,
            source=self.source,
        )


def complete_party(call: CallState, given: CallParty, directory: Directory) -> CallParty:
    """The call's party with what ``given`` adds (only fields still unknown), and derived fields."""
    p = call.party
    if call.announced:
        # called_num of a leg event is the leg's number (VOIPEX To): the call keeps its own
        given = replace(given, called_num="")
    p = CallParty(
        caller_num=p.caller_num or given.caller_num,
        caller_name=p.caller_name or given.caller_name,
        called_num=p.called_num or given.called_num,
        direction=p.direction or given.direction,
        caller_type=p.caller_type or given.caller_type,
        record_name=p.record_name or given.record_name,
    )
    caller_ext = directory.extension(p.caller_num) if p.caller_num else None
    caller_type = p.caller_type
    if not caller_type and p.direction is not None:
        caller_type = "external" if p.direction is Direction.INCOMING else "internal"
    elif not caller_type and p.caller_num:
        caller_type = "internal" if caller_ext is not None else "external"
    direction = p.direction
    if direction is None and caller_type:
        direction = directory.direction(
            caller_type != "external" and caller_ext is not None, directory.is_extension_number(p.called_num)
        )
    name = p.caller_name or (caller_ext.name if caller_ext is not None else "")
    record = p.record_name
    if not record and p.caller_num and p.called_num:
        record = f"{call.start:%Y%m%d-%H%M%S}-{p.caller_num}-{p.called_num}"
    return CallParty(p.caller_num, name, p.called_num, direction, caller_type, record)


def _find(call: CallState, number: str, external: bool | None) -> LegState | None:
    for g in reversed(call.legs):
        if g.number == number and not g.ended and (external is None or g.external == external):
            return g
    return None


def leg_event(call: CallState, event: Event, directory: Directory) -> Event:
    """``event`` with its leg completed, the call's legs updated."""
    t, leg = event.type, event.leg
    if t is T.CALL_HANGUP and leg is None:
        call.hung_up = True
        if event.hangup is not None and event.hangup.cause is None:
            return replace(event, hangup=replace(event.hangup, cause=_CAUSE.get(event.hangup.reason.lower())))
        return event
    if leg is None or not leg.number or t not in (T.CALL_RINGING, T.CALL_ANSWERED, T.CALL_PICKUP, T.CALL_HANGUP):
        return event if leg is None else replace(event, leg=_named(leg, directory))
    own = leg.number == call.party.caller_num
    outgoing = call.party.direction in (Direction.OUTGOING, None) and call.party.caller_type != "external"
    external = leg.external or (own and outgoing and t is not T.CALL_HANGUP)
    leg = _named(replace(leg, external=external), directory)
    if t is T.CALL_RINGING:
        if not any(not g.ended and not g.answered for g in call.legs):
            call.group += 1
        call.legs.append(LegState(leg.number, external, call.group, leg))
        return replace(event, leg=leg)
    state = _find(call, leg.number, external if t is not T.CALL_HANGUP else None)
    if state is None:
        state = LegState(leg.number, external, call.group, leg)
        call.legs.append(state)
    if t in (T.CALL_ANSWERED, T.CALL_PICKUP):
        state.answered = True
        call.answered = True
        call.first_answer = call.first_answer or event.ts
        if not external:
            call.answering_exten = leg.number
        return replace(event, leg=leg)
    state.ended = True
    h = event.hangup or Hangup()
    if h.reason.lower() == "user busy":
        call.busy = True
    answered = h.answered or state.answered or (own and call.answered)
    cause = h.cause if h.cause is not None else _CAUSE.get(h.reason.lower())
    for g in call.legs:  # the caller's own channel ended: its outside party with it
        if own and g.number == leg.number:
            g.ended = True
    return replace(event, leg=replace(leg, external=False), hangup=replace(h, answered=answered, cause=cause))


def _named(leg: Leg, directory: Directory) -> Leg:
    ext = directory.extension(leg.number)
    if ext is None:
        return leg
    return replace(leg, name=leg.name or ext.name, login=leg.login or ext.login, email=leg.email or ext.email)


def end_events(call: CallState) -> list[tuple[EventType, dict[str, Any]]]:
    """What the end of ``call`` implies before ``call.ended``: a missed call's call-level Hangup."""
    out: list[tuple[EventType, dict[str, Any]]] = []
    for g in call.live_legs():
        reason = "Normal Clearing" if g.answered else "Originator cancel"
        h = Hangup(reason=reason, cause=_CAUSE[reason.lower()], answered=g.answered)
        out.append((T.CALL_HANGUP, {"leg": replace(g.leg, external=False), "hangup": h}))
        g.ended = True
    if call.party.direction is Direction.INCOMING and not call.answered and not call.hung_up:
        out.append((T.CALL_HANGUP, {"hangup": Hangup(reason=NO_USER_RESPONSE, cause=18), "queue": call.queue}))
        call.hung_up = True
    return out

"""The tracker's working state: channels, calls and queue visits (mutable, internal).

These objects are the tracker's memory between AMI messages; they never leave the
core as such: the API reads :mod:`.snapshot` views of them. What a leg or a visit
*is doing* is one enum (:mod:`.machine`), changed only through its table; the other
fields are facts (who, when, why) the events report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from callhook.core.directory import Extension
from callhook.core.events import Direction, Leg
from callhook.core.tracker.machine import LegState, VisitState

__all__ = ["Call", "Chan", "QueueVisit"]


@dataclass(slots=True)
class Chan:
    uid: str
    name: str
    linkedid: str
    created: datetime
    ext: Extension | None = None  # the extension whose device this channel is
    trunk: bool = False
    local: bool = False
    state: str = ""  # Asterisk's ChannelStateDesc
    caller_num: str = ""
    exten: str = ""
    leg: LegState = LegState.ORIGINATING
    # facts of the leg
    dialed: bool = False  # its role: a dial destination (stays true once it ended)
    dial_src: str = ""
    dial_group: int = 0
    answered_at: datetime | None = None
    up_at: datetime | None = None  # the channel went Up (answered by anyone, the dial plan too)
    dial_status: str = ""
    on_behalf: Extension | None = None  # trunk legs: the extension that dials out
    bridge: str = ""
    picked: bool = False  # renamed into another extension's phone by a masquerade (pickup)
    hangup_requested: bool = False
    hangup_cause: int | None = None  # from HangupRequest, before the Hangup
    sip_code: int | None = None  # from HASH(SIP_CAUSE,<channel>) when the channel driver reports it
    spy: bool = False  # a supervisor's ChanSpy/barge channel

    @property
    def is_leg(self) -> bool:
        """An extension's phone, or the outside party of an outgoing dial."""
        return not self.local and (self.ext is not None or (self.trunk and self.dialed))

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def on_hold(self) -> bool:
        return self.leg is LegState.HELD

    @property
    def ended(self) -> bool:
        return self.leg is LegState.ENDED

    @property
    def rang(self) -> bool:
        return self.leg in (LegState.RINGING, LegState.ANSWERED, LegState.HELD)


@dataclass(slots=True)
class QueueVisit:
    queue: str
    member_uid: str
    joined: datetime
    position: int = 0
    state: VisitState = VisitState.WAITING
    offers: int = 0
    attempts: dict[str, int] = field(default_factory=dict)  # agent leg uid -> its offer's number (1, 2, ...)
    interfaces: dict[str, str] = field(default_factory=dict)  # agent leg uid -> queue member interface
    bridged_uid: str = ""
    bridged_at: datetime | None = None
    bridged_leg: Leg | None = None
    abandoned: bool = False
    left: datetime | None = None  # the caller left the queue (QueueCallerLeave)

    @property
    def reported_left(self) -> bool:
        return self.state is VisitState.LEFT


@dataclass(slots=True)
class Call:
    id: str
    start: datetime
    first_uid: str
    caller_type: str = ""
    caller_num: str = ""
    caller_name: str = ""
    called_num: str = ""
    direction: Direction | None = None
    caller_ext: Extension | None = None
    tenant: str = ""  # the calling extension's; the directory's for calls from outside
    announced: bool = False
    seq: int = 0
    channels: dict[str, Chan] = field(default_factory=dict)  # alive
    answering_exten: str = ""
    answered_by_person: bool = False  # an extension or the outside party answered
    first_answer: datetime | None = None  # the first person (extension, outside party) answered
    first_up: datetime | None = None  # the call's own channel was answered (by anyone, an IVR too)
    dial_group: int = 0
    last_group_legs: list[Chan] = field(default_factory=list)
    busy: bool = False
    failed: bool = False  # a dial ended CONGESTION / CHANUNAVAIL (CDR disposition FAILED)
    variables: dict[str, str] = field(default_factory=dict)  # inherited (__x) variables, prefix stripped
    custom_field: str = ""
    amd_result: str = ""  # HUMAN / MACHINE from AMD()'s AMDSTATUS
    visit: QueueVisit | None = None
    # attended transfer in progress: transferer channel uid -> bridge it left
    consult_from: dict[str, str] = field(default_factory=dict)
    pickup_seen: bool = False

    @property
    def state(self) -> str:
        """ringing | talking | on hold | transferring | queued | dialling (for live views)."""
        legs = [c for c in self.channels.values() if c.is_leg]
        if self.consult_from:
            return "transferring"
        if any(c.on_hold for c in self.channels.values()):
            return "on hold"
        if any(c.answered for c in legs) or (self.answered_by_person and legs):
            return "talking"
        if any(c.rang for c in legs):
            return "ringing"
        if self.visit is not None and self.visit.left is None:
            return "queued"
        return "dialling"

"""The tracker's working state: channels, calls and queue visits (mutable, internal).

These objects are the tracker's memory between AMI messages; they never leave the
core as such (the API reads :mod:`.snapshot` views of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from callhook.core.directory import Extension
from callhook.core.events import Direction, Leg

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
    state: str = ""
    caller_num: str = ""
    exten: str = ""
    # as a dial destination
    dialed: bool = False
    dial_src: str = ""
    dial_group: int = 0
    rang: bool = False
    answered: bool = False
    answered_at: datetime | None = None
    dial_status: str = ""
    on_behalf: Extension | None = None  # trunk legs: the extension that dials out
    bridge: str = ""
    on_hold: bool = False
    ended: bool = False
    picked: bool = False  # renamed into another extension's phone by a masquerade (pickup)
    hangup_requested: bool = False

    @property
    def is_leg(self) -> bool:
        """An extension's phone, or the outside party of an outgoing dial."""
        return not self.local and (self.ext is not None or (self.trunk and self.dialed))


@dataclass(slots=True)
class QueueVisit:
    queue: str
    member_uid: str
    joined: datetime
    position: int = 0
    offers: int = 0
    bridged_uid: str = ""
    bridged_at: datetime | None = None
    bridged_leg: Leg | None = None
    abandoned: bool = False
    left: datetime | None = None
    reported_left: bool = False


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
    first_answer: datetime | None = None
    dial_group: int = 0
    last_group_legs: list[Chan] = field(default_factory=list)
    busy: bool = False
    variables: dict[str, str] = field(default_factory=dict)  # inherited (__x) variables, prefix stripped
    custom_field: str = ""
    visit: QueueVisit | None = None
    # attended transfer in progress: transferer channel uid -> bridge it left
    consult_from: dict[str, str] = field(default_factory=dict)
    pickup_seen: bool = False

    @property
    def state(self) -> str:
        """ringing | talking | on hold | transferring | dialling (for live views)."""
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

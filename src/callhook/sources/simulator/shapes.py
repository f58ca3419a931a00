"""The header sets of Asterisk 23's AMI events, as the lab recordings show them.

Every channel event carries the same block of channel fields (``Channel`` ...
``Linkedid``); dial and agent events carry it twice, the second time prefixed
``Dest``; bridge events carry the bridge block; queue member events the member
block. This module turns the simulator's model objects into those blocks, in the
recorded order, and frames whole events. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from callhook.core.ami.message import AmiMessage

__all__ = [
    "CAUSE_TEXT",
    "PRIVILEGE",
    "STATE_CODE",
    "UNKNOWN",
    "Bridge",
    "Channel",
    "Member",
    "bridge_block",
    "cdr_time",
    "channel_block",
    "event",
    "member_block",
    "stamp",
]

UNKNOWN = "<unknown>"
STATE_CODE = {"Down": 0, "Rsrvd": 1, "OffHook": 2, "Dialing": 3, "Ring": 4, "Ringing": 5, "Up": 6, "Busy": 7}
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    26: "Answered elsewhere",
}

_AGENT = "agent,all"
_CALL = "call,all"
PRIVILEGE = {
    "Newexten": "dialplan,all",
    "VarSet": "dialplan,all",
    "Cdr": "cdr,all",
    "DTMFBegin": "dtmf,all",
    "DTMFEnd": "dtmf,all",
    "FullyBooted": "system,all",
    "SuccessfulAuth": "security,all",
    **{
        e: _AGENT
        for e in (
            "AgentCalled",
            "AgentComplete",
            "AgentConnect",
            "AgentRingNoAnswer",
            "QueueCallerAbandon",
            "QueueCallerJoin",
            "QueueCallerLeave",
            "QueueMemberAdded",
            "QueueMemberPause",
            "QueueMemberRemoved",
            "QueueMemberStatus",
        )
    },
}


@dataclass(slots=True)
class Channel:
    """A live channel of the simulated PBX (what CoreShowChannels lists)."""

    name: str
    uid: str
    linkedid: str
    device: str  # "IAX2/20", "IAX2/trunk", "Local/21@from-internal"
    created: float
    state: str = "Down"
    cid_num: str = UNKNOWN
    cid_name: str = UNKNOWN
    cl_num: str = UNKNOWN
    cl_name: str = UNKNOWN
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    answered_at: float | None = None
    bridge: str = ""
    application: str = ""
    app_data: str = ""
    variables: dict[str, str] = field(default_factory=dict)  # inherited (__x) variables
    values: dict[str, str] = field(default_factory=dict)  # every variable set, by name without _ (Getvar)
    call: str = ""  # the scripted call this channel belongs to (a key of Pbx.calls)


@dataclass(slots=True)
class Bridge:
    uid: str
    members: list[str] = field(default_factory=list)  # channel uids


@dataclass(slots=True)
class Member:
    """A queue member (agent) as QueueMember* events and QueueStatus describe it."""

    queue: str
    interface: str
    name: str
    membership: str = "static"
    paused: bool = False
    reason: str = ""
    login_time: int = 0
    last_pause: int = 0
    last_call: int = 0
    calls_taken: int = 0
    status: int = 1  # AST_DEVICE_NOT_INUSE
    in_call: bool = False
    wrapup: int = 0  # seconds of wrap-up after each call (queues.conf member wrapuptime)
    wrapup_until: float = 0.0  # not offered calls before then


def stamp(t: float) -> str:
    return f"{t:.6f}"


def cdr_time(t: float | None) -> str:
    return "" if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def channel_block(ch: Channel, prefix: str = "") -> list[tuple[str, str]]:
    p = prefix
    return [
        (p + "Channel", ch.name),
        (p + "ChannelState", str(STATE_CODE[ch.state])),
        (p + "ChannelStateDesc", ch.state),
        (p + "CallerIDNum", ch.cid_num),
        (p + "CallerIDName", ch.cid_name),
        (p + "ConnectedLineNum", ch.cl_num),
        (p + "ConnectedLineName", ch.cl_name),
        (p + "Language", "en"),
        (p + "AccountCode", ""),
        (p + "Context", ch.context),
        (p + "Exten", ch.exten),
        (p + "Priority", str(ch.priority)),
        (p + "Uniqueid", ch.uid),
        (p + "Linkedid", ch.linkedid),
    ]


def bridge_block(b: Bridge) -> list[tuple[str, str]]:
    return [
        ("BridgeUniqueid", b.uid),
        ("BridgeType", "basic"),
        ("BridgeTechnology", "simple_bridge"),
        ("BridgeCreator", UNKNOWN),
        ("BridgeName", UNKNOWN),
        ("BridgeNumChannels", str(len(b.members))),
        ("BridgeVideoSourceMode", "none"),
    ]


def member_block(m: Member) -> list[tuple[str, str]]:
    return [
        ("Queue", m.queue),
        ("MemberName", m.name),
        ("Interface", m.interface),
        ("StateInterface", m.interface),
        ("Membership", m.membership),
        ("Penalty", "0"),
        ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", "1" if m.in_call else "0"),
        ("Status", str(m.status)),
        ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.reason if m.paused else ""),
        ("Ringinuse", "0"),
        ("Wrapuptime", str(m.wrapup)),
    ]


def event(name: str, t: float | None, *blocks: list[tuple[str, str]]) -> AmiMessage:
    """``Event``, ``Privilege``, ``Timestamp`` (when ``t`` is given), then the blocks in order."""
    headers: list[tuple[str, str]] = [("Event", name), ("Privilege", PRIVILEGE.get(name, _CALL))]
    if t is not None:
        headers.append(("Timestamp", stamp(t)))
    for b in blocks:
        headers.extend(b)
    return AmiMessage(tuple(headers))

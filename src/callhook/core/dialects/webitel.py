"""The ``webitel`` dialect (seed 002): call-centre queue hooks as one JSON object.

The event name is the top-level key ``event``; ``queue`` names the queue. Fields
and where they appear (spec section 4; the seed's ``MASHINE``/``sucess`` corrected):

=========================  ==========  =================================================
canonical                  event       fields besides event, queue
=========================  ==========  =================================================
queue.joined               Joined      BASE
queue.offered              Offering    BASE + AGENT + call_voice_sec
queue.bridged              Bridged     BASE + AGENT + call_voice_sec
queue.missed               Missed      BASE + AGENT
queue.left                 Leaving     BASE + AGENT + call_voice_sec, cc_result, call_cause,
                                       call_sip_code
agent.wrapup               Processing  BASE + AGENT + call_voice_sec, call_cause, call_sip_code
=========================  ==========  =================================================

BASE: channel ("call"), attempt_id, destination (the member's number), use_processing,
agent_channel_id, member_channel_id. AGENT: agent_name, agent_id, user_id,
agent_extension, member_name, member_id, cc_attempt_seq, call_bill_sec,
call_duration, amd_result (HUMAN / MACHINE when the dial plan ran Asterisk's AMD(), else "").

Integer ids are derived, deterministically, from what callhook knows:
agent_id = user_id = the agent's vendor id or extension number when it is an integer,
else :func:`stable_id` of its login (or number or interface); member_id =
stable_id(member_channel_id); attempt_id = stable_id(queue "/" member_channel_id);
``null`` when the source is empty. The member's variables follow as top-level keys
without the inheritance prefix (``__ipbx_custom_field`` -> ``ipbx_custom_field``),
never replacing a documented field; event.custom_field is ``ipbx_custom_field``
unless a variable of that name exists.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, boolean, integer, json_object, json_request, number, text
from callhook.core.events import AgentInfo, CallParty, Event, EventType, QueueCall
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "FIELDS", "RESERVED", "decode", "encode", "message", "stable_id"]

T = EventType
_NAME: Mapping[EventType, str] = {
    T.QUEUE_JOINED: "Joined",
    T.QUEUE_OFFERED: "Offering",
    T.QUEUE_BRIDGED: "Bridged",
    T.QUEUE_MISSED: "Missed",
    T.QUEUE_LEFT: "Leaving",
    T.AGENT_WRAPUP: "Processing",
}
EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType({n: frozenset({t}) for t, n in _NAME.items()})
_TYPE: Mapping[str, EventType] = {n.lower(): t for t, n in _NAME.items()}

_BASE = ("channel", "attempt_id", "destination", "use_processing", "agent_channel_id", "member_channel_id")
_AGENT = (
    *("agent_name", "agent_id", "user_id", "agent_extension", "member_name", "member_id", "cc_attempt_seq"),
    *("call_bill_sec", "call_duration", "amd_result"),
)
_END = ("call_cause", "call_sip_code")
FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "Joined": _BASE,
        "Offering": (*_BASE, *_AGENT, "call_voice_sec"),
        "Bridged": (*_BASE, *_AGENT, "call_voice_sec"),
        "Missed": (*_BASE, *_AGENT),
        "Leaving": (*_BASE, *_AGENT, "call_voice_sec", "cc_result", *_END),
        "Processing": (*_BASE, *_AGENT, "call_voice_sec", *_END),
    }
)
#: keys a variable never takes: every documented field, on any event
RESERVED = frozenset({"event", "queue"}.union(*FIELDS.values()))
_SPELLING = {"sucess": "success", "MASHINE": "MACHINE"}
_INTEGER = re.compile(r"-?[0-9]{1,15}")
SOURCE = "ingest:webitel"


def stable_id(text: str) -> int:
    """A deterministic 48-bit integer for ``text`` (the first 6 bytes of its SHA-256)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:6], "big")


def _agent(event: Event) -> AgentInfo | None:
    if event.agent is not None:
        return event.agent
    leg = event.leg
    if leg is None:
        return None
    return AgentInfo(login=leg.login, number=leg.number, name=leg.name, email=leg.email)


def agent_int_id(a: AgentInfo | None) -> int | None:
    if a is None:
        return None
    for candidate in (a.agent_id, a.number):
        if _INTEGER.fullmatch(candidate):
            return int(candidate)
    key = a.login or a.agent_id or a.number or a.interface
    return stable_id("agent:" + key) if key else None


def _seconds(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


# ------------------------------------------------------------------ encode
def message(event: Event) -> dict[str, Any] | None:
    name = _NAME.get(event.type)
    if name is None:
        return None
    qc, a = event.queue_call or QueueCall(), _agent(event)
    member = qc.member_channel_id
    aid = agent_int_id(a)
    values: dict[str, Any] = {
        "channel": "call",
        "attempt_id": stable_id(f"{event.queue}/{member}") if member else None,
        "destination": event.party.caller_num,
        "use_processing": bool(qc.use_processing),
        "agent_channel_id": qc.agent_channel_id,
        "member_channel_id": member,
        "agent_name": a.name if a else "",
        "agent_id": aid,
        "user_id": aid,
        "agent_extension": a.number if a else "",
        "member_name": event.party.caller_name,
        "member_id": stable_id(member) if member else None,
        "cc_attempt_seq": qc.attempt_seq,
        "call_bill_sec": _seconds(qc.call_bill_sec),
        "call_duration": _seconds(qc.call_duration),
        "amd_result": qc.amd_result,
        "call_voice_sec": _seconds(qc.call_voice_sec),
        "cc_result": _SPELLING.get(qc.cc_result, qc.cc_result),
        "call_cause": qc.call_cause,
        "call_sip_code": qc.call_sip_code,
    }
    msg: dict[str, Any] = {"event": name, "queue": event.queue}
    msg.update((k, values[k]) for k in FIELDS[name])
    for key, value in event.variables.items():
        key = key.lstrip("_")
        if key and key not in RESERVED and key not in msg:
            msg[key] = value
    if event.custom_field and "ipbx_custom_field" not in msg:
        msg["ipbx_custom_field"] = event.custom_field
    return msg


def encode(event: Event, sub: Subscription) -> Request | None:
    msg = message(event)
    return None if msg is None else json_request(sub, msg)


# ------------------------------------------------------------------ decode
def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    """A webitel JSON body (bytes) as an event; ``ts`` is ``now`` (the hook carries no time).

    The event name (key ``event``) is matched in any case. call_id is the
    member_channel_id. Undocumented top-level keys with text values are the
    member's variables; other undocumented keys are ignored. The derived ids
    (attempt_id, member_id, user_id) are checked for type and not kept; agent_id
    is kept as ``AgentInfo.agent_id``; amd_result is kept (``MASHINE`` read as MACHINE).
    """
    obj = json_object(payload)
    name = text(obj, "event", required=True)
    etype = _TYPE.get(name.lower())
    if etype is None:
        raise DecodeError("event", f"unknown webitel event {name[:40]!r}")
    for key in ("attempt_id", "user_id", "member_id"):
        integer(obj, key)
    text(obj, "channel")
    amd = text(obj, "amd_result")
    aid, agent_name, extension = integer(obj, "agent_id"), text(obj, "agent_name"), text(obj, "agent_extension")
    agent = None
    if aid is not None or agent_name or extension:
        agent = AgentInfo(agent_id="" if aid is None else str(aid), name=agent_name, number=extension)
    member = text(obj, "member_channel_id")
    cc_result = text(obj, "cc_result")
    queue_call = QueueCall(
        member_channel_id=member,
        agent_channel_id=text(obj, "agent_channel_id"),
        attempt_seq=integer(obj, "cc_attempt_seq") or 0,
        call_duration=number(obj, "call_duration"),
        call_bill_sec=number(obj, "call_bill_sec"),
        call_voice_sec=number(obj, "call_voice_sec"),
        cc_result=_SPELLING.get(cc_result, cc_result),
        call_cause=text(obj, "call_cause"),
        call_sip_code=integer(obj, "call_sip_code"),
        use_processing=boolean(obj, "use_processing"),
        amd_result=_SPELLING.get(amd, amd),
    )
    variables = {k: v for k, v in obj.items() if k not in RESERVED and isinstance(v, str)}
    return Event(
        id=new_id(now),
        type=etype,
        ts=now,
        tenant=tenant,
        call_id=member,
        source=SOURCE,
        party=CallParty(caller_num=text(obj, "destination"), caller_name=text(obj, "member_name")),
        queue=text(obj, "queue"),
        custom_field=variables.get("ipbx_custom_field", ""),
        queue_call=queue_call,
        agent=agent,
        variables=variables,
    )

"""The ``voipex`` dialect (seeds 000, 001): one JSON object per event, POSTed.

Every value is text and an unknown value is ``""``; the one exception is
``NewCall``'s ``"Line": null`` (seed 000). Messages by canonical type:

=========================  ======================  =====================================
canonical                  EventName               keys
=========================  ======================  =====================================
call.new                   NewCall                 From To Line(null) UniqueId Direction
call.ringing               Ringing                 From To Line Email Login [CustomField]
                                                   UniqueId Direction
call.answered, .pickup     Answered                as Ringing without CustomField
call.hangup                Hangup                  as Answered + Reason
call.transfer.attended     AttendedTransfer        From To(target) Line(transferer) Email
call.transfer.cancelled    CancelAttendedTransfer  Login UniqueId Direction
call.record                CDR                     From To Line(answered_by) UniqueId Direction
                                                   Start Answer End Duration Billsec Disposition
agent.login/logout/        AgentLogin/AgentLogout  Queue Login Line Email
paused/unpaused            AgentPaused (+PauseName) / AgentUnPaused
=========================  ======================  =====================================

``To`` of a leg event is the leg's number when the leg is a called extension (not
``external`` and its number is not the caller's), else the called number.
``Direction`` is left out when the direction is unknown, as in the seed's examples
written before it existed.
``CustomField`` only on Ringing and only when set. Everything else: no message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, json_object, json_request, parse_ts, text
from callhook.core.events import (
    AgentInfo,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    Transfer,
)
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "decode", "encode", "message"]

T = EventType
_NAME: Mapping[EventType, str] = {
    T.CALL_NEW: "NewCall",
    T.CALL_RINGING: "Ringing",
    T.CALL_ANSWERED: "Answered",
    T.CALL_PICKUP: "Answered",
    T.CALL_HANGUP: "Hangup",
    T.CALL_TRANSFER_ATTENDED: "AttendedTransfer",
    T.CALL_TRANSFER_CANCELLED: "CancelAttendedTransfer",
    T.CALL_RECORD: "CDR",
    T.AGENT_LOGIN: "AgentLogin",
    T.AGENT_LOGOUT: "AgentLogout",
    T.AGENT_PAUSED: "AgentPaused",
    T.AGENT_UNPAUSED: "AgentUnPaused",
}
EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType(
    {name: frozenset(t for t, n in _NAME.items() if n == name) for name in dict.fromkeys(_NAME.values())}
)
# What a decoded EventName becomes: the first type named so (Answered: call.answered,
# since a pickup is not told apart on the wire).
_TYPE: Mapping[str, EventType] = {n: t for t, n in reversed(list(_NAME.items()))}
SOURCE = "ingest:voipex"


# ------------------------------------------------------------------ encode
def encode(event: Event, sub: Subscription) -> Request | None:
    msg = message(event)
    return None if msg is None else json_request(sub, msg)


def message(event: Event) -> dict[str, Any] | None:
    """The JSON object for ``event``, or None when voipex has no such message."""
    name = _NAME.get(event.type)
    if name is None:
        return None
    if event.type.is_agent:
        a = event.agent or AgentInfo()
        msg: dict[str, Any] = {"EventName": name, "Queue": event.queue, "Login": a.login, "Line": a.number}
        msg["Email"] = a.email
        if event.type is T.AGENT_PAUSED:
            msg["PauseName"] = a.pause_reason
        return msg
    p, leg = event.party, event.leg
    msg = {"EventName": name, "From": p.caller_num, "To": p.called_num}
    if event.type is T.CALL_NEW:
        msg["Line"] = None
    elif event.type is T.CALL_RECORD:
        rec = event.record
        msg["From"] = p.caller_num or (rec.source if rec else "")
        msg["To"] = p.called_num or (rec.destination if rec else "")
        msg["Line"] = rec.answered_by if rec else ""
    else:
        if event.type in (T.CALL_TRANSFER_ATTENDED, T.CALL_TRANSFER_CANCELLED):
            tr = event.transfer
            msg["To"] = tr.target if tr else ""
            msg["Line"] = (tr.transferer if tr else "") or (leg.number if leg else "")
        else:
            if leg is not None and leg.number and not leg.external and leg.number != p.caller_num:
                msg["To"] = leg.number
            msg["Line"] = leg.number if leg else ""
        msg["Email"] = leg.email if leg else ""
        msg["Login"] = leg.login if leg else ""
        if event.type is T.CALL_RINGING and event.custom_field:
            msg["CustomField"] = event.custom_field
    msg["UniqueId"] = event.call_id
    if p.direction is not None:
        msg["Direction"] = p.direction.value
    if event.type is T.CALL_HANGUP:
        msg["Reason"] = event.hangup.reason if event.hangup else ""
    elif event.type is T.CALL_RECORD:
        msg.update(_cdr_fields(event.record))
    return msg


def _iso(ts: datetime | None) -> str:
    return "" if ts is None else ts.isoformat()


def _cdr_fields(rec: CallRecord | None) -> dict[str, str]:
    if rec is None:
        return dict.fromkeys(("Start", "Answer", "End", "Duration", "Billsec", "Disposition"), "")
    return {
        "Start": _iso(rec.start),
        "Answer": _iso(rec.answer),
        "End": _iso(rec.end),
        "Duration": str(rec.duration),
        "Billsec": str(rec.billsec),
        "Disposition": rec.disposition,
    }


# ------------------------------------------------------------------ decode
def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    """A voipex JSON body (bytes) as an event. VOIPEX sends no time: ``ts`` is ``now``."""
    obj = json_object(payload)
    name = text(obj, "EventName", required=True)
    etype = _TYPE.get(name)
    if etype is None:
        raise DecodeError("EventName", f"unknown voipex event {name[:40]!r}")
    kw: dict[str, Any] = {"id": new_id(now), "type": etype, "ts": now, "tenant": tenant, "source": SOURCE}
    if etype.is_agent:
        agent = AgentInfo(
            login=text(obj, "Login"),
            number=text(obj, "Line"),
            email=text(obj, "Email"),
            pause_reason=text(obj, "PauseName") if etype is T.AGENT_PAUSED else "",
        )
        return Event(**kw, queue=text(obj, "Queue", required=True), agent=agent)
    kw["call_id"] = text(obj, "UniqueId", required=True)
    frm, to, line = text(obj, "From"), text(obj, "To"), text(obj, "Line")
    email, login = text(obj, "Email"), text(obj, "Login")
    kw["party"] = CallParty(caller_num=frm, called_num=to, direction=_direction(obj))
    if line or email or login:
        # A ringing/answered/ended leg whose Line is neither From nor To is an outside
        # party's (leg.external: Line names the extension it rings for): else To = Line.
        external = etype in (T.CALL_RINGING, T.CALL_ANSWERED, T.CALL_HANGUP) and line not in ("", frm, to)
        kw["leg"] = Leg(number=line, email=email, login=login, external=external)
    if etype is T.CALL_RINGING:
        kw["custom_field"] = text(obj, "CustomField")
    elif etype is T.CALL_HANGUP:
        kw["hangup"] = Hangup(reason=text(obj, "Reason"))
    elif etype in (T.CALL_TRANSFER_ATTENDED, T.CALL_TRANSFER_CANCELLED):
        kw["transfer"] = Transfer(transferer=line, target=to, kind="attended")
    elif etype is T.CALL_RECORD:
        kw.pop("leg", None)
        kw["record"] = _record(obj, frm, to, line)
    return Event(**kw)


def _direction(obj: Mapping[str, Any]) -> Direction | None:
    raw = text(obj, "Direction")
    if not raw:
        return None
    try:
        return Direction(raw)
    except ValueError:
        raise DecodeError("Direction", f"unknown direction {raw[:40]!r}") from None


def _seconds(obj: Mapping[str, Any], key: str) -> int:
    raw = text(obj, key)
    if not raw:
        return 0
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise DecodeError(key, "expected whole seconds")
    return int(raw)


def _record(obj: Mapping[str, Any], frm: str, to: str, line: str) -> CallRecord | None:
    start, end, answer = text(obj, "Start"), text(obj, "End"), text(obj, "Answer")
    if not (start or end):
        return None
    if not start:
        raise DecodeError("Start", "required with End")
    if not end:
        raise DecodeError("End", "required with Start")
    return CallRecord(
        start=parse_ts(start, "Start"),
        end=parse_ts(end, "End"),
        answer=parse_ts(answer, "Answer") if answer else None,
        duration=_seconds(obj, "Duration"),
        billsec=_seconds(obj, "Billsec"),
        disposition=text(obj, "Disposition"),
        answered_by=line,
        source=frm,
        destination=to,
    )

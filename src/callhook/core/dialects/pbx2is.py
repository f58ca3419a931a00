"""The ``pbx2is`` dialect (seed 003): urlencoded notifications, GET or POST.

``event`` comes first, then the parameters in the seed's order (the seed's spelling
``transfering_exten``). Values are text, a missing value is ``""``, booleans are
``t``/``f``, ``ts`` is ISO 8601 as PostgreSQL prints it (the event's own offset,
microseconds without trailing zeros). GET puts the form in the query string
(appended to the URL with ``?`` or ``&``), any other method in the body.

=========================  =================================================
canonical                  event
=========================  =================================================
call.new                   dial (transfering_exten "")
call.transfer.blind        dial: called_num = target, transfering_exten =
call.transfer.attended       the transferring extension (spec Decision)
call.answered              answer_internal when the leg is an extension's (it
                           has a number and is not ``external``), else
                           answer_external (the outside party, or no leg)
call.pickup                call_pickup
call.hangup                hangup_internal for an extension's leg that had
                           answered (``hangup.answered``), else none
call.ended                 endcall (from event.outcome)
=========================  =================================================

A subscription's ``url_template`` replaces the URL: ``{name}`` is the value of
parameter ``name`` of this message (``{event}``, ``{call_id}``, ...; ``""`` when the
message has no such parameter), percent-encoded; with GET nothing is appended.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, form_fields, form_request, parse_ts
from callhook.core.events import CallOutcome, CallParty, Event, EventType, Hangup, Leg, Transfer
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "PARAMS", "TEMPLATE_NAMES", "decode", "encode", "format_ts", "message"]

T = EventType
_CALLER = ("called_num", "caller_num", "caller_name", "caller_type", "record_name")
PARAMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "dial": (
            "ts", "call_id", "caller_type", "caller_num", "called_num", "transfering_exten", "record_name",
        ),
        "answer_internal": ("ts", "call_id", "exten_num", "exten_name", "caller_num", "caller_type", "record_name"),
        "answer_external": ("ts", "call_id", *_CALLER),
        "call_pickup": ("ts", "call_id", *_CALLER),
        "hangup_internal": ("ts", "call_id", "exten_num", "exten_name", "record_name"),
        "endcall": (
            "ts", "call_id", "caller_type", "caller_num", "called_num", "call_answered", "answering_exten",
            "last_dial_answered", "last_dialed_exten", "record_name",
        ),
    }
)  # fmt: skip
EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType(
    {
        "dial": frozenset({T.CALL_NEW, T.CALL_TRANSFER_BLIND, T.CALL_TRANSFER_ATTENDED}),
        "answer_internal": frozenset({T.CALL_ANSWERED}),
        "answer_external": frozenset({T.CALL_ANSWERED}),
        "call_pickup": frozenset({T.CALL_PICKUP}),
        "hangup_internal": frozenset({T.CALL_HANGUP}),
        "endcall": frozenset({T.CALL_ENDED}),
    }
)
#: every name a url_template may use
TEMPLATE_NAMES = frozenset({"event"}.union(*PARAMS.values()))
CALLER_TYPES = frozenset({"", "internal", "external", "originate"})
SOURCE = "ingest:pbx2is"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


# ------------------------------------------------------------------ encode
def format_ts(ts: datetime) -> str:
    """``2016-01-21T13:09:25.95104+01:00``: the fraction without trailing zeros, none if 0."""
    iso = ts.isoformat(timespec="microseconds")
    fraction = iso[20:26].rstrip("0")
    return iso[:19] + (f".{fraction}" if fraction else "") + iso[26:]


def _name(event: Event) -> str | None:
    t, leg = event.type, event.leg
    extension = leg is not None and leg.number != "" and not leg.external
    if t in (T.CALL_NEW, T.CALL_TRANSFER_BLIND, T.CALL_TRANSFER_ATTENDED):
        return "dial"
    if t is T.CALL_ANSWERED:
        return "answer_internal" if extension else "answer_external"
    if t is T.CALL_HANGUP:  # an extension's part of the call: a leg that only rang had none
        return "hangup_internal" if extension and event.hangup is not None and event.hangup.answered else None
    return {T.CALL_PICKUP: "call_pickup", T.CALL_ENDED: "endcall"}.get(t)


def message(event: Event) -> list[tuple[str, str]] | None:
    """The ``(name, value)`` pairs for ``event`` in order, or None when there is no message."""
    name = _name(event)
    if name is None:
        return None
    p, leg, out = event.party, event.leg or Leg(), event.outcome or CallOutcome()
    values = {
        "ts": format_ts(event.ts),
        "call_id": event.call_id,
        "caller_type": p.caller_type,
        "caller_num": p.caller_num,
        "caller_name": p.caller_name,
        "called_num": p.called_num,
        "transfering_exten": "",
        "record_name": p.record_name,
        "exten_num": leg.number,
        "exten_name": leg.name,
        "call_answered": "t" if out.answered else "f",
        "answering_exten": out.answering_exten,
        "last_dial_answered": "t" if out.last_dial_answered else "f",
        "last_dialed_exten": out.last_dialed_exten,
    }
    if event.type in (T.CALL_TRANSFER_BLIND, T.CALL_TRANSFER_ATTENDED):
        tr = event.transfer or Transfer()
        values["called_num"], values["transfering_exten"] = tr.target, tr.transferer
    return [("event", name), *((k, values[k]) for k in PARAMS[name])]


def fill_template(template: str, pairs: list[tuple[str, str]]) -> str:
    values = dict(pairs)
    return _PLACEHOLDER.sub(lambda m: quote(values.get(m.group(1), ""), safe="", errors="replace"), template)


def encode(event: Event, sub: Subscription) -> Request | None:
    pairs = message(event)
    if pairs is None:
        return None
    url = fill_template(sub.url_template, pairs) if sub.url_template else None
    return form_request(sub, pairs, url=url)


# ------------------------------------------------------------------ decode
def _get(f: Mapping[str, str], key: str, *, required: bool = False) -> str:
    v = f.get(key, "")
    if required and not v:
        raise DecodeError(key, "required")
    return v


def _bool(f: Mapping[str, str], key: str) -> bool:
    v = f.get(key, "")
    if v not in ("t", "f", ""):
        raise DecodeError(key, f"expected t or f, got {v[:20]!r}")
    return v == "t"


def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    """Query-string and/or form pairs (or the raw urlencoded text) as an event."""
    f = form_fields(payload)
    name = _get(f, "event", required=True)
    if name not in PARAMS:
        raise DecodeError("event", f"unknown pbx2is event {name[:40]!r}")
    caller_type = f.get("caller_type", "")
    if caller_type not in CALLER_TYPES:
        raise DecodeError("caller_type", "expected internal, external or originate")
    kw: dict[str, Any] = {
        "id": new_id(now),
        "ts": parse_ts(_get(f, "ts", required=True), "ts"),
        "tenant": tenant,
        "call_id": _get(f, "call_id", required=True),
        "source": SOURCE,
        "party": CallParty(
            caller_num=f.get("caller_num", ""),
            caller_name=f.get("caller_name", ""),
            called_num=f.get("called_num", ""),
            caller_type=caller_type,
            record_name=f.get("record_name", ""),
        ),
    }
    if name == "dial":
        transferer = f.get("transfering_exten", "")
        kw["type"] = T.CALL_TRANSFER_BLIND if transferer else T.CALL_NEW
        if transferer:
            kw["transfer"] = Transfer(transferer=transferer, target=f.get("called_num", ""), kind="blind")
    elif name in ("answer_internal", "hangup_internal"):
        kw["leg"] = Leg(number=_get(f, "exten_num", required=True), name=f.get("exten_name", ""))
        if name == "answer_internal":
            kw["type"] = T.CALL_ANSWERED
        else:
            kw["type"], kw["hangup"] = T.CALL_HANGUP, Hangup(answered=True)
    elif name == "endcall":
        kw["type"] = T.CALL_ENDED
        kw["outcome"] = CallOutcome(
            answered=_bool(f, "call_answered"),
            answering_exten=f.get("answering_exten", ""),
            last_dial_answered=_bool(f, "last_dial_answered"),
            last_dialed_exten=f.get("last_dialed_exten", ""),
        )
    else:
        kw["type"] = T.CALL_ANSWERED if name == "answer_external" else T.CALL_PICKUP
    return Event(**kw)

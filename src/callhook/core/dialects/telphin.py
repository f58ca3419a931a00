"""The ``telphin`` dialect (seed 004): an agent's queue login and logout.

Only a change of status is an event (the tracker sends no agent.login for an agent
already logged in), so this module maps one event to one message:

=============  ============  ==================================================
canonical      agent_status  fields, in this order, urlencoded
=============  ============  ==================================================
agent.login    available     agent_id, agent_status, agent_type,
agent.logout   logged_out    agent_number (remote) | extension_name (local),
                             event_source
=============  ============  ==================================================

``agent_id`` is the agent's vendor id (``AgentInfo.agent_id``), else its number;
``agent_type`` is ``remote`` or ``local`` (anything else counts as local);
``event_source`` is ``api`` or ``phone`` (anything else counts as phone). GET puts
the fields in the query string, any other method in a form body (the vendor's
"both application/x-www-form-urlencoded"). Every other event: no message.

Seed 004 says a GET carries the data "in the request header", while its PHP example
reads ``$_GET`` (the query string). The query string is the default; a subscription's
``get_data_header`` names a header that carries the same urlencoded form instead (the
URL then has no query added; a subscription header of that name is left out).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from urllib.parse import urlencode

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, form_fields, form_request
from callhook.core.events import AgentInfo, Event, EventType
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "RESERVED_HEADERS", "decode", "encode", "message", "valid_data_header"]

T = EventType
_STATUS: Mapping[EventType, str] = {T.AGENT_LOGIN: "available", T.AGENT_LOGOUT: "logged_out"}
_TYPE: Mapping[str, EventType] = {v: k for k, v in _STATUS.items()}
#: Telphin's own event_type names (its subscription API), as used by subscriptions
EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType(
    {"agent-login": frozenset({T.AGENT_LOGIN}), "agent-logout": frozenset({T.AGENT_LOGOUT})}
)
SOURCE = "ingest:telphin"


def message(event: Event) -> list[tuple[str, str]] | None:
    status = _STATUS.get(event.type)
    if status is None:
        return None
    a = event.agent or AgentInfo()
    remote = a.agent_type == "remote"
    pairs = [
        ("agent_id", a.agent_id or a.number),
        ("agent_status", status),
        ("agent_type", "remote" if remote else "local"),
        ("agent_number", a.number) if remote else ("extension_name", a.extension_name),
        ("event_source", "api" if a.event_source == "api" else "phone"),
    ]
    return pairs


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}")
#: headers the transport or the signature set: never the data header
RESERVED_HEADERS = frozenset(
    {"authorization", "content-type", "content-length", "host", "webhook-id", "webhook-timestamp", "webhook-signature"}
)


def valid_data_header(name: str) -> bool:
    """A header name that may carry a GET's data: an HTTP token, not one callhook sets."""
    return bool(_TOKEN.fullmatch(name)) and name.lower() not in RESERVED_HEADERS


def encode(event: Event, sub: Subscription) -> Request | None:
    pairs = message(event)
    if pairs is None:
        return None
    name = sub.get_data_header
    if not valid_data_header(name) or (sub.method or "POST").upper() != "GET":
        return form_request(sub, pairs)
    req = form_request(replace(sub, headers={k: v for k, v in sub.headers.items() if k.lower() != name.lower()}), [])
    form = urlencode(pairs, encoding="utf-8", errors="replace")
    return replace(req, url=sub.url, headers=(*req.headers, (name, form)))


def _choice(f: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    """One of ``allowed``; missing or ``""`` is the first."""
    v = f.get(key, "") or allowed[0]
    if v not in allowed:
        raise DecodeError(key, f"expected one of {', '.join(allowed)}, got {v[:20]!r}")
    return v


def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    """Query-string and/or form pairs (or the raw urlencoded text) as an agent event.

    Telphin sends no time (``ts`` is ``now``) and no queue name (``queue`` is "").
    A local agent's number is the part of ``extension_name`` before ``@``.
    """
    f = form_fields(payload)
    status = f.get("agent_status", "")
    if not status:
        raise DecodeError("agent_status", "required")
    etype = _TYPE.get(status)
    if etype is None:
        raise DecodeError("agent_status", f"expected available or logged_out, got {status[:20]!r}")
    agent_id = f.get("agent_id", "")
    if not agent_id:
        raise DecodeError("agent_id", "required")
    agent_type = _choice(f, "agent_type", ("local", "remote"))
    extension_name = f.get("extension_name", "") if agent_type == "local" else ""
    agent = AgentInfo(
        agent_id=agent_id,
        agent_type=agent_type,
        number=f.get("agent_number", "") if agent_type == "remote" else extension_name.partition("@")[0],
        extension_name=extension_name,
        event_source=_choice(f, "event_source", ("phone", "api")),
    )
    return Event(id=new_id(now), type=etype, ts=now, tenant=tenant, source=SOURCE, agent=agent)

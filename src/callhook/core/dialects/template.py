"""The ``template`` dialect: a request shaped by the subscription's own templates.

For receivers that cannot change (a CRM's inbound webhook with its own field
names). The method, URL, each header value and the body are templates rendered
over :func:`context` of the event: the canonical event as the ``callhook`` dialect
sends it (:func:`callhook.core.serialize.event_to_dict`), with every optional group
present (its fields empty when the event has none, so ``{{ leg.number }}`` is ""
on an agent event) and the whole dict once more as ``event``.

The engine is not here (the core imports none): the adapter that builds a
:class:`~callhook.core.subscription.Template` gives it ``render``
(:mod:`callhook.templating`, Jinja2's sandbox with StrictUndefined). The webhook's
configured headers and Basic credentials are added as in every dialect; a rendered
header of the same name wins. Every canonical type is carried (the subscription's
``events`` narrow it). There is nothing to decode: the dialect is outbound only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, configured_headers
from callhook.core.events import (
    AgentInfo,
    CallOutcome,
    CallRecord,
    Event,
    EventType,
    Hangup,
    Leg,
    Presence,
    QueueCall,
    Transfer,
)
from callhook.core.serialize import event_to_dict
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "METHODS", "NAMES", "context", "decode", "encode"]

EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType({t.value: frozenset({t}) for t in EventType})
_NO_BREAKS = {ord("\r"): " ", ord("\n"): " ", 0: " "}
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_GROUPS: Mapping[str, type[Any]] = MappingProxyType(
    {
        "leg": Leg,
        "hangup": Hangup,
        "transfer": Transfer,
        "outcome": CallOutcome,
        "record": CallRecord,
        "queue_call": QueueCall,
        "agent": AgentInfo,
        "presence": Presence,
    }
)
#: the names a template may use at its top level
NAMES = frozenset(
    {"id", "type", "ts", "tenant", "call_id", "seq", "source", "pbx", "party", "queue", "custom_field"}
    | {"variables", "event"}
    | set(_GROUPS)
)


def _empty(cls: type[Any]) -> dict[str, Any]:
    return {f.name: (None if f.default is dataclasses.MISSING else f.default) for f in dataclasses.fields(cls)}


_EMPTY = {name: _empty(cls) for name, cls in _GROUPS.items()}


def context(event: Event) -> dict[str, Any]:
    """What a template sees: the event's fields at the top level, and as ``event``."""
    d = event_to_dict(event)
    for name, empty in _EMPTY.items():
        d.setdefault(name, dict(empty))
    d.setdefault("queue", "")
    d.setdefault("pbx", "")
    d.setdefault("custom_field", "")
    d.setdefault("variables", {})
    return {**d, "event": event_to_dict(event)}


def encode(event: Event, sub: Subscription) -> Request:
    """The rendered request; ValueError when the templates are missing or their
    result is not a request (an unknown method, a URL that is not http(s))."""
    t = sub.template
    if t is None or t.render is None:
        raise ValueError("the template dialect needs the webhook's template")
    render: Callable[[str, Mapping[str, Any]], str] = t.render
    ctx = context(event)
    method = render(t.method or "POST", ctx).strip().upper()
    if method not in METHODS:
        raise ValueError(f"template.method did not render one of {', '.join(sorted(METHODS))}")
    url = sub.url  # checked when the webhook was stored
    if t.url:
        url = render(t.url, ctx).strip()
        if not url.startswith(("http://", "https://")) or any(c.isspace() for c in url):
            raise ValueError("template.url did not render an http(s) URL")
    rendered: list[tuple[str, str]] = []
    for name, source in t.headers.items():
        # a value from the event may hold a line break: never a second header (no injection)
        value = render(source, ctx).translate(_NO_BREAKS).strip()
        rendered.append((name, value))
    taken = {k.lower() for k, _ in rendered}
    base = configured_headers(sub)
    headers = (*rendered, *((k, v) for k, v in base if k.lower() not in taken))
    body = render(t.body, ctx).encode("utf-8", "replace") if t.body else b""
    return Request(method, url, tuple(headers), body)


def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    raise DecodeError("dialect", "the template dialect is outbound only: post callhook's own JSON instead")

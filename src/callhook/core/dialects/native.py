"""The ``callhook`` dialect: the canonical event itself, as JSON.

The body is :func:`callhook.core.serialize.event_to_dict` of the event, nothing
added and nothing left out (the event ``id`` is also the ``webhook-id`` of a signed
request), POSTed as ``application/json``. Every canonical type is carried, and the
names a subscription lists are the canonical type names.

Decoding is :func:`callhook.core.serialize.event_from_dict` with three changes: the
``source`` becomes ``ingest:callhook``; a non-empty ``tenant`` argument replaces the
body's tenant (a tenant can only post its own events); a missing ``id`` is
``new_id(now)`` and a present one must be a ULID (so a hub relaying to a hub keeps
its ids, and so its de-duplication).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload, json_object, json_request
from callhook.core.events import Event, EventType
from callhook.core.serialize import SerializeError, event_from_dict, event_to_dict
from callhook.core.subscription import Subscription

__all__ = ["EVENT_NAMES", "decode", "encode"]

EVENT_NAMES: Mapping[str, frozenset[EventType]] = MappingProxyType({t.value: frozenset({t}) for t in EventType})
SOURCE = "ingest:callhook"
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)


def encode(event: Event, sub: Subscription) -> Request:
    return json_request(sub, event_to_dict(event))


def decode(payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = "") -> Event:
    obj = json_object(payload)
    if "id" not in obj:
        obj["id"] = new_id(now)
    elif not (isinstance(obj["id"], str) and _ULID.fullmatch(obj["id"])):
        raise DecodeError("id", "expected a ULID (26 characters of Crockford base32)")
    try:
        event = event_from_dict(obj)
    except SerializeError as exc:
        field, _, reason = str(exc).partition(": ")
        raise DecodeError(field or "body", reason or str(exc)) from None
    except (ValueError, TypeError) as exc:
        raise DecodeError("body", str(exc)) from None
    return dataclasses.replace(event, source=SOURCE, tenant=tenant or event.tenant)

"""The wire dialects: one module per format, and this registry over them.

=========  ==============  ================================================
dialect    module          payload its decoder takes
=========  ==============  ================================================
voipex     :mod:`.voipex`  the JSON body (bytes)
pbx2is     :mod:`.pbx2is`  form pairs (query string, then body) or raw text
telphin    :mod:`.telphin` form pairs (query string, then body) or raw text
webitel    :mod:`.webitel` the JSON body (bytes)
callhook   :mod:`.native`  the JSON body (bytes)
template   :mod:`.template` outbound only (the subscription's own templates)
=========  ==============  ================================================

Each module has ``encode(event, sub) -> Request | None`` (None: the dialect has no
message for that event), ``decode(payload, *, now, new_id, tenant) -> Event`` and
``EVENT_NAMES``: the dialect's own event names -> canonical types. Signing is
separate (:mod:`.signing`): it needs the time of sending. A subscription's number
masking (:mod:`callhook.core.masking`) is applied here, before any encoder sees
the event, so no dialect can forget it. Decoders raise
:class:`DecodeError` and nothing else. docs/dialects.md has every field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from callhook.core import masking
from callhook.core.dialects import native, pbx2is, telphin, template, voipex, webitel
from callhook.core.dialects.base import DecodeError, Request
from callhook.core.dialects.wire import Payload
from callhook.core.events import Event, EventType
from callhook.core.subscription import Dialect, Subscription

__all__ = [
    "DecodeError",
    "Payload",
    "Request",
    "canonical_types",
    "carries",
    "decode",
    "encode",
    "event_names",
]


class _Decoder(Protocol):
    def __call__(
        self, payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = ""
    ) -> Event: ...


@dataclass(frozen=True, slots=True)
class _Dialect:
    encode: Callable[[Event, Subscription], Request | None]
    decode: _Decoder
    names: Mapping[str, frozenset[EventType]]
    types: frozenset[EventType]


def _entry(module: _Module) -> _Dialect:
    types = frozenset[EventType]().union(*module.EVENT_NAMES.values())
    return _Dialect(module.encode, module.decode, module.EVENT_NAMES, types)


class _Module(Protocol):
    EVENT_NAMES: Mapping[str, frozenset[EventType]]

    def encode(self, event: Event, sub: Subscription) -> Request | None: ...

    def decode(
        self, payload: Payload, *, now: datetime, new_id: Callable[[datetime], str], tenant: str = ""
    ) -> Event: ...


_DIALECTS: Mapping[Dialect, _Dialect] = MappingProxyType(
    {
        Dialect.VOIPEX: _entry(voipex),
        Dialect.PBX2IS: _entry(pbx2is),
        Dialect.TELPHIN: _entry(telphin),
        Dialect.WEBITEL: _entry(webitel),
        Dialect.CALLHOOK: _entry(native),
        Dialect.TEMPLATE: _entry(template),
    }
)


def _get(dialect: Dialect | str) -> _Dialect:
    try:
        return _DIALECTS[Dialect(dialect)]
    except ValueError:
        raise ValueError(f"unknown dialect {dialect!r}") from None


def encode(event: Event, sub: Subscription) -> Request | None:
    """The request ``sub`` gets for ``event`` (unsigned, its numbers masked as ``sub``
    says), or None when its dialect has none."""
    if sub.masking is not None:
        event = masking.mask_event(event, sub.masking)
    return _get(sub.dialect).encode(event, sub)


def carries(dialect: Dialect | str, event_type: EventType) -> bool:
    """Whether ``dialect`` has a message for (some events of) ``event_type``."""
    return event_type in _get(dialect).types


def event_names(dialect: Dialect | str) -> Mapping[str, frozenset[EventType]]:
    """The dialect's own event names and the canonical types each stands for."""
    return _get(dialect).names


def canonical_types(dialect: Dialect | str, names: Iterable[str]) -> frozenset[EventType]:
    """The canonical types that ``names`` stand for in ``dialect``.

    A name is the dialect's own (``Ringing``, ``dial``, ``agent-login``; matched
    exactly, else ignoring case) or a canonical type (``call.ringing``) the dialect
    carries. ValueError names the first name that is neither.
    """
    d = _get(dialect)
    folded = {k.lower(): v for k, v in d.names.items()}
    out: set[EventType] = set()
    for name in names:
        found = d.names.get(name) or folded.get(name.lower())
        if found is not None:
            out |= found
            continue
        try:
            etype = EventType(name)
        except ValueError:
            known = ", ".join(d.names)
            raise ValueError(f"unknown event name {name!r} for dialect {Dialect(dialect).value}: {known}") from None
        if etype not in d.types:
            raise ValueError(f"dialect {Dialect(dialect).value} has no message for {name!r}")
        out.add(etype)
    return frozenset(out)


def decode(
    dialect: Dialect | str,
    payload: Payload,
    *,
    now: datetime,
    new_id: Callable[[datetime], str],
    tenant: str = "",
) -> Event:
    """A vendor payload as a canonical event (``source`` = ``ingest:<dialect>``).

    ``now`` is the time of receipt (the event time for dialects that send none),
    ``new_id(now)`` makes the event id. Malformed input: :class:`DecodeError`.
    """
    try:
        d = _get(dialect)
    except ValueError as exc:
        raise DecodeError("dialect", str(exc)) from None
    return d.decode(payload, now=now, new_id=new_id, tenant=tenant)

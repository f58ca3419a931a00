"""Events to plain JSON-able dicts and back: the store's and the native dialect's form.

``event_to_dict`` drops empty optional groups; ``event_from_dict`` is its exact
inverse (round-trip tested) and rejects bad input with :class:`SerializeError`
naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any, TypeVar

from callhook.core.events import (
    AgentInfo,
    CallOutcome,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    Presence,
    QueueCall,
    Transfer,
)

__all__ = ["SerializeError", "event_from_dict", "event_to_dict"]


class SerializeError(ValueError):
    pass


_GROUPS: dict[str, type[Any]] = {
    "leg": Leg,
    "hangup": Hangup,
    "transfer": Transfer,
    "outcome": CallOutcome,
    "record": CallRecord,
    "queue_call": QueueCall,
    "agent": AgentInfo,
    "presence": Presence,
}

T = TypeVar("T")


def _group_to_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, datetime):
            v = v.isoformat()
        elif isinstance(v, Direction):
            v = v.value
        out[f.name] = v
    return out


def event_to_dict(ev: Event) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": ev.id,
        "type": ev.type.value,
        "ts": ev.ts.isoformat(),
        "tenant": ev.tenant,
        "call_id": ev.call_id,
        "seq": ev.seq,
        "source": ev.source,
        "party": _group_to_dict(ev.party),
    }
    if ev.party.direction is None:
        d["party"]["direction"] = None
    for name in _GROUPS:
        v = getattr(ev, name)
        if v is not None:
            d[name] = _group_to_dict(v)
    if ev.pbx:
        d["pbx"] = ev.pbx
    if ev.queue:
        d["queue"] = ev.queue
    if ev.custom_field:
        d["custom_field"] = ev.custom_field
    if ev.variables:
        d["variables"] = dict(ev.variables)
    return d


def _parse_dt(v: Any, where: str) -> datetime:
    if not isinstance(v, str):
        raise SerializeError(f"{where}: expected an ISO 8601 text")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError as exc:
        raise SerializeError(f"{where}: {exc}") from None
    if dt.tzinfo is None:
        raise SerializeError(f"{where}: timestamp needs a UTC offset")
    return dt


def _group_from_dict(cls: type[T], data: Any, where: str) -> T:
    if not isinstance(data, Mapping):
        raise SerializeError(f"{where}: expected an object")
    kw: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        v = data[f.name]
        ftype = str(f.type)
        if "datetime" in ftype:
            v = None if v is None and "None" in ftype else _parse_dt(v, f"{where}.{f.name}")
        elif "Direction" in ftype:
            try:
                v = None if v is None else Direction(v)
            except ValueError:
                raise SerializeError(f"{where}.{f.name}: unknown direction {v!r}") from None
        elif ftype == "bool":
            if not isinstance(v, bool):
                raise SerializeError(f"{where}.{f.name}: expected a boolean")
        elif ftype == "int" or ftype == "int | None":
            if not (isinstance(v, int) and not isinstance(v, bool)) and not (v is None and "None" in ftype):
                raise SerializeError(f"{where}.{f.name}: expected an integer")
        elif ftype == "float":
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise SerializeError(f"{where}.{f.name}: expected a number")
            v = float(v)
        elif ftype == "str" and not isinstance(v, str):
            raise SerializeError(f"{where}.{f.name}: expected text")
        kw[f.name] = v
    try:
        return cls(**kw)
    except TypeError as exc:
        raise SerializeError(f"{where}: {exc}") from None


def event_from_dict(d: Mapping[str, Any]) -> Event:
    if not isinstance(d, Mapping):
        raise SerializeError("event: expected an object")
    for key in ("id", "type", "ts"):
        if key not in d:
            raise SerializeError(f"{key}: required")
    try:
        etype = EventType(d["type"])
    except ValueError:
        raise SerializeError(f"type: unknown event type {d['type']!r}") from None
    if not isinstance(d["id"], str) or not d["id"]:
        raise SerializeError("id: expected non-empty text")
    seq = d.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise SerializeError("seq: expected an integer")
    kw: dict[str, Any] = {
        "id": d["id"],
        "type": etype,
        "ts": _parse_dt(d["ts"], "ts"),
        "seq": seq,
    }
    for key in ("tenant", "call_id", "source", "pbx", "queue", "custom_field"):
        if key in d:
            if not isinstance(d[key], str):
                raise SerializeError(f"{key}: expected text")
            kw[key] = d[key]
    if "party" in d:
        kw["party"] = _group_from_dict(CallParty, d["party"], "party")
    for name, cls in _GROUPS.items():
        if d.get(name) is not None:
            kw[name] = _group_from_dict(cls, d[name], name)
    if "variables" in d:
        v = d["variables"]
        if not isinstance(v, Mapping) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
            raise SerializeError("variables: expected an object of text values")
        kw["variables"] = dict(v)
    return Event(**kw)

"""Values bounded at the edge, so that no single message can stop the event path.

Everything callhook stores and sends is JSON text in a database: a value that JSON,
SQLite or PostgreSQL cannot hold would fail the commit that carries it. The edges
(the AMI reader, the ingest routes) pass what they receive through this module first.

=================  =============================================  ==================
value              AMI (lenient: Asterisk cannot be asked again)  ingest (strict)
=================  =============================================  ==================
integer beyond     clamped to +-(2**53 - 1) (I-JSON, RFC 7493:    rejected (400)
+-(2**53 - 1)      what every JSON consumer reads exactly)
float NaN/inf      0.0 / clamped to +-(2**53 - 1)                 rejected
lone surrogate     replaced by U+FFFD                             rejected
NUL character      removed (PostgreSQL text cannot hold it)       rejected
text longer than   cut to MAX_TEXT characters                     rejected
MAX_TEXT
invalid UTF-8      U+FFFD (the AMI codec decodes with "replace")  rejected (the form
                                                                  or JSON decoder)
time before 2000   --                                             rejected
or > 1 day ahead
=================  =============================================  ==================

Each bounded value is reported as an :class:`Issue` (the caller logs and counts it); a
strict bound raises :class:`OutOfBounds` naming the field by its path in the event
(``ts``, ``party.caller_name``, ``variables.X``, ``queue_call.position``).

Pure: no clock (``now`` is passed in), no I/O.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.events import Event

__all__ = [
    "EARLIEST",
    "FUTURE_SLACK",
    "MAX_INT",
    "MAX_TEXT",
    "Issue",
    "OutOfBounds",
    "bound_event",
    "bound_message",
    "bound_text",
    "needs_bounds",
]

MAX_INT = (1 << 53) - 1
MAX_TEXT = 8192
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

# Anything a lenient bound must look at: NUL or a lone surrogate (a str decoded from JSON).
_SUSPECT = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Issue:
    """One value bounded: where, what kind (``int``, ``float``, ``surrogate``, ``nul``,
    ``too_long``, ``time``) and a short human detail (never the whole value)."""

    field: str
    kind: str
    detail: str


class OutOfBounds(ValueError):
    """A strict bound refused a value: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _preview(s: str) -> str:
    return repr(s[:24] + ("..." if len(s) > 24 else ""))


def bound_text(value: str, field: str, issues: list[Issue], *, strict: bool, limit: int = MAX_TEXT) -> str:
    """``value`` fit for JSON and both databases (see the module table)."""
    if len(value) > limit:
        if strict:
            raise OutOfBounds(field, f"text longer than {limit} characters ({len(value)})")
        issues.append(Issue(field, "too_long", f"{len(value)} characters cut to {limit}"))
        value = value[:limit]
    if _SUSPECT.search(value) is None:
        return value
    if "\x00" in value:
        if strict:
            raise OutOfBounds(field, "contains a NUL character")
        issues.append(Issue(field, "nul", "NUL characters removed"))
        value = value.replace("\x00", "")
    if _SUSPECT.search(value) is not None:
        if strict:
            raise OutOfBounds(field, "contains a lone UTF-16 surrogate (not valid Unicode text)")
        issues.append(Issue(field, "surrogate", "lone surrogates replaced by U+FFFD"))
        # A str holds a valid pair as one code point: every surrogate left in it is lone.
        value = _SURROGATE.sub("\ufffd", value)
    return value


def _bound_int(value: int, field: str, issues: list[Issue], strict: bool) -> int:
    if -MAX_INT <= value <= MAX_INT:
        return value
    if strict:
        raise OutOfBounds(field, f"integer out of range (at most {MAX_INT} in absolute value)")
    clamped = MAX_INT if value > 0 else -MAX_INT
    issues.append(Issue(field, "int", f"{str(value)[:24]} clamped to {clamped}"))
    return clamped


def _bound_float(value: float, field: str, issues: list[Issue], strict: bool) -> float:
    if math.isfinite(value) and -MAX_INT <= value <= MAX_INT:
        return value
    if strict:
        raise OutOfBounds(field, "number out of range or not finite")
    fixed = 0.0 if math.isnan(value) else math.copysign(float(MAX_INT), value)
    issues.append(Issue(field, "float", f"{value!r} replaced by {fixed!r}"))
    return fixed


def _bound_time(value: datetime, field: str, now: datetime | None, strict: bool) -> datetime:
    if now is None or not strict:
        return value
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if aware < EARLIEST:
        raise OutOfBounds(field, "time before 2000-01-01")
    if aware > now + FUTURE_SLACK:
        raise OutOfBounds(field, "time more than one day in the future")
    return value


def _bound(value: Any, field: str, issues: list[Issue], strict: bool, now: datetime | None) -> Any:
    if isinstance(value, str):
        return bound_text(value, field, issues, strict=strict)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return _bound_int(value, field, issues, strict)
    if isinstance(value, float):
        return _bound_float(value, field, issues, strict)
    if isinstance(value, datetime):
        return _bound_time(value, field, now, strict)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in dataclasses.fields(value):
            old = getattr(value, f.name)
            new = _bound(old, f"{field}.{f.name}" if field else f.name, issues, strict, now)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        changed = False
        for k, v in value.items():
            key = bound_text(k, f"{field}.{k[:40]}", issues, strict=strict, limit=256) if isinstance(k, str) else k
            new = _bound(v, f"{field}.{key}", issues, strict, now)
            changed = changed or key is not k or new is not v
            out[key] = new
        return out if changed else value
    return value


def bound_event(event: Event, *, strict: bool, now: datetime | None = None) -> tuple[Event, list[Issue]]:
    """Every value of ``event`` bounded; the same object back when nothing needed it.

    ``strict`` (ingest) raises :class:`OutOfBounds` at the first value out of bounds;
    otherwise (AMI) values are clamped or replaced and listed. Times are checked only
    when strict and ``now`` (the time of receipt) is given.
    """
    issues: list[Issue] = []
    bounded = _bound(event, "", issues, strict, now)
    assert isinstance(bounded, Event)
    return bounded, issues


def _int_out(v: int) -> bool:
    return not -MAX_INT <= v <= MAX_INT


def _num_out(v: float) -> bool:
    return not (math.isfinite(v) and -MAX_INT <= v <= MAX_INT)


def needs_bounds(event: Event) -> bool:
    """A cheap check of the numbers the tracker parses from AMI text (the strings of an
    event built from bounded messages are bounded already): True when
    :func:`bound_event` would change something numeric."""
    if _int_out(event.seq):
        return True
    h, q, r = event.hangup, event.queue_call, event.record
    if h is not None and h.cause is not None and _int_out(h.cause):
        return True
    if q is not None and (
        _int_out(q.attempt_seq)
        or _int_out(q.position)
        or _num_out(q.wait)
        or _num_out(q.call_duration)
        or _num_out(q.call_bill_sec)
    ):
        return True
    return r is not None and (_int_out(r.duration) or _int_out(r.billsec))


def bound_message(msg: AmiMessage, *, limit: int = MAX_TEXT) -> tuple[AmiMessage, list[Issue]]:
    """An AMI message whose header values are all fit to store (lenient bounds).

    The common case costs two scans of the raw frame: a frame shorter than ``limit``
    without a NUL byte has nothing to bound and comes back as it is (still lazy).
    """
    raw = msg.raw
    if raw and len(raw) <= limit and b"\x00" not in raw:
        return msg, []
    issues: list[Issue] = []
    headers = tuple((k, bound_text(v, k[:64], issues, strict=False, limit=limit)) for k, v in msg.headers)
    output = tuple(bound_text(line, "output", issues, strict=False, limit=limit) for line in msg.output)
    if not issues:
        return msg, []
    return AmiMessage(headers, output), issues

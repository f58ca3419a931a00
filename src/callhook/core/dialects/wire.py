"""The two wire forms the dialects share: a JSON object and a urlencoded form.

Encoding. :func:`json_request` (voipex, webitel, callhook) POSTs a UTF-8 JSON
object, non-ASCII characters raw ("Oběd", not ``\\u011b``). :func:`form_request`
(pbx2is, telphin) puts ``application/x-www-form-urlencoded`` pairs in the query
string for ``GET`` and in the body for any other method. Both add, in this order:
the dialect's own ``Content-Type``; ``Authorization: Basic`` when the subscription
has ``auth``; then the subscription's ``headers``, except any that would replace a
header set before (compared case-insensitively) or that is not a valid header
(a name that is not an HTTP token, a value with CR, LF or NUL).

Decoding. :func:`json_object` and :func:`form_fields` turn a payload into a dict;
the readers below take one field each. Everything wrong raises
:class:`~callhook.core.dialects.base.DecodeError` naming the field, and nothing else.
A JSON ``null`` or a missing key reads as unknown: ``""``, ``None``, 0 or False.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, urlencode

from callhook.core.dialects.base import DecodeError, Request
from callhook.core.subscription import Subscription

__all__ = [
    "FORM_TYPE",
    "JSON_TYPE",
    "Payload",
    "append_query",
    "boolean",
    "configured_headers",
    "dumps",
    "form_fields",
    "form_request",
    "integer",
    "json_object",
    "json_request",
    "number",
    "parse_ts",
    "text",
]

#: bytes or str: a JSON document or a raw urlencoded string; pairs or a mapping:
#: form fields already split (query-string pairs first, then body pairs).
Payload: TypeAlias = bytes | str | Sequence[tuple[str, str]] | Mapping[str, str]

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


# ------------------------------------------------------------------ encoding
def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; a lone surrogate (never valid UTF-8) becomes ``?``."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def _headers(sub: Subscription, content_type: str | None) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    if content_type:
        out.append(("Content-Type", content_type))
    if sub.auth is not None:
        pair = f"{sub.auth.username}:{sub.auth.password}".encode("utf-8", "replace")
        out.append(("Authorization", "Basic " + base64.b64encode(pair).decode("ascii")))
    taken = {k.lower() for k, _ in out}
    for name, value in sub.headers.items():
        if name.lower() in taken or not _TOKEN.fullmatch(name) or any(c in value for c in "\r\n\0"):
            continue
        taken.add(name.lower())
        out.append((name, value))
    return tuple(out)


def configured_headers(sub: Subscription) -> tuple[tuple[str, str], ...]:
    """The webhook's Basic credentials and configured headers, as every dialect sends them."""
    return _headers(sub, None)


def json_request(sub: Subscription, obj: Mapping[str, Any]) -> Request:
    return Request("POST", sub.url, _headers(sub, JSON_TYPE), dumps(obj))


def append_query(url: str, query: str) -> str:
    """``url`` with ``query`` added after ``?`` (or ``&`` when it has a query already)."""
    base, hash_, fragment = url.partition("#")
    sep = "?" if "?" not in base else "" if base.endswith(("?", "&")) else "&"
    return f"{base}{sep}{query}{hash_}{fragment}"


def form_request(sub: Subscription, pairs: Sequence[tuple[str, str]], *, url: str | None = None) -> Request:
    """GET: the pairs appended to ``sub.url`` (or ``url`` as given, nothing appended);
    any other method: ``url or sub.url`` with the pairs as a form body."""
    method = (sub.method or "POST").upper()
    query = urlencode(pairs, encoding="utf-8", errors="replace")
    if method == "GET":
        return Request("GET", url if url is not None else append_query(sub.url, query), _headers(sub, None))
    return Request(method, url if url is not None else sub.url, _headers(sub, FORM_TYPE), query.encode("ascii"))


# ------------------------------------------------------------------ decoding
def json_object(payload: Payload) -> dict[str, Any]:
    if not isinstance(payload, bytes | str):
        raise DecodeError("body", "expected a JSON document")
    try:
        data = json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise DecodeError("body", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise DecodeError("body", "expected a JSON object")
    return data


def form_fields(payload: Payload) -> dict[str, str]:
    """Form fields by name; the first occurrence of a repeated name wins."""
    items: Any
    if isinstance(payload, bytes):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("body", "a form must be UTF-8") from None
    if isinstance(payload, str):
        try:
            items = parse_qsl(payload, keep_blank_values=True, encoding="utf-8", errors="strict")
        except ValueError as exc:
            raise DecodeError("body", f"not a urlencoded form: {exc}") from None
    elif isinstance(payload, Mapping):
        items = list(payload.items())
    elif isinstance(payload, Sequence):
        items = payload
    else:
        raise DecodeError("body", "expected form fields")
    out: dict[str, str] = {}
    for item in items:
        if not (isinstance(item, tuple | list) and len(item) == 2 and all(isinstance(x, str) for x in item)):
            raise DecodeError("body", "expected (name, value) pairs of text")
        out.setdefault(item[0], item[1])
    return out


def _kind(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "an array"}.get(
        type(v), "an object"
    )


def text(obj: Mapping[str, Any], key: str, *, required: bool = False) -> str:
    """A text field; a JSON integer is accepted as its decimal text (``From: 777888999``)."""
    v = obj.get(key)
    if isinstance(v, int) and not isinstance(v, bool):
        v = str(v)
    elif v is not None and not isinstance(v, str):
        raise DecodeError(key, f"expected text, got {_kind(v)}")
    if required and not v:
        raise DecodeError(key, "required")
    return v or ""


def integer(obj: Mapping[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
        raise DecodeError(key, f"expected an integer, got {_kind(v)}")
    return v


def number(obj: Mapping[str, Any], key: str) -> float:
    v = obj.get(key)
    if v is None:
        return 0.0
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise DecodeError(key, f"expected a number, got {_kind(v)}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf
    if not math.isfinite(f):
        raise DecodeError(key, "expected a finite number")
    return f


def boolean(obj: Mapping[str, Any], key: str) -> bool:
    v = obj.get(key)
    if v is not None and not isinstance(v, bool):
        raise DecodeError(key, f"expected a boolean, got {_kind(v)}")
    return bool(v)


def parse_ts(value: str, key: str) -> datetime:
    """An ISO 8601 time that must carry a UTC offset (or ``Z``)."""
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise DecodeError(key, f"not an ISO 8601 time: {value[:40]!r}") from None
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise DecodeError(key, "the time needs a UTC offset")
    return ts

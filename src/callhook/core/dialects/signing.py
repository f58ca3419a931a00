"""Standard Webhooks signatures (https://www.standardwebhooks.com), for every dialect.

A signed request carries three headers::

    webhook-id: <the event id>
    webhook-timestamp: <unix seconds at sending>
    webhook-signature: v1,<base64 of HMAC-SHA256(key, f"{id}.{timestamp}.{content}")>

``content`` is what the request carries: the body of a POST (JSON or form), or
for a GET (or HEAD) the query string exactly as sent, the part of the URL after the
first ``?`` and before any ``#``. The key: a secret ``whsec_<base64>`` (the
standard's form) is the base64-decoded bytes, padding optional; any other
secret is used as its UTF-8 bytes. ``webhook-signature`` may list several
space-separated signatures (key rotation): :func:`sign` given several secrets (the
current one, then the previous one while a rotation's overlap lasts) writes one
``v1,`` signature per secret, and :func:`verify` accepts any ``v1`` match.

The timestamp is an argument, never read from a clock: the dispatcher signs each
attempt at the time it sends it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
from collections.abc import Sequence

from callhook.core.dialects.base import Request

__all__ = ["SignatureError", "content_of", "secret_key", "sign", "signature", "verify"]

ID, TIMESTAMP, SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
_PREFIX = "whsec_"
_BODYLESS = frozenset({"GET", "HEAD"})


class SignatureError(ValueError):
    """A request whose signature headers are missing, stale or do not match."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``; ValueError for an empty key or bad ``whsec_`` base64."""
    if secret.startswith(_PREFIX):
        raw = secret[len(_PREFIX) :]
        try:
            key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("secret: the part after whsec_ is not valid base64") from None
    else:
        key = secret.encode("utf-8", "surrogatepass")
    if not key:
        raise ValueError("secret: empty")
    return key


def content_of(request: Request) -> bytes:
    """What the signature covers: the body, or a GET's query string as sent."""
    if request.method.upper() in _BODYLESS:
        query = request.url.partition("#")[0].partition("?")[2]
        return query.encode("utf-8", "surrogatepass")
    return request.body


def _mac(key: bytes, msg_id: str, timestamp: int, content: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode("utf-8", "surrogatepass") + content
    return hmac.new(key, signed, hashlib.sha256).digest()


def signature(key: bytes, msg_id: str, timestamp: int, content: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64>``."""
    return "v1," + base64.b64encode(_mac(key, msg_id, timestamp, content)).decode("ascii")


def sign(request: Request, secret: str | Sequence[str], msg_id: str, timestamp: int) -> Request:
    """``request`` with the three headers (replacing any it had); several secrets:
    one signature each, space-separated, in the order given."""
    secrets = (secret,) if isinstance(secret, str) else tuple(secret)
    if not secrets:
        raise ValueError("secret: none given")
    content = content_of(request)
    sig = " ".join(signature(secret_key(s), msg_id, timestamp, content) for s in secrets)
    kept = tuple((k, v) for k, v in request.headers if k.lower() not in (ID, TIMESTAMP, SIGNATURE))
    return dataclasses.replace(request, headers=(*kept, (ID, msg_id), (TIMESTAMP, str(timestamp)), (SIGNATURE, sig)))


def verify(request: Request, secret: str, *, now: int, tolerance: int = 300) -> str:
    """Check a received request's signature; returns its ``webhook-id``.

    ``now`` is the receiver's unix time; a timestamp further than ``tolerance``
    seconds from it (either way) is refused, as the standard asks.
    """
    msg_id, stamp, given = (request.header(h) for h in (ID, TIMESTAMP, SIGNATURE))
    if not (msg_id and stamp and given):
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise SignatureError("webhook-timestamp is not unix seconds")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    expected = _mac(secret_key(secret), msg_id, timestamp, content_of(request))
    for candidate in given.split():
        version, _, b64 = candidate.partition(",")
        if version != "v1":
            continue
        try:
            got = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        if hmac.compare_digest(got, expected):
            return msg_id
    raise SignatureError("no matching signature")

"""A debug webhook receiver: takes any request, says what it is, and answers as told.

Theory of operation
-------------------
One aiohttp route takes every method and path. Each request becomes a
:class:`Received` record: what came (method, path with the query as sent, headers
with secret values redacted, body), which dialect it looks like (:func:`sniff`), the
canonical event it decodes to (with the project's own decoders), whether its
Standard Webhooks signature verifies (when a secret is known) and what HTTP Basic
user it carried. Then the :class:`Behaviour` decides the answer: a fixed status,
random failures (``fail_rate``, from a seeded ``random.Random``) and a delay.

Records go to an ``on_request`` callback (``callhook receive`` prints them, ``callhook
demo`` counts them) and the last few are kept in :attr:`Receiver.recent`. Nothing
here prints; secrets are never kept in a record.

Dialect by shape: a JSON object with ``EventName`` is voipex; with ``event`` naming a
Webitel event (``Joined``, ``Offering`` ...) webitel; with ``id`` and ``type`` callhook's
own; form pairs (query string and/or urlencoded body) with ``agent_status`` are
telphin, with ``event`` naming a PBX2IS event (``dial`` ...) pbx2is.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from callhook.core import dialects
from callhook.core.dialects import DecodeError, pbx2is, webitel
from callhook.core.dialects.base import Request
from callhook.core.dialects.signing import SIGNATURE, SignatureError, verify
from callhook.core.events import Event, new_event_id
from callhook.delivery.redact import redact_headers

__all__ = ["Behaviour", "Received", "Receiver", "describe", "sniff"]

log = logging.getLogger(__name__)

JSON_DIALECTS = ("voipex", "webitel", "callhook")


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the receiver answers: ``status``, or ``fail_status`` with probability ``fail_rate``,
    after ``delay`` seconds."""

    status: int = 200
    fail_rate: float = 0.0
    fail_status: int = 500
    delay: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        if not 100 <= self.status <= 599 or not 100 <= self.fail_status <= 599:
            raise ValueError("an HTTP status is 100..599")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate is a probability, 0..1")
        if self.delay < 0:
            raise ValueError("delay must not be negative")


@dataclass(frozen=True, slots=True)
class Received:
    n: int
    at: float
    method: str
    path: str  # with the query string as sent
    headers: tuple[tuple[str, str], ...]  # secret values redacted
    body: bytes
    dialect: str  # "" when it looks like none
    event: Event | None
    error: str  # why it did not decode ("" when it did)
    signature: str  # "" unsigned, "OK", "BAD (...)", "not verified (no secret)"
    auth: str  # "" none, else "basic USER" (+ " OK"/" BAD" when a password was expected)
    status: int  # what the receiver answered


def _json(body: bytes) -> dict[str, Any] | None:
    if not body.lstrip().startswith(b"{"):
        return None
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def sniff(query: str, body: bytes, content_type: str = "") -> tuple[str, Any]:
    """(dialect, payload for its decoder) by the request's shape; ("", None) when none fits."""
    obj = _json(body)
    if obj is not None:
        if "EventName" in obj:
            return "voipex", body
        if isinstance(obj.get("event"), str) and obj["event"] in webitel.EVENT_NAMES:
            return "webitel", body
        if "id" in obj and "type" in obj:
            return "callhook", body
        return "", None
    pairs = parse_qsl(query, keep_blank_values=True)
    if body and "json" not in content_type:
        with contextlib.suppress(UnicodeDecodeError):
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    keys = dict(pairs)
    if "agent_status" in keys:
        return "telphin", pairs
    if keys.get("event", "") in pbx2is.EVENT_NAMES:
        return "pbx2is", pairs
    return "", None


def payload_for(dialect: str, query: str, body: bytes) -> Any:
    """The decoder's payload when the dialect is named rather than sniffed."""
    if dialect in JSON_DIALECTS:
        return body
    pairs = parse_qsl(query, keep_blank_values=True)
    if body:
        pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return pairs


def describe(ev: Event) -> str:
    """One line about a canonical event: type, call, who, and the detail that matters."""
    parts = [ev.type.value]
    if ev.call_id:
        parts.append(f"call={ev.call_id}")
    p = ev.party
    if p.caller_num or p.called_num:
        parts.append(f"{p.caller_num or '?'} -> {p.called_num or '?'}")
    if ev.leg is not None and ev.leg.number:
        parts.append(f"leg={ev.leg.number}")
    if ev.queue:
        parts.append(f"queue={ev.queue}")
    if ev.agent is not None:
        parts.append(f"agent={ev.agent.login or ev.agent.number or ev.agent.agent_id}")
        if ev.agent.pause_reason:
            parts.append(f"reason={ev.agent.pause_reason!r}")
    if ev.hangup is not None and ev.hangup.reason:
        parts.append(f"reason={ev.hangup.reason!r}")
    return " ".join(parts)


def _basic_user(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError):
        return ("?", "")
    return user, password


class Receiver:
    """The aiohttp receiver. ``secret`` verifies signatures; ``basic`` (user, password)
    checks HTTP Basic; ``dialect`` skips sniffing."""

    def __init__(
        self,
        behaviour: Behaviour | None = None,
        *,
        secret: str = "",
        dialect: str = "",
        basic: tuple[str, str] | None = None,
        on_request: Callable[[Received], None] | None = None,
        keep: int = 20,
    ) -> None:
        self.behaviour = behaviour or Behaviour()
        self.secret = secret
        self.dialect = dialect
        self.basic = basic
        self.on_request = on_request
        self.recent: deque[Received] = deque(maxlen=keep)
        self.counts: Counter[str] = Counter()  # by dialect ("" unknown)
        self.answers: Counter[int] = Counter()
        self.signatures: Counter[str] = Counter()  # OK / BAD
        self.total = 0
        self._rng = random.Random(self.behaviour.seed)  # noqa: S311 (simulated failures, not a secret)
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        app = web.Application(client_max_size=4 << 20)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        self.host, self.port = host, int(self._runner.addresses[0][1])
        log.debug("receiver listening on %s", self.url)
        return self.port

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _answer_status(self) -> int:
        b = self.behaviour
        if b.fail_rate and self._rng.random() < b.fail_rate:
            return b.fail_status
        return b.status

    def _signature(self, req: Request) -> str:
        if req.header(SIGNATURE) is None:
            return ""
        if not self.secret:
            return "not verified (no secret)"
        try:
            verify(req, self.secret, now=int(time.time()))
        except SignatureError as exc:
            return f"BAD ({exc})"
        except ValueError as exc:  # an unusable secret
            return f"BAD ({exc})"
        return "OK"

    def _auth(self, header: str) -> str:
        found = _basic_user(header)
        if found is None:
            return ""
        user, password = found
        if self.basic is None:
            return f"basic {user}"
        ok = (user, password) == self.basic
        return f"basic {user} {'OK' if ok else 'BAD'}"

    def inspect(self, query: str, headers: tuple[tuple[str, str], ...], body: bytes) -> tuple[str, Event | None, str]:
        """(dialect, event, error) for one request."""
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        if self.dialect:
            dialect, payload = self.dialect, payload_for(self.dialect, query, body)
        else:
            dialect, payload = sniff(query, body, ctype)
        if not dialect:
            return "", None, "looks like no dialect"
        now = datetime.now(UTC)
        try:
            ev = dialects.decode(dialect, payload, now=now, new_id=lambda ts: new_event_id(int(now.timestamp() * 1000)))
        except DecodeError as exc:
            return dialect, None, str(exc)
        return dialect, ev, ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = tuple((k, v) for k, v in request.headers.items())
        query = request.rel_url.raw_query_string
        req = Request(request.method, request.raw_path, headers, body)
        dialect, event, error = self.inspect(query, headers, body)
        signature = self._signature(req)
        auth = self._auth(request.headers.get("Authorization", ""))
        status = self._answer_status()
        self.total += 1
        rec = Received(
            n=self.total,
            at=time.time(),
            method=request.method,
            path=request.raw_path,
            headers=redact_headers(headers),
            body=body,
            dialect=dialect,
            event=event,
            error=error,
            signature=signature,
            auth=auth,
            status=status,
        )
        self.counts[dialect] += 1
        self.answers[status] += 1
        if signature:
            self.signatures[signature.partition(" ")[0]] += 1
        self.recent.append(rec)
        if self.on_request is not None:
            self.on_request(rec)
        if self.behaviour.delay:
            await asyncio.sleep(self.behaviour.delay)
        return web.json_response({"ok": 200 <= status < 300, "n": rec.n}, status=status)

    def summary(self) -> str:
        """``received N requests: voipex 3, ...; answered 200 x N; signatures OK n``."""
        by = ", ".join(f"{d or 'unknown'} {n}" for d, n in sorted(self.counts.items()))
        answers = ", ".join(f"{s} x{n}" for s, n in sorted(self.answers.items()))
        out = f"received {self.total} requests" + (f": {by}" if by else "")
        if answers:
            out += f"; answered {answers}"
        if self.signatures:
            out += "; signatures " + ", ".join(f"{k} {n}" for k, n in sorted(self.signatures.items()))
        return out

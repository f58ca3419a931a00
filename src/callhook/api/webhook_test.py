"""``POST /api/v1/webhooks/{id}/test``: one test event to one webhook, and what came of it.

The test goes the way real events go -- stored, with a delivery in the outbox, sent
by the dispatcher (signed, through the endpoint's circuit breaker, its attempt
recorded) -- but to the one webhook only: the delivery is made for that webhook
alone, whatever else would match the event, and the event is not published on the
live stream. :func:`sample_for` picks the first of a few candidate events that the
webhook's routing lets through (its event types, filters, tenant) and its dialect
has a message for; the caller number is the test marker ``000000000`` and the call
id starts with ``test-`` (a call of its own: no earlier delivery holds it up).

The route waits up to ``wait`` seconds for the first attempt and answers with it:
the HTTP status (or the error), the duration, the request as sent (credentials
redacted) and the start of the response body. A test delivery that failed stays
pending like any other and is retried by the dispatcher; ``DELETE``-ing the
webhook or retrying by hand works on it as on any delivery.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from callhook.api.times import Timestamp
from callhook.core import dialects
from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Leg, QueueCall, new_event_id
from callhook.core.retry import RetryPolicy
from callhook.core.routing import matches, order_key
from callhook.core.subscription import Subscription
from callhook.delivery.redact import redact_headers, redact_url
from callhook.store.base import FINAL, DeliveryQuery, NewDelivery, NewEvent

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["TEST_CALLER", "AttemptOut", "SentOut", "TestOut", "run_test", "sample_for"]

TEST_CALLER = "000000000"
POLL = 0.05
BODY_SHOWN = 4096


class SentOut(BaseModel):
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str


class AttemptOut(BaseModel):
    at: Timestamp
    status: int | None
    duration_ms: float
    error: str
    response_body: str


class TestOut(BaseModel):
    webhook: str
    event_id: str
    event_type: str
    delivery_id: int
    delivery_status: str
    ok: bool
    attempt: AttemptOut | None
    sent: SentOut
    detail: str


def _candidates(sub: Subscription, now: datetime) -> Iterable[Event]:
    f = sub.filters
    marker = secrets.token_hex(6)
    exten, login, queue = f.extension or "20", f.agent or f"test-{marker}", f.queue
    call_id = f"test-{marker}"
    party = CallParty(
        caller_num=TEST_CALLER,
        caller_name="callhook test",
        called_num=exten,
        direction=Direction.INCOMING,
        caller_type="external",
    )
    leg = Leg(number=exten, name="callhook test", login=login, leg_id=f"{call_id}.1", channel=f"Test/{exten}")
    agent = AgentInfo(
        login=login,
        number=exten,
        name="callhook test",
        interface=f"Test/{exten}",
        extension_name=f"{exten}@test",
        agent_id=exten,
        event_source="api",
    )

    def ev(t: EventType, **kw: Any) -> Event:
        kw.setdefault("call_id", call_id)
        kw.setdefault("party", party)
        kw.setdefault("queue", queue)
        return Event(id=new_event_id(int(now.timestamp() * 1000)), type=t, ts=now, tenant=sub.tenant, seq=1, **kw)

    yield ev(EventType.CALL_NEW)
    yield ev(EventType.CALL_RINGING, leg=leg)
    yield ev(EventType.QUEUE_JOINED, queue=queue or "TEST", queue_call=QueueCall(member_channel_id=f"{call_id}.0"))
    yield ev(EventType.AGENT_LOGIN, call_id="", party=CallParty(), agent=agent)


def sample_for(sub: Subscription, now: datetime) -> Event | None:
    """An event ``sub`` gets a request for, or None when none of the candidates fits."""
    for event in _candidates(sub, now):
        if matches(sub, event) and dialects.encode(event, sub) is not None:
            return event
    return None


def _text(b: bytes) -> str:
    return b[:BODY_SHOWN].decode("utf-8", "replace")


async def run_test(hub: Hub, sub: Subscription, event: Event, wait: float) -> TestOut:
    """Store ``event`` with one delivery, to ``sub`` only; wait for its first attempt."""
    req = dialects.encode(event, sub)
    assert req is not None  # sample_for checked it
    now = hub.now()
    delivery = NewDelivery(
        sub.id, sub.tenant, order_key(event), req, now, RetryPolicy().expires_at(event.type.value, now)
    )
    await hub.store.append([NewEvent(event, (delivery,))], now)
    deadline = time.monotonic() + wait
    while True:
        page = await hub.store.list_deliveries(DeliveryQuery(event_id=event.id, subscription_id=sub.id, limit=1))
        d = page.items[0] if page.items else None
        if d is not None and (d.attempts > 0 or d.status.value in FINAL or time.monotonic() >= deadline):
            break
        if d is None and time.monotonic() >= deadline:
            raise RuntimeError(f"the test delivery of event {event.id} was not stored")
        await asyncio.sleep(POLL)
    found = await hub.store.get_delivery(d.id)
    attempts = found[1] if found is not None else []
    last = attempts[-1] if attempts else None
    sent = SentOut(
        method=(last.method if last else req.method),
        url=last.url if last else redact_url(req.url),
        headers=list(last.headers if last else redact_headers(req.headers)),
        body=_text(req.body),
    )
    attempt = (
        AttemptOut(
            at=last.at,
            status=last.status,
            duration_ms=last.duration_ms,
            error=last.error,
            response_body=_text(last.body),
        )
        if last
        else None
    )
    ok = last is not None and last.status is not None and 200 <= last.status < 300
    return TestOut(
        webhook=sub.id,
        event_id=event.id,
        event_type=event.type.value,
        delivery_id=d.id,
        delivery_status=d.status.value,
        ok=ok,
        attempt=attempt,
        sent=sent,
        detail=_detail(d.status.value, last, wait, d.last_error),
    )


def _detail(status: str, last: Any, wait: float, last_error: str) -> str:
    if last is None:
        if status in FINAL:
            return f"the delivery is {status}: {last_error or 'not sent'}"
        return (
            f"not attempted within {wait:g}s (still {status}: the endpoint's circuit may be open, "
            "or the dispatcher is busy); it will be sent"
        )
    how = f"HTTP {last.status}" if last.status is not None else (last.error or "no answer")
    if last.status is not None and 200 <= last.status < 300:
        return f"answered {how} in {last.duration_ms:.0f} ms"
    again = "; callhook will retry it" if status == "pending" else ""
    return f"{how} after {last.duration_ms:.0f} ms{again}"

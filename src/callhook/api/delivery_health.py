"""``GET /api/v1/delivery-health``: every webhook's delivery health on one page.

Per webhook the token sees: over the last ``window`` seconds (default an hour) the
attempts, the success rate (2xx attempts / attempts), the p50 and p99 latency of
the attempts (nearest rank, in ms) and the last failed attempt's error; now, the
backlog (pending + inflight deliveries), the dead and expired deliveries, the loss
ledger (``ledger``: see :mod:`callhook.api.ledger`), its own delivery limits
(``limits``, :mod:`callhook.api.limits`) and how many deliveries they deferred, and the
circuit breaker of its endpoint (scheme, host and port: shared by the webhooks of
one endpoint) as the dispatcher of this process sees it; ``open_until`` is when an
open circuit lets its next probe through.

``POST /api/v1/deliveries/send-now?subscription_id=`` is "send now" for a whole
webhook: every pending delivery of it waiting for a retry becomes due now, and an
open circuit of its endpoint lets its probe go at once (if the endpoint is still
down, the probe fails and the circuit opens again, its cool-down doubled). Retrying
a webhook's dead letters is ``POST /api/v1/dead-letters/retry?subscription_id=``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from callhook.api.auth import Auth
from callhook.api.ledger import LedgerOut
from callhook.api.limits import LimitsModel
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.api.times import Timestamp
from callhook.core.events import EventType
from callhook.delivery.endpoints import endpoint_key
from callhook.delivery.redact import redact_url
from callhook.store.base import DeliveryQuery, EventQuery, LedgerRow, Status

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["deliveries"], responses=ERRORS)


class DisabledNotice(BaseModel):
    reason: str  # "410 Gone" or "failing since <time>"
    at: Timestamp
    event_id: str


async def _notices(hub: Hub) -> dict[str, DisabledNotice]:
    """The newest webhook.disabled notice of each webhook (among the last 1000)."""
    page = await hub.store.list_events(EventQuery(type=EventType.WEBHOOK_DISABLED.value, limit=1000))
    out: dict[str, DisabledNotice] = {}
    for ev in page.items:  # newest first
        sid = ev.variables.get("subscription_id", "")
        if sid and sid not in out:
            out[sid] = DisabledNotice(reason=ev.variables.get("reason", ""), at=ev.ts.timestamp(), event_id=ev.id)
    return out


class LimitedOut(BaseModel):
    in_flight: int  # its requests in flight now (counted while it has limits)
    deferred: int  # deliveries deferred by its limits since the process started (no attempt counted)


def _limited(hub: Hub, sub_id: str) -> LimitedOut:
    snap = hub.dispatcher.limits.snapshot(sub_id)
    return LimitedOut(in_flight=snap.in_flight, deferred=snap.deferred) if snap else LimitedOut(in_flight=0, deferred=0)


class BreakerOut(BaseModel):
    endpoint: str
    state: str  # closed | open | half-open
    failures: int
    open_until: Timestamp | None


class WebhookHealth(BaseModel):
    id: str
    url: str
    dialect: str
    method: str
    tenant: str
    description: str
    enabled: bool
    window: int
    attempts: int
    successes: int
    success_rate: float | None
    p50_ms: float | None
    p99_ms: float | None
    last_error: str
    last_error_at: Timestamp | None
    backlog: int
    dead: int
    expired: int
    ledger: LedgerOut  # the loss ledger of this webhook (GET /api/v1/webhooks/{id}/ledger)
    limits: LimitsModel | None  # its own delivery limits (null: none)
    disabled_notice: DisabledNotice | None  # why and when it was disabled (its last webhook.disabled)
    limited: LimitedOut  # how this process applies them now
    breaker: BreakerOut


def _breakers(hub: Hub) -> dict[str, BreakerOut]:
    endpoints = hub.endpoints
    return {
        s.key: BreakerOut(endpoint=s.key, state=s.state.value, failures=s.failures, open_until=s.open_until)
        for s in endpoints.snapshot()
    }


@router.get("/delivery-health", response_model=list[WebhookHealth])
async def delivery_health(
    request: Request,
    p: Auth,
    window: Annotated[int, Query(ge=60, le=30 * 86400, description="seconds back")] = 3600,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
) -> list[WebhookHealth]:
    """Success rate, latency, backlog, dead letters and circuit breaker of every webhook."""
    hub = hub_of(request)
    since = hub.now() - window
    breakers = _breakers(hub)
    notices = await _notices(hub)
    out = []
    for sub in await hub.store.list_subscriptions(tenant=p.scope(tenant)):
        st = await hub.store.subscription_stats(sub.id, since)
        counts = await hub.store.counts(subscription_id=sub.id)
        rows = await hub.store.ledger(subscription_id=sub.id)
        led = LedgerOut.of(rows[0] if rows else LedgerRow(sub.id, sub.tenant))
        key = endpoint_key(sub.url)
        breaker = breakers.get(key) or BreakerOut(endpoint=key, state="closed", failures=0, open_until=None)
        out.append(
            WebhookHealth(
                id=sub.id,
                url=redact_url(sub.url),
                dialect=sub.dialect.value,
                method=sub.method,
                tenant=sub.tenant,
                description=sub.description,
                enabled=sub.enabled,
                window=window,
                attempts=st.attempts,
                successes=st.successes,
                success_rate=st.success_rate,
                p50_ms=st.p50_ms,
                p99_ms=st.p99_ms,
                last_error=st.last_error,
                last_error_at=st.last_error_at,
                backlog=counts.backlog,
                dead=counts.dead,
                expired=counts.expired,
                ledger=led,
                limits=LimitsModel.of(sub),
                limited=_limited(hub, sub.id),
                disabled_notice=None if sub.enabled else notices.get(sub.id),
                breaker=breaker,
            )
        )
    return out


class SendNowOut(BaseModel):
    count: int  # pending deliveries made due now
    breaker_opened: bool  # the endpoint's circuit was open and lets its probe go now


@router.post("/deliveries/send-now", response_model=SendNowOut)
async def send_webhook_now(
    request: Request,
    p: Auth,
    subscription_id: Annotated[str, Query(min_length=1, max_length=128)],
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> SendNowOut:
    """Every pending delivery of one webhook due now, and its endpoint's open circuit probed now."""
    hub = hub_of(request)
    sub = await hub.store.get_subscription(subscription_id, tenant=p.tenant)
    if sub is None:
        raise HTTPException(status_code=404, detail=f"no webhook {subscription_id!r}")
    now = hub.now()
    # the circuit first: a delivery claimed between the two steps must find it letting a probe through
    opened = hub.endpoints.get(sub.url).try_now(now)
    page = await hub.store.list_deliveries(
        DeliveryQuery(tenant=p.tenant, subscription_id=sub.id, status=Status.PENDING, limit=limit)
    )
    n = 0
    for d in page.items:
        n += bool(await hub.store.expedite(d.id, now, tenant=p.tenant))
    return SendNowOut(count=n, breaker_opened=opened)

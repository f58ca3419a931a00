"""``/api/v1/deliveries`` and ``/api/v1/dead-letters``: the outbox, its attempts, retry and replay.

A delivery is one event on its way to one webhook. Lists are newest first with keyset
paging. The stored request is shown without credentials: the URL loses any
``user:password@`` and secret-looking query values, secret-looking headers
(Authorization, tokens, keys) their values; the body is shown as text.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS, Before, Limit, PageOut, Since, Until, epoch, invalid
from callhook.api.services import hub_of
from callhook.api.times import Timestamp
from callhook.delivery.redact import redact_headers, redact_url
from callhook.store.base import Attempt, Delivery, DeliveryQuery, Page, Status

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["deliveries"], responses=ERRORS)

Id = Annotated[str | None, Query(max_length=128)]
MAX_ID = 2**63 - 1  # the stores' id column (a signed 64-bit integer); a larger id names nothing
DeliveryId = Annotated[int, PathParam(description="a delivery id (an id out of range is a 404)")]
MAX_BODY_SHOWN = 64 * 1024
MAX_CALL_DELIVERIES = 500


class RequestOut(BaseModel):
    method: str
    url: str
    headers: list[tuple[str, str]]
    body: str


class DeliveryOut(BaseModel):
    id: int
    event_id: str
    subscription_id: str
    tenant: str
    order_key: str
    status: Status
    attempts: int
    next_at: Timestamp
    expires_at: Timestamp | None
    created_at: Timestamp
    finished_at: Timestamp | None
    last_error: str
    last_status: int | None
    replay_of: int | None
    request: RequestOut


class AttemptOut(BaseModel):
    id: int
    at: Timestamp
    method: str
    url: str
    headers: list[tuple[str, str]]
    status: int | None
    body: str
    duration_ms: float
    error: str


class DeliveryDetail(DeliveryOut):
    attempt_log: list[AttemptOut]


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    subscription_id: Annotated[str, Field(max_length=128)] | None = None
    since: datetime | None = Field(default=None, description="deliveries created from then (ISO 8601 or Unix seconds)")
    until: datetime | None = Field(default=None, description="deliveries created before then")
    limit: Annotated[int, Field(ge=1, le=100_000)] = 10_000
    call_id: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="only the deliveries of this call's events"
    )


class CountOut(BaseModel):
    count: int


def _text(b: bytes) -> str:
    return b[:MAX_BODY_SHOWN].decode("utf-8", "replace")


def delivery_out(d: Delivery) -> DeliveryOut:
    r = d.request
    return DeliveryOut(
        id=d.id,
        event_id=d.event_id,
        subscription_id=d.subscription_id,
        tenant=d.tenant,
        order_key=d.order_key,
        status=d.status,
        attempts=d.attempts,
        next_at=d.next_at,
        expires_at=d.expires_at,
        created_at=d.created_at,
        finished_at=d.finished_at,
        last_error=d.last_error,
        last_status=d.last_status,
        replay_of=d.replay_of,
        request=RequestOut(
            method=r.method, url=redact_url(r.url), headers=list(redact_headers(r.headers)), body=_text(r.body)
        ),
    )


def attempt_out(a: Attempt) -> AttemptOut:
    return AttemptOut(
        id=a.id,
        at=a.at,
        method=a.method,
        url=redact_url(a.url),
        headers=list(redact_headers(a.headers)),
        status=a.status,
        body=_text(a.body),
        duration_ms=a.duration_ms,
        error=a.error,
    )


def _cursor(before: str | None) -> int | None:
    if before is None:
        return None
    try:
        return max(-MAX_ID, min(int(before), MAX_ID))  # past the last id possible: the same page
    except ValueError:
        raise invalid("query", "before", "expected a delivery id") from None


def _known(delivery_id: int) -> None:
    if not 1 <= delivery_id <= MAX_ID:
        raise HTTPException(status_code=404, detail=f"no delivery {delivery_id}")


@router.get("/deliveries", response_model=PageOut[DeliveryOut])
async def list_deliveries(
    request: Request,
    p: Auth,
    subscription_id: Id = None,
    status: Status | None = None,
    event_id: Id = None,
    call_id: Id = None,
    since: Since = None,
    until: Until = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    before: Before = None,
    limit: Limit = 100,
) -> PageOut[DeliveryOut]:
    """Deliveries, newest first, filtered by webhook, status, event, call and creation time."""
    q = DeliveryQuery(
        tenant=p.scope(tenant),
        subscription_id=subscription_id,
        status=status,
        event_id=event_id,
        call_id=call_id,
        since=epoch(request, since),
        until=epoch(request, until, "until"),
        before_id=_cursor(before),
        limit=limit,
    )
    page: Page[Delivery] = await hub_of(request).store.list_deliveries(q)
    return PageOut(items=[delivery_out(d) for d in page.items], next_cursor=page.next_cursor)


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(delivery_id: DeliveryId, request: Request, p: Auth) -> DeliveryDetail:
    """One delivery with every attempt made."""
    _known(delivery_id)
    found = await hub_of(request).store.get_delivery(delivery_id, tenant=p.tenant)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no delivery {delivery_id}")
    d, attempts = found
    return DeliveryDetail(**delivery_out(d).model_dump(), attempt_log=[attempt_out(a) for a in attempts])


@router.post(
    "/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses={409: {"description": "the delivery is not dead or expired"}},
)
async def retry_delivery(delivery_id: DeliveryId, request: Request, p: Auth) -> DeliveryOut:
    """A dead or expired delivery back to pending, due now."""
    _known(delivery_id)
    hub = hub_of(request)
    found = await hub.store.get_delivery(delivery_id, tenant=p.tenant)
    if found is None:
        raise HTTPException(status_code=404, detail=f"no delivery {delivery_id}")
    if found[0].status not in (Status.DEAD, Status.EXPIRED):
        raise HTTPException(
            status_code=409,
            detail=f"delivery {delivery_id} is {found[0].status.value}: only a dead or expired delivery can be retried",
        )
    if not await hub.store.retry_delivery(delivery_id, hub.now(), tenant=p.tenant):
        raise HTTPException(status_code=409, detail=f"delivery {delivery_id} changed meanwhile; try again")
    again = await hub.store.get_delivery(delivery_id, tenant=p.tenant)
    return delivery_out(again[0] if again is not None else found[0])


@router.post(
    "/deliveries/{delivery_id}/send-now",
    response_model=DeliveryOut,
    responses={409: {"description": "the delivery is not pending"}},
)
async def send_now(delivery_id: DeliveryId, request: Request, p: Auth) -> DeliveryOut:
    """A pending delivery waiting for its next retry: due now (after the endpoint recovered)."""
    _known(delivery_id)
    hub = hub_of(request)
    if not await hub.store.expedite(delivery_id, hub.now(), tenant=p.tenant):
        found = await hub.store.get_delivery(delivery_id, tenant=p.tenant)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no delivery {delivery_id}")
        raise HTTPException(
            status_code=409,
            detail=f"delivery {delivery_id} is {found[0].status.value}: only a pending delivery can be sent now",
        )
    again = await hub.store.get_delivery(delivery_id, tenant=p.tenant)
    if again is None:
        raise HTTPException(status_code=404, detail=f"no delivery {delivery_id}")
    return delivery_out(again[0])


@router.get("/calls/{call_id}/deliveries", response_model=list[DeliveryDetail])
async def call_deliveries(
    call_id: Annotated[str, PathParam(max_length=128)], request: Request, p: Auth
) -> list[DeliveryDetail]:
    """Every delivery of one call's events (oldest first, at most 500), each with its attempts."""
    store = hub_of(request).store
    page = await store.list_deliveries(DeliveryQuery(tenant=p.tenant, call_id=call_id, limit=MAX_CALL_DELIVERIES))
    out = []
    for d in sorted(page.items, key=lambda d: d.id):
        found = await store.get_delivery(d.id, tenant=p.tenant)
        attempts = found[1] if found is not None else []
        out.append(DeliveryDetail(**delivery_out(d).model_dump(), attempt_log=[attempt_out(a) for a in attempts]))
    return out


@router.post("/deliveries/replay", response_model=CountOut)
async def replay(body: ReplayIn, request: Request, p: Auth) -> CountOut:
    """Send finished deliveries again (as new deliveries) by webhook, call and/or creation time range.

    At least one of ``subscription_id``, ``call_id`` and ``since`` is required, so that a
    bare call does not replay the whole history.
    """
    if body.subscription_id is None and body.since is None and body.call_id is None:
        raise invalid("body", "subscription_id", "give subscription_id, call_id and/or since")
    hub = hub_of(request)
    if (
        body.subscription_id is not None
        and await hub.store.get_subscription(body.subscription_id, tenant=p.tenant) is None
    ):
        raise HTTPException(status_code=404, detail=f"no webhook {body.subscription_id!r}")
    n = await hub.store.replay(
        hub.now(),
        subscription_id=body.subscription_id,
        since=epoch(request, body.since),
        until=epoch(request, body.until, "until"),
        tenant=p.tenant,
        limit=body.limit,
        call_id=body.call_id,
    )
    return CountOut(count=n)


@router.get("/dead-letters", response_model=PageOut[DeliveryOut])
async def dead_letters(
    request: Request,
    p: Auth,
    subscription_id: Id = None,
    since: Since = None,
    until: Until = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    before: Before = None,
    limit: Limit = 100,
) -> PageOut[DeliveryOut]:
    """Deliveries given up on: dead (out of tries) and expired (out of lifetime), newest first."""
    store = hub_of(request).store
    base = DeliveryQuery(
        tenant=p.scope(tenant),
        subscription_id=subscription_id,
        since=epoch(request, since),
        until=epoch(request, until, "until"),
        before_id=_cursor(before),
        limit=limit,
    )
    pages = [await store.list_deliveries(replace(base, status=s)) for s in (Status.DEAD, Status.EXPIRED)]
    merged = sorted((d for pg in pages for d in pg.items), key=lambda d: d.id, reverse=True)
    items = merged[:limit]
    more = len(merged) > limit or any(pg.next_cursor is not None for pg in pages)
    return PageOut(items=[delivery_out(d) for d in items], next_cursor=str(items[-1].id) if more and items else None)


@router.post("/dead-letters/retry", response_model=CountOut)
async def retry_dead_letters(
    request: Request, p: Auth, subscription_id: Id = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
) -> CountOut:
    """Retry up to ``limit`` dead deliveries (of one webhook, or all the token sees)."""
    hub = hub_of(request)
    page = await hub.store.list_deliveries(
        DeliveryQuery(tenant=p.tenant, subscription_id=subscription_id, status=Status.DEAD, limit=limit)
    )
    n = 0
    for d in page.items:
        n += bool(await hub.store.retry_delivery(d.id, hub.now(), tenant=p.tenant))
    return CountOut(count=n)

"""``GET /api/v1/ledger`` and ``GET /api/v1/webhooks/{id}/ledger``: the loss ledger.

What became of every delivery callhook ever routed, per webhook and in total::

    routed = delivered + pending + inflight + dead + expired
    dead   = dead_gave_up + dead_disabled + dead_deleted

``dead_gave_up`` is the failure monitoring should alert on (retries exhausted, a
permanent answer, nothing to encode); ``dead_disabled``: the webhook was disabled
before they were sent; ``dead_deleted``: the webhook was deleted (its open deliveries
end at the delete). ``replays`` counts the routed rows that are replays (each replay
is a new delivery of an already stored event). A deleted webhook keeps its ledger
(``deleted: true``). A tenant token sees its own tenant's deliveries only.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.store.base import LedgerRow
from callhook.store.ledger import total

__all__ = ["LedgerOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["deliveries"], responses=ERRORS)


class LedgerOut(BaseModel):
    subscription_id: str  # "" in the total
    tenant: str
    deleted: bool  # the webhook no longer exists (always false in the total)
    routed: int
    delivered: int
    pending: int
    inflight: int
    dead: int
    dead_gave_up: int
    dead_disabled: int
    dead_deleted: int
    expired: int
    replays: int

    @classmethod
    def of(cls, r: LedgerRow, deleted: bool = False) -> LedgerOut:
        return cls(
            subscription_id=r.subscription_id,
            tenant=r.tenant,
            deleted=deleted,
            routed=r.routed,
            delivered=r.delivered,
            pending=r.pending,
            inflight=r.inflight,
            dead=r.dead,
            dead_gave_up=r.dead_gave_up,
            dead_disabled=r.dead_disabled,
            dead_deleted=r.dead_deleted,
            expired=r.expired,
            replays=r.replays,
        )


class LedgerPage(BaseModel):
    total: LedgerOut
    subscriptions: list[LedgerOut]


@router.get("/ledger", response_model=LedgerPage)
async def ledger(request: Request, p: Auth, tenant: Annotated[str | None, Query(max_length=256)] = None) -> LedgerPage:
    """The loss ledger of every webhook the token sees (deleted ones included) and their total."""
    hub = hub_of(request)
    scope = p.scope(tenant)
    rows = await hub.store.ledger(tenant=scope)
    live = {s.id for s in await hub.store.list_subscriptions(tenant=scope)}
    out = [LedgerOut.of(r, r.subscription_id not in live) for r in rows]
    tot = LedgerOut.of(total(rows))
    tot.tenant = scope or ""
    return LedgerPage(total=tot, subscriptions=out)


@router.get("/webhooks/{sub_id}/ledger", response_model=LedgerOut)
async def webhook_ledger(request: Request, p: Auth, sub_id: str) -> LedgerOut:
    """One webhook's loss ledger (also of a deleted webhook that had deliveries)."""
    hub = hub_of(request)
    sub = await hub.store.get_subscription(sub_id, tenant=p.tenant)
    rows = await hub.store.ledger(tenant=p.tenant, subscription_id=sub_id)
    if sub is None and not rows:
        raise HTTPException(status_code=404, detail=f"no webhook {sub_id!r}")
    row = rows[0] if rows else LedgerRow(sub_id, sub.tenant if sub is not None else "")
    return LedgerOut.of(row, sub is None)

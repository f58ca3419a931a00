"""``POST /api/v1/webhooks/preview`` and ``/{id}/preview``: the request a webhook would
get, rendered for a recorded event or the sample, nothing sent (credentials redacted)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import HTTPException
from pydantic import BaseModel, ConfigDict, Field

from callhook import templating
from callhook.core import dialects
from callhook.core.subscription import Subscription
from callhook.delivery.redact import redact_headers, redact_url
from callhook.store.base import EventQuery

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["PreviewIn", "PreviewOut", "render_preview"]


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_id: Annotated[str, Field(max_length=64, description="a recorded event; left out: the sample event")] = ""


class PreviewOut(BaseModel):
    event_id: str
    event_type: str
    sample: bool = Field(description="true: rendered against the sample event, not a recorded one")
    method: str
    url: str
    headers: list[list[str]] = Field(description="[name, value] pairs, credentials redacted")
    body: str


async def render_preview(hub: Hub, tenant: str | None, sub: Subscription, event_id: str) -> PreviewOut:
    """The request ``sub`` would get for the recorded event ``event_id`` (in ``tenant``
    when not None) or the sample: 404 without such an event, 409 when the dialect has
    no message for it, 422 when the template fails on it."""
    event = templating.sample_event()
    if event_id:
        # ids sort as text: the newest id below event_id + "0" is event_id itself when it exists
        page = await hub.store.list_events(EventQuery(tenant=tenant, before_id=event_id + "0", limit=1))
        if not page.items or page.items[0].id != event_id:
            raise HTTPException(status_code=404, detail=f"no event {event_id!r}")
        event = page.items[0]
    try:
        req = dialects.encode(event, sub)
    except ValueError as exc:
        raise HTTPException(
            status_code=422, detail=[{"loc": ["body", "template"], "msg": str(exc), "type": "value_error"}]
        ) from None
    if req is None:
        raise HTTPException(status_code=409, detail=f"dialect {sub.dialect.value} has no message for {event.type}")
    return PreviewOut(
        event_id=event.id,
        event_type=event.type.value,
        sample=not event_id,
        method=req.method,
        url=redact_url(req.url),
        headers=[[k, v] for k, v in redact_headers(req.headers)],
        body=req.body.decode("utf-8", "replace"),
    )

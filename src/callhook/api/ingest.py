"""``/ingest/{dialect}``: events that cloud PBXs post, taken exactly as the vendors send them.

=========  ====================================================================
voipex     POST, a JSON object (``EventName``, ``From``, ``To`` ...)
pbx2is     GET with the query string, or POST with a urlencoded form (and/or a
           query string): ``event=dial&ts=...&call_id=...``
telphin    GET query string or POST form: ``agent_id``, ``agent_status`` ...
webitel    POST, a JSON object (a queue hook)
callhook   POST, callhook's own JSON event
=========  ====================================================================

Each payload is decoded into one canonical event, completed by the ingest call
model (:mod:`callhook.core.ingest_calls`: the call's party and ``seq``, derived
fields, and the events the vendor does not send, such as ``call.new`` and the end
of the call; docs/dialects.md "Ingest") and made durable (with a delivery to every
matching webhook, in every dialect) before the 200 answer. The answer names the
posted event (its ``seq`` within the call) and ``added``: the ids of the events
the model added with it. A payload that does not decode is a 400
``{"error": reason, "field": name}`` and nothing is stored; so is one with a value
callhook cannot store (:mod:`callhook.core.bounds`: an integer beyond 2**53-1, a lone
surrogate, a NUL, text over 8192 characters, a time before 2000 or more than a day
ahead -- ``field`` is then the event field, e.g. ``party.caller_name``). An event the
store refuses even so is a 400 naming ``body``; it never fails the other requests
committed with it (the accepter splits the commit).
Authentication: a bearer token, or HTTP Basic with the token as the password. A
tenant token ingests into its tenant; the admin may name one in ``X-Callhook-Tenant``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from callhook.api.auth import VendorAuth
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.core import dialects
from callhook.core.bounds import OutOfBounds, bound_event
from callhook.core.dialects import DecodeError
from callhook.core.events import new_event_id
from callhook.core.subscription import Dialect
from callhook.delivery.accept import Rejected
from callhook.store.base import StoreError

__all__ = ["router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["ingest"])

FORM_DIALECTS = frozenset({Dialect.PBX2IS, Dialect.TELPHIN})


class IngestOut(BaseModel):
    id: str
    type: str
    call_id: str
    tenant: str
    seq: int = 0
    added: list[str] = []


class IngestError(BaseModel):
    error: str
    field: str


_RESPONSES: dict[int | str, dict[str, Any]] = {
    **{k: v for k, v in ERRORS.items() if k != 404},
    400: {
        "model": IngestError,
        "description": "the payload does not decode or cannot be stored",
    },
    405: {"description": "GET for a JSON dialect"},
    503: {"description": "the store could not commit the event"},
}


def new_id(ts: datetime, now: datetime) -> str:
    """A ULID from the event time, or the time of receipt for a time a ULID cannot hold."""
    for t in (ts, now):
        ms = int(t.timestamp() * 1000)
        if 0 <= ms < 1 << 48:
            return new_event_id(ms)
    return new_event_id(0)


def _bad(field: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason, "field": field}, status_code=400)


async def _payload(request: Request, dialect: Dialect) -> Any:
    body = await request.body()
    if dialect not in FORM_DIALECTS:
        if request.method == "GET":
            raise HTTPException(
                status_code=405, detail=f"{dialect.value} events are POSTed as JSON", headers={"Allow": "POST"}
            )
        return body
    pairs = list(request.query_params.multi_items())
    if body:
        try:
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except (UnicodeDecodeError, ValueError):
            raise DecodeError("body", "expected an application/x-www-form-urlencoded UTF-8 form") from None
    return pairs


async def _ingest(dialect: Dialect, request: Request, tenant: str) -> JSONResponse:
    hub = hub_of(request)
    now = hub.now_dt()
    try:
        payload = await _payload(request, dialect)
        event = dialects.decode(dialect, payload, now=now, new_id=lambda ts: new_id(ts, now), tenant=tenant)
        event, _ = bound_event(event, strict=True, now=now)
    except DecodeError as exc:
        log.info("ingest %s: rejected payload: %s", dialect.value, exc.field)
        return _bad(exc.field, exc.reason)
    except OutOfBounds as exc:
        log.info("ingest %s: rejected payload: %s: %s", dialect.value, exc.field, exc.reason)
        return _bad(exc.field, exc.reason)
    try:
        events = await hub.ingest.ingest(event)
    except Rejected as exc:
        log.warning("ingest %s: event cannot be stored: %s", dialect.value, exc.reason)
        return JSONResponse({"error": f"the event cannot be stored: {exc.reason}", "field": "body"}, status_code=400)
    except StoreError as exc:
        log.error("ingest %s: store failed: %s", dialect.value, exc)
        raise HTTPException(status_code=503, detail="the event could not be stored; send it again") from None
    done = next((e for e in events if e.id == event.id), event)
    out = IngestOut(
        id=done.id,
        type=done.type.value,
        call_id=done.call_id,
        tenant=done.tenant,
        seq=done.seq,
        added=[e.id for e in events if e.id != event.id],
    )
    return JSONResponse(out.model_dump())


_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            },
        },
    }
}
Dialect_ = Annotated[Dialect, Path()]
TenantHeader = Annotated[str | None, Header(max_length=256, description="admin only: the tenant to ingest into")]


@router.post("/ingest/{dialect}", response_model=IngestOut, responses=_RESPONSES, openapi_extra=_BODY)
async def ingest(
    dialect: Dialect_,
    request: Request,
    p: VendorAuth,
    x_callhook_tenant: TenantHeader = None,
) -> JSONResponse:
    """Decode one vendor payload (JSON, or a form for pbx2is and telphin) into a canonical event and store it."""
    return await _ingest(dialect, request, p.tenant if p.tenant is not None else (x_callhook_tenant or ""))


@router.get("/ingest/{dialect}", response_model=IngestOut, responses=_RESPONSES)
async def ingest_query(
    dialect: Dialect_,
    request: Request,
    p: VendorAuth,
    x_callhook_tenant: TenantHeader = None,
) -> JSONResponse:
    """The query-string form (pbx2is, telphin): ``GET /ingest/pbx2is?event=dial&ts=...``."""
    return await _ingest(dialect, request, p.tenant if p.tenant is not None else (x_callhook_tenant or ""))

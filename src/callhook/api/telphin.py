"""Telphin's agent event routes, as seed 004 documents them (spec/dialects.md §3).

``/client/{client_id}/agent/{local|remote}/{agent_id}/event/`` POST (add) and GET
(list), ``.../event/{event_id}`` GET, PUT, DELETE; bodies and answers are exactly
the vendor's: ``{"url", "id", "method", "event_type"}``.

Mapping. Each Telphin event is one :class:`Subscription` in the telphin dialect with
``telphin_client``, ``telphin_agent_type`` and ``telphin_agent_id`` set (routing then
sends it only that agent's events) and one canonical type (agent-login ->
agent.login, agent-logout -> agent.logout). The integer ``event_id`` is kept in the
subscription id as ``tph_<event_id>``; ids are allocated one above the highest in
use, under a lock. The subscription belongs to the token's tenant ("" for the
admin); ``client_id`` is a name space within it, and the limit (``telphin_limit``,
default 10) counts the subscriptions of one client. ``GET /client/{client_id}/limits/``
reads it.

Seed 004 puts a GET's data "in the request header"; its PHP example reads the query
string, which stays the default. callhook's one extension of the vendor's body,
``get_data_header`` (optional, on POST and PUT), names the header that carries the
urlencoded data instead (docs/dialects.md, telphin); the answers stay the vendor's.
Secrets: an answer's ``url`` has its user-info password and secret query values
masked as ``****`` (:func:`callhook.delivery.redact.mask_url`); a PUT that sends that
masked URL back keeps the stored one. ``client_id`` is letters, digits and ``_.@-``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.auth import Principal, VendorAuth
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.api.webhooks import GetDataHeader, check_url, subscriptions_changed
from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.redact import mask_url

__all__ = ["router"]

router = APIRouter(tags=["telphin"], responses=ERRORS)

EventType = Literal["agent-login", "agent-logout"]
Method = Literal["GET", "POST"]
_CANONICAL = {"agent-login": "agent.login", "agent-logout": "agent.logout"}
_NAME = {v: k for k, v in _CANONICAL.items()}
PREFIX = "tph_"

ClientId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
AgentType = Annotated[Literal["local", "remote"], Path()]
AgentId = Annotated[int, Path(ge=0, le=2**53)]
EventId = Annotated[int, Path(ge=1, le=2**53)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]


class AgentEventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url
    event_type: EventType
    method: Method
    # callhook's extension (not in seed 004's body): carry a GET's data in this header
    get_data_header: GetDataHeader = ""


class AgentEventPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Url | None = None
    event_type: EventType | None = None
    method: Method | None = None
    get_data_header: GetDataHeader | None = None


class AgentEvent(BaseModel):
    url: str
    id: int
    method: str
    event_type: str


class AgentEventLimit(BaseModel):
    limit: int
    used: int
    available: int


class Limits(BaseModel):
    agent_event: AgentEventLimit


def _out(sub: Subscription) -> AgentEvent:
    etype = next(iter(sub.events), "agent.login")
    return AgentEvent(
        url=mask_url(sub.url),
        id=int(sub.id.removeprefix(PREFIX)),
        method=sub.method,
        event_type=_NAME.get(etype, etype),
    )


def _url(url: str) -> str:
    try:
        return check_url(url)
    except ValueError as exc:
        raise HTTPException(
            status_code=422, detail=[{"loc": ["body", "url"], "msg": str(exc), "type": "value_error"}]
        ) from None


def _limit(request: Request) -> int:
    raw = hub_of(request).config.extra.get("telphin_limit", 10)
    return raw if isinstance(raw, int) and raw >= 0 else 10


async def _client_subs(request: Request, p: Principal, client_id: str) -> list[Subscription]:
    subs = await hub_of(request).store.list_subscriptions(tenant=p.tenant)
    return [
        s
        for s in subs
        if s.telphin_client == client_id and s.id.startswith(PREFIX) and (p.tenant is not None or s.tenant == "")
    ]


async def _agent_subs(
    request: Request, p: Principal, client_id: str, agent_type: str, agent_id: int
) -> list[Subscription]:
    return [
        s
        for s in await _client_subs(request, p, client_id)
        if s.telphin_agent_type == agent_type and s.telphin_agent_id == str(agent_id)
    ]


async def _one(
    request: Request, p: Principal, client_id: str, agent_type: str, agent_id: int, event_id: int
) -> Subscription:
    for s in await _agent_subs(request, p, client_id, agent_type, agent_id):
        if s.id == f"{PREFIX}{event_id}":
            return s
    raise HTTPException(status_code=404, detail=f"no agent http event {event_id}")


def _lock(request: Request) -> asyncio.Lock:
    lock: asyncio.Lock | None = getattr(request.app.state, "telphin_lock", None)
    if lock is None:
        lock = request.app.state.telphin_lock = asyncio.Lock()
    return lock


async def _next_id(store: Any) -> int:
    ids = [
        int(s.id[len(PREFIX) :])
        for s in await store.list_subscriptions()
        if s.id.startswith(PREFIX) and s.id[len(PREFIX) :].isdigit()
    ]
    return max(ids, default=0) + 1


BASE = "/client/{client_id}/agent/{agent_type}/{agent_id}/event"


@router.post(
    BASE + "/",
    response_model=AgentEvent,
    responses={403: {"description": "the client's limit of agent events is reached"}},
)
async def add_event(
    client_id: ClientId, agent_type: AgentType, agent_id: AgentId, body: AgentEventIn, request: Request, p: VendorAuth
) -> AgentEvent:
    """Add an agent http event (Telphin: "Добавить agent http event")."""
    hub = hub_of(request)
    url = _url(body.url)
    async with _lock(request):
        if len(await _client_subs(request, p, client_id)) >= _limit(request):
            raise HTTPException(
                status_code=403, detail=f"limit of {_limit(request)} agent http events reached for client {client_id!r}"
            )
        sub = Subscription(
            id=f"{PREFIX}{await _next_id(hub.store)}",
            url=url,
            dialect=Dialect.TELPHIN,
            method=body.method,
            events=frozenset({_CANONICAL[body.event_type]}),
            tenant=p.tenant or "",
            telphin_client=client_id,
            telphin_agent_type=agent_type,
            telphin_agent_id=str(agent_id),
            description=f"telphin {client_id}/{agent_type}/{agent_id}",
            get_data_header=body.get_data_header,
        )
        await hub.store.put_subscription(sub, hub.now())
    subscriptions_changed(hub)
    return _out(sub)


@router.get(BASE + "/", response_model=list[AgentEvent])
async def list_events(
    client_id: ClientId, agent_type: AgentType, agent_id: AgentId, request: Request, p: VendorAuth
) -> list[AgentEvent]:
    """The agent's http events."""
    subs = await _agent_subs(request, p, client_id, agent_type, agent_id)
    return [_out(s) for s in sorted(subs, key=lambda s: int(s.id.removeprefix(PREFIX)))]


@router.get(BASE + "/{event_id}", response_model=AgentEvent)
async def get_event(
    client_id: ClientId, agent_type: AgentType, agent_id: AgentId, event_id: EventId, request: Request, p: VendorAuth
) -> AgentEvent:
    return _out(await _one(request, p, client_id, agent_type, agent_id, event_id))


@router.put(BASE + "/{event_id}", response_model=AgentEvent)
async def update_event(
    client_id: ClientId,
    agent_type: AgentType,
    agent_id: AgentId,
    event_id: EventId,
    body: AgentEventPatch,
    request: Request,
    p: VendorAuth,
) -> AgentEvent:
    """Update any of url, event_type, method."""
    hub = hub_of(request)
    sub = await _one(request, p, client_id, agent_type, agent_id, event_id)
    full = await hub.store.get_subscription(sub.id, tenant=p.tenant, with_secrets=True) or sub
    changes: dict[str, Any] = {}
    if body.url is not None and body.url != mask_url(full.url):  # the masked URL read back: unchanged
        changes["url"] = _url(body.url)
    if body.method is not None:
        changes["method"] = body.method
    if body.event_type is not None:
        changes["events"] = frozenset({_CANONICAL[body.event_type]})
    if body.get_data_header is not None:
        changes["get_data_header"] = body.get_data_header
    new = replace(full, **changes)
    await hub.store.put_subscription(new, hub.now())
    subscriptions_changed(hub)
    return _out(new)


@router.delete(BASE + "/{event_id}", status_code=204)
async def delete_event(
    client_id: ClientId, agent_type: AgentType, agent_id: AgentId, event_id: EventId, request: Request, p: VendorAuth
) -> Response:
    hub = hub_of(request)
    sub = await _one(request, p, client_id, agent_type, agent_id, event_id)
    await hub.store.delete_subscription(sub.id, tenant=p.tenant)
    subscriptions_changed(hub)
    return Response(status_code=204)


@router.get("/client/{client_id}/limits/", response_model=Limits)
async def limits(client_id: ClientId, request: Request, p: VendorAuth) -> Limits:
    """The client's limits: how many agent http events it may have and has."""
    limit, used = _limit(request), len(await _client_subs(request, p, client_id))
    return Limits(agent_event=AgentEventLimit(limit=limit, used=used, available=max(0, limit - used)))

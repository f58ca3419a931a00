"""A one-time sign-in link for the hub's own machine (``callhook demo`` shows one,
``callhook dashboard-link`` asks a running hub for one).

The link carries a random code, not the API token: it is good for one visit within
``SessionBook.code_ttl`` seconds (5 minutes), through any process sharing the hub's
store (the code is kept there, as its SHA-256, and deleted when used), and the visit (``GET /s/CODE``, or
the older long form ``GET /dashboard/signin?code=CODE``) exchanges it for a session
cookie and redirects to the dashboard. A used or expired code gets a page saying
so and how to get a new link.

``POST /api/v1/dashboard-links`` (any token; a tenant token gets a link for its own
tenant only) answers ``{"path": "/s/CODE", "expires_in": 300, "tenant": ...}``: the
caller puts the address it reached the hub at in front, since the hub cannot know it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.auth import Auth, Principal
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.api.sessions import SessionBook

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["LINK_PREFIX", "issue_code", "issue_link", "links"]

LINK_PREFIX = "/s/"

links = APIRouter(prefix="/api/v1", tags=["dashboard"], responses=ERRORS)


def _book(hub: Hub) -> SessionBook:
    return hub.sessions


async def issue_code(hub: Hub, *, tenant: str | None = None, name: str = "") -> str:
    """A one-time code signing in as the admin (or as ``tenant``), stored in the hub's store."""
    return await _book(hub).issue_code(Principal(tenant), name)


async def issue_link(hub: Hub, base_url: str, *, tenant: str | None = None, name: str = "") -> str:
    """``{base_url}/s/CODE`` signing in as the admin (or as ``tenant``).

    ``base_url`` is where the browser reaches the hub, e.g. ``http://127.0.0.1:8080``.
    The hub's ``sessions`` book is created when missing, and the same book must serve
    the API app (``create_app`` uses ``hub.sessions``).
    """
    return f"{base_url.rstrip('/')}{LINK_PREFIX}{await issue_code(hub, tenant=tenant, name=name)}"


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: Annotated[str, Field(max_length=256, description="admin only: sign in as this tenant")] = ""
    name: Annotated[str, Field(max_length=128, description="the name shown on call-back marks")] = ""


class LinkOut(BaseModel):
    path: str
    expires_in: int
    tenant: str | None


@links.post("/dashboard-links", response_model=LinkOut, status_code=201)
async def new_link(request: Request, p: Auth, body: LinkIn | None = None) -> LinkOut:
    """A fresh one-time dashboard sign-in link (single use, 5 minutes) for the caller's principal."""
    body = body or LinkIn()
    if p.tenant is not None and body.tenant and body.tenant != p.tenant:
        raise HTTPException(status_code=403, detail="a tenant token gets links for its own tenant only")
    tenant = p.tenant if p.tenant is not None else (body.tenant or None)
    hub = hub_of(request)
    code = await issue_code(hub, tenant=tenant, name=body.name.strip())
    return LinkOut(path=f"{LINK_PREFIX}{code}", expires_in=int(_book(hub).code_ttl), tenant=tenant)

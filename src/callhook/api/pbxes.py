"""``GET /api/v1/pbxes``: the PBXs this deployment reads (``[[pbx]]`` tables, or the one
``--ami``), in the config's order, with this process's view of each: is its AMI
connection up, does this process hold it (the election, docs/deployment.md). The
dashboard offers its PBX filter from this list; every route that takes ``?pbx=``
takes one of these names."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of

__all__ = ["PbxOut", "router"]

router = APIRouter(prefix="/api/v1", tags=["agents and queues"], responses=ERRORS)


class PbxOut(BaseModel):
    name: str
    tenant: str = Field(description="the tenant of its calls where its directory names none ('' : the directory's)")
    connected: bool = Field(description="this process's AMI connection to it is up")
    held: bool = Field(description="this process reads it (of several processes, one does)")


@router.get("/pbxes", response_model=list[PbxOut])
async def list_pbxes(request: Request, p: Auth) -> list[PbxOut]:
    """The configured PBXs; a tenant token sees those of its tenant and those shared (no tenant)."""
    return [
        PbxOut(name=link.name, tenant=link.tenant, connected=link.connected, held=link.held)
        for link in hub_of(request).pbxes
        if not link.tenant or p.sees(link.tenant)
    ]

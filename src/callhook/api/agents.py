"""``/api/v1/agents`` and ``/api/v1/queues``: who is logged in to which queue, paused or
not, and who waits in each queue, now (the tracker's live state).

An agent's tenant is its extension's (found by the member's interface, else its
name as a login), else the directory's. A tenant token sees its own agents, and
the queues that have one of its extensions as a member (configured or logged in).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel

from callhook.api.auth import Auth, Principal
from callhook.api.services import PbxFilter, hub_of, pbxes_of
from callhook.core.directory import Directory
from callhook.core.tracker.machine import VisitState
from callhook.core.tracker.snapshot import MemberView

if TYPE_CHECKING:
    from callhook.bootstrap import Hub
    from callhook.pbx_link import PbxLink

__all__ = ["PresenceOut", "agents_on", "agents_seen", "router", "visible_queues"]

router = APIRouter(prefix="/api/v1", tags=["agents and queues"], responses={401: {"description": "no token"}})


class PresenceOut(BaseModel):
    extension: str
    name: str
    tenant: str
    state: str  # idle, ringing, in_use, busy, unavailable, on_hold (Asterisk's hint state)
    pbx: str = ""  # the PBX the extension is on


class AgentOut(BaseModel):
    queue: str
    interface: str
    name: str
    full_name: str  # the extension's name in the directory, else the member's name
    extension: str
    login: str
    tenant: str
    paused: bool
    reason: str
    since: datetime | None
    static: bool
    in_call: bool
    pbx: str = ""  # the PBX of the queue


class WaitingOut(BaseModel):
    call_id: str
    caller_num: str
    caller_name: str
    joined: datetime
    position: int


class QueueLive(BaseModel):
    name: str
    strategy: str
    service_level: int
    members: list[str]
    logged_in: int
    paused: int
    in_call: int
    waiting: list[WaitingOut]
    talking: int
    agents: list[AgentOut]
    pbx: str = ""  # the PBX of the queue (queues of two PBXs may share a name)


def agent_out(m: MemberView, directory: Directory, pbx: str = "") -> AgentOut:
    ext = directory.extension_of_channel(m.interface) or directory.extension_by_login(m.name)
    return AgentOut(
        queue=m.queue,
        interface=m.interface,
        name=m.name,
        full_name=(ext.name if ext else "") or m.name,
        extension=ext.number if ext else "",
        login=ext.login if ext and ext.login else m.name,
        tenant=(ext.tenant if ext else "") or directory.tenant,
        paused=m.paused,
        reason=m.reason if m.paused else "",
        since=m.since,
        static=m.static,
        in_call=m.in_call,
        pbx=pbx,
    )


def agents_seen(hub: Hub, p: Principal, pbx: str | None = None) -> list[AgentOut]:
    return [a for link in pbxes_of(hub, pbx) for a in agents_on(link, p)]


def agents_on(link: PbxLink, p: Principal) -> list[AgentOut]:
    out = [agent_out(m, link.directory, link.name) for m in link.tracker.snapshot().members]
    return sorted((a for a in out if p.sees(a.tenant)), key=lambda a: (a.queue, a.extension, a.interface))


def visible_queues(directory: Directory, agents: list[AgentOut], p: Principal) -> list[str]:
    """The queue names this token may see: every one for the admin."""
    names = {q.name for q in directory.queues} | {a.queue for a in agents}
    if p.tenant is None:
        return sorted(names)
    mine = {e.number for e in directory.extensions if e.tenant == p.tenant}
    seen = {a.queue for a in agents}
    configured = {q.name for q in directory.queues if set(q.members) & mine}
    return sorted(n for n in names if n in seen or n in configured)


@router.get("/agents", response_model=list[AgentOut])
async def list_agents(request: Request, p: Auth, pbx: PbxFilter = None) -> list[AgentOut]:
    """Queue memberships now: one row per (PBX, queue, agent)."""
    return agents_seen(hub_of(request), p, pbx)


@router.get("/queues", response_model=list[QueueLive])
async def list_queues(request: Request, p: Auth, pbx: PbxFilter = None) -> list[QueueLive]:
    """Every queue with its agents, the callers waiting and the calls being talked now
    (each PBX's queues, in the config's order of the PBXs)."""
    hub = hub_of(request)
    out: list[QueueLive] = []
    for link in pbxes_of(hub, pbx):
        out += _queues_of(link, p)
    return out


def _queues_of(link: PbxLink, p: Principal) -> list[QueueLive]:
    directory: Directory = link.directory
    agents = agents_on(link, p)
    waiting: dict[str, list[WaitingOut]] = {}
    talking: dict[str, int] = {}
    for call in link.tracker.snapshot().calls:
        v = call.visit
        if v is None or v.state is VisitState.LEFT or not p.sees(call.tenant):
            continue
        if v.state is VisitState.BRIDGED:
            talking[v.queue] = talking.get(v.queue, 0) + 1
        else:
            waiting.setdefault(v.queue, []).append(
                WaitingOut(
                    call_id=link.call_id(call.id),
                    caller_num=call.caller_num,
                    caller_name=call.caller_name,
                    joined=v.joined,
                    position=v.position,
                )
            )
    out = []
    for name in sorted(set(visible_queues(directory, agents, p)) | set(waiting) | set(talking)):
        q = directory.queue(name)
        mine = [a for a in agents if a.queue == name]
        out.append(
            QueueLive(
                name=name,
                strategy=q.strategy if q else "",
                service_level=q.service_level if q else 20,
                members=list(directory.members_seen(q, p.tenant)) if q else [],
                logged_in=len(mine),
                paused=sum(a.paused for a in mine),
                in_call=sum(a.in_call for a in mine),
                waiting=sorted(waiting.get(name, []), key=lambda w: w.joined),
                talking=talking.get(name, 0),
                agents=mine,
                pbx=link.name,
            )
        )
    return out


@router.get("/extensions/presence", response_model=list[PresenceOut])
async def list_presence(request: Request, p: Auth, pbx: PbxFilter = None) -> list[PresenceOut]:
    """Each extension's presence now (Asterisk's hints, ``extension.presence``), as far as
    each PBX has told it since callhook connected; a tenant sees its own extensions."""
    out = []
    for link in pbxes_of(hub_of(request), pbx):
        directory: Directory = link.directory
        for number, state in link.tracker.snapshot().presence:
            ext = directory.extension(number)
            tenant = ext.tenant if ext is not None else directory.tenant
            if p.sees(tenant):
                out.append(
                    PresenceOut(
                        extension=number, name=ext.name if ext else "", tenant=tenant, state=state, pbx=link.name
                    )
                )
    return out

"""``/api/v1/directory``: the PBX directory (extensions, trunks, queues), read and edited.

An edit builds a new :class:`Directory` value, stores it as the directory's next
version (:mod:`callhook.directory_sync`, :mod:`callhook.store.directory_versions`)
and installs it (one :meth:`~callhook.directories.DirectoryHolder.replace`: the hub,
each tracker and agent book and the PBX actions reading that directory have it at once,
so they never disagree). ``?pbx=NAME`` edits the directory of that PBX when it has one
of its own (docs/deployment.md, "Several PBXs"), else the deployment's. Every other process on the same
database installs it within a second or two; a restart starts from the newest stored
version (the ``--directory`` file is the base until the first edit). An edit is
judged against the newest stored version, never a stale copy.

Ownership (the table is in docs/api.md): every device, extension number, login,
DID and queue belongs to one tenant, and only the admin assigns or moves them:
creating and deleting extensions, changing an extension's number, channel, login,
tenant or Telphin agent id / extension name, and every trunk and queue edit take the admin token (403 otherwise). A
tenant token sees only its own extensions (another tenant's is a 404) and may change
their ``name`` and ``email``. A number, device or login held by anyone else is a 409
(:func:`callhook.core.directory.claim_error`), for the admin too. A tenant sees the
queues it owns or has members in, with only its own extensions as members.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.agents import agents_on, visible_queues
from callhook.api.auth import Auth, Principal
from callhook.api.paging import ERRORS
from callhook.api.services import PbxFilter, hub_of, pbxes_of
from callhook.core.directory import Directory, Extension, Queue, Trunk, claim_error
from callhook.directories import DirectoryHolder
from callhook.directory_sync import DirectoryBusy, DirectoryState
from callhook.store.directory_versions import KEEP

if TYPE_CHECKING:
    from callhook.pbx_link import PbxLink

__all__ = ["DirScope", "directory_scope", "router"]

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1/directory",
    tags=["directory"],
    responses={**ERRORS, 409: {"description": "the number or name is taken"}},
)

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/]+$")]
# What a dial string may hold as an extension: digits, letters, * # + . _ -
Number = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z*#+._-]+$")]
Device = Annotated[
    str,
    Field(
        max_length=128,
        pattern=r"^$|^[A-Za-z0-9_]+/[A-Za-z0-9_.@:+*#-]+$",
        description="the device, TECH/resource without the channel suffix, e.g. PJSIP/20",
    ),
]
Text = Annotated[str, Field(max_length=256)]
Key = Annotated[str, Path(min_length=1, max_length=64)]


class ExtensionModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: Number
    name: Text = ""
    login: Text = ""
    email: Text = ""
    channel: Device = ""
    tenant: Text = ""
    agent_id: Annotated[str, Field(max_length=64, description="Telphin: the agent's id when not the number")] = ""
    extension_name: Annotated[str, Field(max_length=256, description="Telphin: e.g. 000*094@ringme.ru")] = ""


class TrunkModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    channel: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_]+/[A-Za-z0-9_.@:+*#-]+$")]
    outbound_prefix: Annotated[str, Field(max_length=16)] = ""


class QueueModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    strategy: Annotated[str, Field(max_length=32)] = "ringall"
    members: Annotated[list[Number], Field(max_length=1000)] = Field(default_factory=list)
    service_level: Annotated[int, Field(ge=1, le=3600, description="seconds")] = 20
    tenant: Annotated[str, Field(max_length=256, description="the owner; empty: the directory's tenant")] = ""


class DirectoryOut(BaseModel):
    version: Annotated[int, Field(description="the stored version in force; 0: the --directory file, unedited")] = 0
    tenant: str
    extensions: list[ExtensionModel]
    trunks: list[TrunkModel]
    queues: list[QueueModel]


@dataclass(frozen=True, slots=True)
class DirScope:
    """The directory a request reads or edits: the deployment's (no ``pbx``), or the own
    directory of the PBX named by ``?pbx=`` (a PBX without one shares the deployment's)."""

    holder: DirectoryHolder
    state: DirectoryState
    links: tuple[PbxLink, ...]  # the PBXs whose live agents count for its queues

    @property
    def directory(self) -> Directory:
        return self.holder.current


def directory_scope(request: Request, pbx: PbxFilter = None) -> DirScope:
    hub = hub_of(request)
    if pbx is None:
        shared = tuple(link for link in hub.pbxes if link.directory_state is None)
        return DirScope(hub.directories, hub.directory_state, shared)
    link = pbxes_of(hub, pbx)[0]
    if link.directory_state is None:
        shared = tuple(x for x in hub.pbxes if x.directory_state is None)
        return DirScope(hub.directories, hub.directory_state, shared)
    return DirScope(link.directories, link.directory_state, (link,))


Dir = Annotated[DirScope, Depends(directory_scope)]
Change = Callable[[Directory], tuple[Directory, Any]]


async def _edit(scope: DirScope, p: Principal, change: Change) -> Any:
    """Apply ``change`` to the newest stored directory, store the result as a new version, install it."""
    try:
        return await scope.state.edit(change, p.who)
    except DirectoryBusy as exc:
        raise HTTPException(status_code=409, detail=f"{exc}; try again") from None


def _rebuild(d: Directory, **parts: Any) -> Directory:
    kw: dict[str, Any] = {
        "tenant": d.tenant,
        "extensions": d.extensions,
        "trunks": d.trunks,
        "queues": d.queues,
        "dids": dict(d.dids),
        "did_tenants": dict(d.did_tenants),
        "remote_agents": d.remote_agents,
    }
    kw.update(parts)
    return Directory(**kw)


def _ext(e: Extension) -> ExtensionModel:
    return ExtensionModel(
        number=e.number,
        name=e.name,
        login=e.login,
        email=e.email,
        channel=e.channel,
        tenant=e.tenant,
        agent_id=e.agent_id,
        extension_name=e.extension_name,
    )


def _trunk(t: Trunk) -> TrunkModel:
    return TrunkModel(name=t.name, channel=t.channel, outbound_prefix=t.outbound_prefix)


def _queue(d: Directory, q: Queue, p: Principal) -> QueueModel:
    return QueueModel(
        name=q.name,
        strategy=q.strategy,
        members=list(d.members_seen(q, p.tenant)),
        service_level=q.service_level,
        tenant=d.queue_tenant(q),
    )


def _admin(p: Principal, what: str = "trunks and queues are") -> None:
    if not p.is_admin:
        raise HTTPException(status_code=403, detail=f"{what} edited with the admin token")


def _queues_seen(scope: DirScope, p: Principal) -> list[Queue]:
    d = scope.directory
    agents = [a for link in scope.links for a in agents_on(link, p)]
    names = set(visible_queues(d, agents, p))  # live members count too
    return [q for q in d.queues if q.name in names or (p.tenant is not None and d.queue_tenant(q) == p.tenant)]


# ------------------------------------------------------------------ whole
@router.get("", response_model=DirectoryOut)
async def get_directory(scope: Dir, p: Auth) -> DirectoryOut:
    d = scope.directory
    return DirectoryOut(
        version=scope.state.version,
        tenant=d.tenant if p.is_admin else p.tenant or "",
        extensions=[_ext(e) for e in d.extensions if p.sees(e.tenant)],
        trunks=[_trunk(t) for t in d.trunks] if p.is_admin else [],
        queues=[_queue(d, q, p) for q in _queues_seen(scope, p)],
    )


class VersionOut(BaseModel):
    version: int
    at: float = Field(description="when it was stored, Unix seconds")
    actor: str = Field(description="who made the edit")


@router.get("/versions", response_model=list[VersionOut])
async def list_versions(scope: Dir, p: Auth, limit: Annotated[int, Query(ge=1, le=KEEP)] = 20) -> list[VersionOut]:
    """The directory's stored versions, newest first (admin only); the newest is in force everywhere."""
    if not p.is_admin:
        raise HTTPException(status_code=403, detail="the directory's history is read with the admin token")
    state = scope.state
    found = await state.versions.history(state.scope, limit)
    return [VersionOut(version=v.version, at=v.created_at, actor=v.actor) for v in found]


# ------------------------------------------------------------------ extensions
def _owned_ext(d: Directory, p: Principal, number: str) -> Extension:
    e: Extension | None = d.extension(number)
    if e is None or not p.sees(e.tenant):
        raise HTTPException(status_code=404, detail=f"no extension {number!r}")
    return e


# What a tenant token may change on its own extension; the rest is the admin's to assign.
TENANT_FIELDS = ("name", "email")


def _put_ext(
    d: Directory, p: Principal, body: ExtensionModel, replacing: str | None
) -> tuple[Directory, ExtensionModel]:
    old = _owned_ext(d, p, replacing) if replacing is not None else None
    if p.tenant is not None:
        if old is None:
            raise HTTPException(status_code=403, detail="extensions are added with the admin token")
        for name in ("number", "channel", "login", "tenant", "agent_id", "extension_name"):
            given = getattr(body, name)
            if name in ("tenant", "agent_id", "extension_name") and not given:
                continue  # left out: unchanged
            if given != getattr(old, name):
                raise HTTPException(
                    status_code=403,
                    detail=f"{name}: only the admin token assigns an extension's {name}; "
                    f"a tenant may change {' and '.join(TENANT_FIELDS)}",
                )
    new = Extension(
        number=body.number,
        name=body.name,
        login=body.login,
        email=body.email,
        channel=body.channel,
        tenant=p.tenant if p.tenant is not None else (body.tenant or d.tenant),
        agent_id=body.agent_id or (old.agent_id if old is not None and p.tenant is not None else ""),
        extension_name=body.extension_name or (old.extension_name if old is not None and p.tenant is not None else ""),
    )
    problem = claim_error(d, new, replacing)
    if problem is not None:
        raise HTTPException(status_code=409, detail=problem)
    exts = [e for e in d.extensions if e.number != replacing] + [new]
    taken = [e.agent_id for e in exts if e.agent_id] + [r.agent_id for r in d.remote_agents]
    if new.agent_id and taken.count(new.agent_id) > 1:
        raise HTTPException(status_code=409, detail=f"agent_id {new.agent_id!r} names another agent")
    log.info("directory: extension %s %s", new.number, "replaced" if replacing else "added")
    return _rebuild(d, extensions=tuple(exts)), _ext(new)


@router.get("/extensions", response_model=list[ExtensionModel])
async def list_extensions(scope: Dir, p: Auth) -> list[ExtensionModel]:
    return [_ext(e) for e in scope.directory.extensions if p.sees(e.tenant)]


@router.post("/extensions", response_model=ExtensionModel, status_code=201)
async def add_extension(body: ExtensionModel, scope: Dir, p: Auth) -> ExtensionModel:
    answer: ExtensionModel = await _edit(scope, p, lambda d: _put_ext(d, p, body, None))
    return answer


@router.get("/extensions/{number}", response_model=ExtensionModel)
async def get_extension(number: Key, scope: Dir, p: Auth) -> ExtensionModel:
    return _ext(_owned_ext(scope.directory, p, number))


@router.put("/extensions/{number}", response_model=ExtensionModel)
async def put_extension(number: Key, body: ExtensionModel, scope: Dir, p: Auth) -> ExtensionModel:
    """Replace an extension (the body's number may rename it)."""
    answer: ExtensionModel = await _edit(scope, p, lambda d: _put_ext(d, p, body, number))
    return answer


@router.delete("/extensions/{number}", status_code=204)
async def delete_extension(number: Key, scope: Dir, p: Auth) -> Response:

    def change(d: Directory) -> tuple[Directory, None]:
        _owned_ext(d, p, number)  # judged on the newest stored version: 404 before 403
        _admin(p, "extensions are")
        return _rebuild(d, extensions=tuple(e for e in d.extensions if e.number != number)), None

    await _edit(scope, p, change)
    return Response(status_code=204)


# ------------------------------------------------------------------ trunks and queues
@router.get("/trunks", response_model=list[TrunkModel])
async def list_trunks(scope: Dir, p: Auth) -> list[TrunkModel]:
    _admin(p)
    return [_trunk(t) for t in scope.directory.trunks]


@router.put("/trunks/{name}", response_model=TrunkModel)
async def put_trunk(name: Key, body: TrunkModel, scope: Dir, p: Auth) -> TrunkModel:
    """Create or replace the trunk ``name`` (the body's name may rename it)."""
    _admin(p)
    answer: TrunkModel = await _edit(scope, p, lambda d: _put_trunk(d, name, body))
    return answer


def _put_trunk(d: Directory, name: str, body: TrunkModel) -> tuple[Directory, TrunkModel]:
    if body.name != name and any(t.name == body.name for t in d.trunks):
        raise HTTPException(status_code=409, detail=f"trunk {body.name!r} exists")
    if (e := d.extension_of_channel(body.channel)) is not None:
        raise HTTPException(status_code=409, detail=f"channel: device {body.channel!r} is extension {e.number!r}'s")
    t_old = d.trunk_of_channel(body.channel)
    if t_old is not None and t_old.name != name:
        raise HTTPException(status_code=409, detail=f"channel: device {body.channel!r} is trunk {t_old.name!r}'s")
    new = Trunk(name=body.name, channel=body.channel, outbound_prefix=body.outbound_prefix)
    return _rebuild(d, trunks=(*(t for t in d.trunks if t.name != name), new)), _trunk(new)


@router.delete("/trunks/{name}", status_code=204)
async def delete_trunk(name: Key, scope: Dir, p: Auth) -> Response:
    _admin(p)

    def change(d: Directory) -> tuple[Directory, None]:
        if not any(t.name == name for t in d.trunks):
            raise HTTPException(status_code=404, detail=f"no trunk {name!r}")
        return _rebuild(d, trunks=tuple(t for t in d.trunks if t.name != name)), None

    await _edit(scope, p, change)
    return Response(status_code=204)


@router.get("/queues", response_model=list[QueueModel])
async def list_dir_queues(scope: Dir, p: Auth) -> list[QueueModel]:
    return [_queue(scope.directory, q, p) for q in _queues_seen(scope, p)]


@router.put("/queues/{name}", response_model=QueueModel)
async def put_queue(name: Key, body: QueueModel, scope: Dir, p: Auth) -> QueueModel:
    """Create or replace the queue ``name`` (the body's name may rename it)."""
    _admin(p)

    def change(d: Directory) -> tuple[Directory, QueueModel]:
        if body.name != name and d.queue(body.name) is not None:
            raise HTTPException(status_code=409, detail=f"queue {body.name!r} exists")
        new = Queue(
            name=body.name,
            strategy=body.strategy,
            members=tuple(body.members),
            service_level=body.service_level,
            tenant=body.tenant or d.tenant,
        )
        after = _rebuild(d, queues=(*(q for q in d.queues if q.name != name), new))
        return after, _queue(after, new, p)

    answer: QueueModel = await _edit(scope, p, change)
    return answer


@router.delete("/queues/{name}", status_code=204)
async def delete_queue(name: Key, scope: Dir, p: Auth) -> Response:
    _admin(p)

    def change(d: Directory) -> tuple[Directory, None]:
        if d.queue(name) is None:
            raise HTTPException(status_code=404, detail=f"no queue {name!r}")
        return _rebuild(d, queues=tuple(q for q in d.queues if q.name != name)), None

    await _edit(scope, p, change)
    return Response(status_code=204)

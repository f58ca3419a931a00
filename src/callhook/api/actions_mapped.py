"""The further IS2PBX actions: named requests mapped to AMI actions
(:mod:`callhook.core.ami.action_map`; the defaults and the TOML ``[actions.<name>]``
tables of the configuration).

``GET /is2pbx/{name}?exten=20&target=22`` (the vendor's query-string spelling) and
``POST /api/v1/actions/{name}`` with ``{"exten": "20", "target": "22"}`` run one;
``GET /api/v1/actions`` lists them. Checks, in order: the name is mapped (404); the
extension is in the directory and the caller's tenant (404, as for ``hangup``); every
parameter is declared and matches its pattern (422); a ``target`` that is an
extension is the caller's tenant's (404); a ``queue`` is known to the directory when
it lists queues (404). ``{channel}`` / ``{peer}`` are asked of the PBX
(``CoreShowChannels``): no live channel is a 404, no other party a 409. Then the AMI
action is sent: the PBX's refusal is a 502 with its message, no connection a 503,
no answer a 504.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel

from callhook.api.auth import Principal, VendorAuth
from callhook.api.services import hub_of, pbx_for
from callhook.core.ami.action_map import MappedAction, MappingError, parse_mapping, render
from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Extension, device_of

if TYPE_CHECKING:
    from callhook.pbx_link import AmiConnection, PbxLink

__all__ = ["mapping", "router"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["actions"])
TIMEOUT = 15.0
Name = Annotated[str, Path(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]


class ParamOut(BaseModel):
    name: str
    pattern: str
    required: bool
    default: str | None


class MappedOut(BaseModel):
    name: str
    action: str
    description: str
    params: list[ParamOut]


class MappedResult(BaseModel):
    ok: bool = True
    action: str
    exten: str
    ami_action: str
    detail: str = ""


def mapping(request: Request) -> dict[str, MappedAction]:
    """The configured mapping, parsed once per app (config.load has validated it already)."""
    cached: dict[str, MappedAction] | None = getattr(request.app.state, "action_map", None)
    if cached is None:
        try:
            cached = parse_mapping(hub_of(request).config.extra.get("actions"))
        except MappingError as exc:
            log.error("the action mapping is not valid, only the defaults are used: %s", exc)
            cached = parse_mapping(None)
        request.app.state.action_map = cached
    return cached


def _extension(link: PbxLink, p: Principal, number: str) -> Extension:
    ext: Extension | None = link.directory.extension(number)
    if ext is None or not p.sees(ext.tenant):
        raise HTTPException(status_code=404, detail=f"unknown extension {number!r}")
    return ext


def _values(link: PbxLink, p: Principal, entry: MappedAction, given: Mapping[str, str]) -> dict[str, str]:
    declared = {q.name: q for q in entry.params}
    unknown = sorted(set(given) - set(declared) - {"exten", "pbx"})
    if unknown:
        raise HTTPException(status_code=422, detail=f"{unknown[0]}: not a parameter of {entry.name}")
    out: dict[str, str] = {}
    for name, param in declared.items():
        try:
            out[name] = param.check(given.get(name))
        except ValueError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
    directory = link.directory
    target = out.get("target", "")
    if target and directory.is_extension_number(target):
        _extension(link, p, target)  # another tenant's extension is unknown to this caller
    queue = out.get("queue", "")
    if queue and directory.queues and directory.queue(queue) is None:
        raise HTTPException(status_code=404, detail=f"unknown queue {queue!r}")
    return out


def _client(link: PbxLink) -> AmiConnection:
    ami = link.ami
    if ami is None or not ami.connected:
        raise HTTPException(status_code=503, detail="the PBX (AMI) is not connected")
    return ami


async def _channels(link: PbxLink, ext: Extension) -> tuple[str, str]:
    """(the extension's live channel, the channel bridged to it or "")."""
    listed: list[AmiMessage] = await _client(link).collect("CoreShowChannels", (), timeout=10.0)
    rows = [m for m in listed if m.event == "CoreShowChannel"]
    mine = [m for m in rows if device_of(m.get("Channel")).lower() == ext.channel.lower()]
    if not mine:
        raise HTTPException(status_code=404, detail=f"extension {ext.number!r} has no call")
    up = [m for m in mine if m.get("ChannelStateDesc") == "Up"]
    own = (up or mine)[-1]
    bridge = own.get("BridgeId")
    peers = [m for m in rows if bridge and m.get("BridgeId") == bridge and m.get("Channel") != own.get("Channel")]
    return own.get("Channel"), peers[0].get("Channel") if peers else ""


async def run(request: Request, p: Principal, name: str, given: Mapping[str, str]) -> MappedResult:
    from callhook.sources.ami_client import AmiActionError, AmiNotConnected, AmiTimeout

    entry = mapping(request).get(name)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"no action {name!r} (GET /api/v1/actions lists them)")
    exten = given.get("exten", "")
    if not exten:
        raise HTTPException(status_code=422, detail="exten: required")
    link = pbx_for(hub_of(request), given.get("pbx", ""), exten)
    ext = _extension(link, p, exten)
    if not ext.channel:
        raise HTTPException(status_code=404, detail=f"extension {exten!r} has no channel in the directory")
    values = {"exten": ext.number, "interface": ext.channel, **_values(link, p, entry, given)}
    try:
        async with asyncio.timeout(TIMEOUT):
            if entry.needs_channel:
                values["channel"], values["peer"] = await _channels(link, ext)
                if "peer" in entry.placeholders and not values["peer"]:
                    raise HTTPException(status_code=409, detail=f"the call of extension {exten!r} has no other party")
            action = render(entry, values)
            resp: AmiMessage = await _client(link).send_action(action.name, action.headers, timeout=10.0)
    except AmiActionError as exc:
        log.warning("action %s (%s) for %s refused by the PBX: %s", name, entry.action, exten, exc)
        raise HTTPException(status_code=502, detail=f"the PBX refused: {exc.message or exc}") from None
    except (AmiNotConnected, AmiTimeout, ConnectionError) as exc:
        raise HTTPException(status_code=503, detail=str(exc) or "the PBX is not connected") from None
    except TimeoutError:
        raise HTTPException(status_code=504, detail=f"the PBX did not answer within {TIMEOUT:g} s") from None
    if resp.response.lower() != "success":
        raise HTTPException(status_code=502, detail=f"the PBX refused: {resp.get('Message') or entry.action}")
    log.info("action %s (%s) for extension %s done", name, entry.action, exten)
    return MappedResult(action=name, exten=exten, ami_action=entry.action, detail=resp.get("Message"))


@router.get("/api/v1/actions", response_model=list[MappedOut])
async def list_actions(request: Request, p: VendorAuth) -> list[MappedOut]:
    """The further IS2PBX actions this hub maps to AMI (defaults and configuration)."""
    return [
        MappedOut(
            name=e.name,
            action=e.action,
            description=e.description,
            params=[
                ParamOut(name=q.name, pattern=q.pattern, required=q.default is None, default=q.default)
                for q in e.params
            ],
        )
        for e in sorted(mapping(request).values(), key=lambda e: e.name)
    ]


@router.get("/is2pbx/{name}", response_model=MappedResult)
async def get_mapped(name: Name, request: Request, p: VendorAuth) -> MappedResult:
    """A mapped action, query-string spelling: ``/is2pbx/transfer?exten=20&target=22``."""
    given: dict[str, str] = {}
    for k, v in request.query_params.multi_items():
        if k in given:
            raise HTTPException(status_code=422, detail=f"{k}: given twice")
        given[k] = v
    return await run(request, p, name, given)


@router.post("/api/v1/actions/{name}", response_model=MappedResult)
async def post_mapped(name: Name, body: dict[str, str], request: Request, p: VendorAuth) -> MappedResult:
    """A mapped action, JSON spelling: ``{"exten": "20", "target": "22"}``."""
    return await run(request, p, name, body)

"""The IS2PBX actions (seed 003): click-to-dial, hang up, agent login/logout/pause.

Two spellings of the same commands: the vendor's ``GET /dial?number=..&exten=..``,
``GET /hangup?exten=..`` (plus ``/agent/login|logout|pause|unpause``), and
``POST /api/v1/actions/...`` with a JSON body. Both take a bearer token or HTTP
Basic with the token as the password.

Answers: 200 ``{"ok": true, ...}``; 404 unknown extension (or another tenant's, or
an extension with no call to hang up, or a queue the directory does not have); 422
bad input; 502 the PBX refused (its message); 503 the PBX is not connected; 504 the
PBX did not answer within ``ACTION_TIMEOUT`` seconds. A request never hangs.

Further actions (transfer, redirect, park, agent state ...) are named requests mapped
to AMI actions by configuration: :mod:`callhook.api.actions_mapped`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from callhook.api import actions_mapped
from callhook.api.auth import Principal, VendorAuth
from callhook.api.paging import ERRORS
from callhook.api.services import hub_of, pbx_for
from callhook.sources.asterisk import ActionError, NotConnected, PbxActions, UnknownExtension

__all__ = ["ACTION_TIMEOUT", "router"]

log = logging.getLogger(__name__)

ACTION_TIMEOUT = 15.0

_FAILURES: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    502: {"description": "the PBX refused the action"},
    503: {"description": "the PBX is not connected"},
    504: {"description": "the PBX did not answer in time"},
}
router = APIRouter(tags=["actions"], responses=_FAILURES)

# What reaches the PBX is checked here, before any AMI action is built: a dial string
# holds digits, * and # (a leading + for an international number); an extension,
# as the directory writes it, also letters and . _ -; a queue name no separators of
# a dial string or an AMI header; a pause reason no line break.
DIAL = r"^\+?[0-9*#]+$"
EXTEN = r"^[0-9A-Za-z*#+._-]+$"
QUEUE = r"^[^\s,;|&/:\x00-\x1f\x7f]+$"
REASON = r"^[^\x00-\x1f\x7f]*$"
Exten = Annotated[str, Query(min_length=1, max_length=64, pattern=EXTEN, description="the extension")]
QueueName = Annotated[str, Query(min_length=1, max_length=64, pattern=QUEUE)]
OptQueue = Annotated[str, Query(max_length=64, pattern=r"^$|" + QUEUE[1:])]
Reason = Annotated[str, Query(max_length=128, pattern=REASON)]
Number = Annotated[str, Field(min_length=1, max_length=64, pattern=EXTEN)]
DialNumber = Annotated[str, Field(min_length=1, max_length=64, pattern=DIAL, description="digits, * # and a leading +")]
QueueField = Annotated[str, Field(min_length=1, max_length=64, pattern=QUEUE)]
PbxName = Annotated[
    str, Field(max_length=64, description="the PBX (its name in the config); default: the one with this extension")
]
PbxQuery = Annotated[
    str, Query(max_length=64, description="the PBX (its name in the config); default: the one with this extension")
]


class ActionOut(BaseModel):
    ok: bool = True
    action: str
    exten: str
    detail: str = ""


class ExtenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exten: Number
    pbx: PbxName = ""


class DialIn(ExtenIn):
    number: DialNumber


class AgentIn(ExtenIn):
    queue: QueueField


class PauseIn(ExtenIn):
    queue: Annotated[str, Field(max_length=64, pattern=r"^$|" + QUEUE[1:])] = ""
    reason: Annotated[str, Field(max_length=128, pattern=REASON)] = ""


def _check(request: Request, p: Principal, exten: str, queue: str = "", pbx: str = "") -> PbxActions:
    """The actions of the PBX the request goes to (``pbx``, else the one whose directory
    has ``exten``), once the token may act on ``exten`` (and ``queue``) there."""
    if p.read_only:  # the vendor's GET spelling acts too
        raise HTTPException(status_code=403, detail="this token is read-only")
    link = pbx_for(hub_of(request), pbx, exten)
    directory = link.directory
    ext = directory.extension(exten)
    if ext is None or not p.sees(ext.tenant):
        raise HTTPException(status_code=404, detail=f"unknown extension {exten!r}")
    if queue and directory.queues and directory.queue(queue) is None:
        raise HTTPException(status_code=404, detail=f"unknown queue {queue!r}")
    return link.actions


async def _run(action: str, exten: str, call: Awaitable[Any]) -> ActionOut:
    try:
        async with asyncio.timeout(ACTION_TIMEOUT):
            result = await call
    except NotConnected as exc:
        raise HTTPException(status_code=503, detail=str(exc) or "the PBX is not connected") from None
    except UnknownExtension as exc:
        raise HTTPException(status_code=404, detail=str(exc.args[0]) if exc.args else "unknown extension") from None
    except ActionError as exc:
        log.warning("action %s for %s refused by the PBX: %s", action, exten, exc)
        raise HTTPException(status_code=502, detail=f"the PBX refused: {exc}") from None
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    except TimeoutError:
        raise HTTPException(status_code=504, detail=f"the PBX did not answer within {ACTION_TIMEOUT:g} s") from None
    detail = ", ".join(result) if isinstance(result, list) else ""
    log.info("action %s for extension %s done", action, exten)
    return ActionOut(action=action, exten=exten, detail=detail)


async def dial(request: Request, p: Principal, exten: str, number: str, pbx: str = "") -> ActionOut:
    return await _run("dial", exten, _check(request, p, exten, pbx=pbx).click_to_dial(exten, number))


async def hangup(request: Request, p: Principal, exten: str, pbx: str = "") -> ActionOut:
    return await _run("hangup", exten, _check(request, p, exten, pbx=pbx).hangup(exten))


async def login(request: Request, p: Principal, exten: str, queue: str, pbx: str = "") -> ActionOut:
    return await _run("agent_login", exten, _check(request, p, exten, queue, pbx).agent_login(queue, exten))


async def logout(request: Request, p: Principal, exten: str, queue: str, pbx: str = "") -> ActionOut:
    return await _run("agent_logout", exten, _check(request, p, exten, queue, pbx).agent_logout(queue, exten))


async def pause(
    request: Request, p: Principal, exten: str, paused: bool, reason: str, queue: str, pbx: str = ""
) -> ActionOut:
    actions = _check(request, p, exten, queue, pbx)
    return await _run(
        "agent_pause" if paused else "agent_unpause", exten, actions.agent_pause(exten, paused, reason, queue)
    )


# ------------------------------------------------------------------ the vendor's GET spelling
@router.get("/dial", response_model=ActionOut)
async def get_dial(
    request: Request,
    p: VendorAuth,
    exten: Exten,
    number: Annotated[str, Query(min_length=1, max_length=64, pattern=DIAL, description="digits, * # and a leading +")],
    pbx: PbxQuery = "",
) -> ActionOut:
    """Click-to-dial: ring ``exten``; once it answers, dial ``number`` from it."""
    return await dial(request, p, exten, number, pbx)


@router.get("/hangup", response_model=ActionOut)
async def get_hangup(request: Request, p: VendorAuth, exten: Exten, pbx: PbxQuery = "") -> ActionOut:
    """Hang up every call of ``exten``."""
    return await hangup(request, p, exten, pbx)


@router.get("/agent/login", response_model=ActionOut)
async def get_login(request: Request, p: VendorAuth, exten: Exten, queue: QueueName, pbx: PbxQuery = "") -> ActionOut:
    return await login(request, p, exten, queue, pbx)


@router.get("/agent/logout", response_model=ActionOut)
async def get_logout(request: Request, p: VendorAuth, exten: Exten, queue: QueueName, pbx: PbxQuery = "") -> ActionOut:
    return await logout(request, p, exten, queue, pbx)


@router.get("/agent/pause", response_model=ActionOut)
async def get_pause(
    request: Request,
    p: VendorAuth,
    exten: Exten,
    reason: Reason = "",
    queue: OptQueue = "",
    pbx: PbxQuery = "",
) -> ActionOut:
    """Pause the agent in ``queue``, or in every queue when none is given."""
    return await pause(request, p, exten, True, reason, queue, pbx)


@router.get("/agent/unpause", response_model=ActionOut)
async def get_unpause(
    request: Request, p: VendorAuth, exten: Exten, queue: OptQueue = "", pbx: PbxQuery = ""
) -> ActionOut:
    return await pause(request, p, exten, False, "", queue, pbx)


# ------------------------------------------------------------------ the JSON spelling
@router.post("/api/v1/actions/dial", response_model=ActionOut)
async def post_dial(body: DialIn, request: Request, p: VendorAuth) -> ActionOut:
    return await dial(request, p, body.exten, body.number, body.pbx)


@router.post("/api/v1/actions/hangup", response_model=ActionOut)
async def post_hangup(body: ExtenIn, request: Request, p: VendorAuth) -> ActionOut:
    return await hangup(request, p, body.exten, body.pbx)


@router.post("/api/v1/actions/agent/login", response_model=ActionOut)
async def post_login(body: AgentIn, request: Request, p: VendorAuth) -> ActionOut:
    return await login(request, p, body.exten, body.queue, body.pbx)


@router.post("/api/v1/actions/agent/logout", response_model=ActionOut)
async def post_logout(body: AgentIn, request: Request, p: VendorAuth) -> ActionOut:
    return await logout(request, p, body.exten, body.queue, body.pbx)


@router.post("/api/v1/actions/agent/pause", response_model=ActionOut)
async def post_pause(body: PauseIn, request: Request, p: VendorAuth) -> ActionOut:
    return await pause(request, p, body.exten, True, body.reason, body.queue, body.pbx)


@router.post("/api/v1/actions/agent/unpause", response_model=ActionOut)
async def post_unpause(body: PauseIn, request: Request, p: VendorAuth) -> ActionOut:
    return await pause(request, p, body.exten, False, "", body.queue, body.pbx)


router.include_router(actions_mapped.router)  # the further actions, mapped to AMI by configuration

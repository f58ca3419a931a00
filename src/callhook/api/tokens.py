"""``/api/v1/tokens`` (the admin's) and ``/api/v1/audit``: tokens managed through the API, and who changed what.

A token made here belongs to one tenant, may be read-only (GET and HEAD only) and
may expire; it has a name. Its value (``chk_`` and 43 URL-safe characters, 32
random bytes) is in the answer to the POST only: the store keeps its SHA-256 and
its first 8 characters (``prefix``), so a list can show which token is which. A
DELETE revokes it (kept, with ``revoked_at``, for the audit trail). Tokens from the
environment or the TOML file keep working beside these and are not listed.

The audit log (:class:`AuditLog`, an ASGI middleware) records every accepted or
refused change made through the API (every request but GET/HEAD/OPTIONS, and the
GET spelling of the IS2PBX actions; the vendor ingest routes, data rather than
changes, left out): when, who (the token's
``actor``), the method and the route, the object the path names and the status. It
never records a body. A tenant token reads its tenant's entries; the admin reads
all, or one tenant's with ``?tenant=``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from callhook.api.auth import Auth, Principal, hash_token, refresh_tokens
from callhook.api.paging import ERRORS
from callhook.api.services import app_hub, hub_of
from callhook.store.base import StoreError
from callhook.store.tokens import AuditEntry, TokenRecord, TokenStore, token_store

__all__ = ["AuditLog", "router", "tokens_of"]

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["tokens and audit"], responses=ERRORS)

PREFIX_SHOWN = 8
_UNAUDITED = ("/ingest/",)
_ACTS = ("/dial", "/hangup", "/agent/")  # the IS2PBX actions' GET spelling acts: audited too


def tokens_of(app: FastAPI | Any) -> TokenStore:
    """The token and audit tables of the app's store (made once per app)."""
    state = app.state
    found: TokenStore | None = getattr(state, "token_store", None)
    if found is None:
        found = token_store(app_hub(app).store)
        state.token_store = found
    return found


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
    tenant: Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s\x00-\x1f\x7f]+$")]
    read_only: bool = False
    expires_at: Annotated[datetime | None, Field(description="when it stops working; none: never")] = None


class TokenOut(BaseModel):
    id: str
    name: str
    tenant: str
    read_only: bool
    prefix: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    active: bool


class TokenCreated(TokenOut):
    token: str = Field(description="the token itself: shown in this answer only")


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    tenant: str
    action: str
    target: str
    status: int


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _out(t: TokenRecord, now: float) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "tenant": t.tenant,
        "read_only": t.read_only,
        "prefix": t.prefix,
        "created_at": _dt(t.created_at),
        "created_by": t.created_by,
        "expires_at": _dt(t.expires_at),
        "revoked_at": _dt(t.revoked_at),
        "active": t.valid_at(now),
    }


def _admin(p: Principal) -> None:
    if not p.is_admin:
        raise HTTPException(status_code=403, detail="tokens are managed with the admin token")


@router.post("/tokens", response_model=TokenCreated, status_code=201)
async def create_token(body: TokenIn, request: Request, p: Auth) -> TokenCreated:
    """A new tenant token; its value is in this answer only."""
    _admin(p)
    hub = hub_of(request)
    now = hub.now()
    expires = body.expires_at.timestamp() if body.expires_at is not None else None
    if expires is not None and body.expires_at is not None and body.expires_at.tzinfo is None:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["body", "expires_at"], "msg": "give a time zone (Z or +01:00)", "type": "value_error"}],
        )
    if expires is not None and expires <= now:
        raise HTTPException(
            status_code=422,
            detail=[{"loc": ["body", "expires_at"], "msg": "must be in the future", "type": "value_error"}],
        )
    value = "chk_" + secrets.token_urlsafe(32)
    rec = TokenRecord(
        id="tok_" + secrets.token_hex(8),
        name=body.name,
        tenant=body.tenant,
        read_only=body.read_only,
        token_hash=hash_token(value),
        prefix=value[:PREFIX_SHOWN],
        created_at=now,
        created_by=p.who,
        expires_at=expires,
    )
    await tokens_of(request.app).add_token(rec)
    await refresh_tokens(request, now=True)
    log.info("token %s (%s) made for tenant %s", rec.id, rec.name, rec.tenant)
    return TokenCreated(**_out(rec, now), token=value)


@router.get("/tokens", response_model=list[TokenOut])
async def list_tokens(request: Request, p: Auth) -> list[TokenOut]:
    """Every token made through the API (never their values), revoked and expired ones too."""
    _admin(p)
    now = hub_of(request).now()
    return [TokenOut(**_out(t, now)) for t in await tokens_of(request.app).list_tokens()]


@router.delete("/tokens/{token_id}", status_code=204)
async def revoke_token(token_id: Annotated[str, Path(max_length=64)], request: Request, p: Auth) -> Response:
    """Revoke a token: it stops working at once here, within TOKEN_REFRESH seconds elsewhere;
    the dashboard sessions signed in with it are ended in the store at once, for every process."""
    _admin(p)
    store = tokens_of(request.app)
    revoked = await store.revoke_token(token_id, hub_of(request).now())
    if not revoked and not any(t.id == token_id for t in await store.list_tokens()):
        raise HTTPException(status_code=404, detail=f"no token {token_id!r}")
    await request.app.state.sessions.end_token(token_id)
    await refresh_tokens(request, now=True)
    return Response(status_code=204)


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    request: Request,
    p: Auth,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="entries older than this id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditOut]:
    """The newest changes first: the admin sees all (or one tenant's), a tenant token its own tenant's."""
    rows = await tokens_of(request.app).list_audit(tenant=p.scope(tenant), before=before, limit=limit)
    return [
        AuditOut(
            id=e.id,
            at=datetime.fromtimestamp(e.at, UTC),
            actor=e.actor,
            tenant=e.tenant,
            action=e.action,
            target=e.target,
            status=e.status,
        )
        for e in rows
    ]


class AuditLog:
    """ASGI middleware: refreshes the copy of the token table before routing, and writes one
    audit entry per change request that a token was found for."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI) -> None:
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                await refresh_tokens(self.fastapi_app)
            except StoreError as exc:  # the routes answer 503 themselves; the old copy stays meanwhile
                log.warning("tokens: cannot read the token table: %s", exc)
        path: str = scope.get("path", "") if scope["type"] == "http" else ""
        reading = scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS")
        if (reading and not path.startswith(_ACTS)) or path.startswith(_UNAUDITED):
            await self.app(scope, receive, send)
            return
        status = 500

        async def keep_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, keep_status)
        finally:
            p = scope.get("state", {}).get("principal")
            if isinstance(p, Principal):
                await self._record(scope, p, status)

    async def _record(self, scope: Scope, p: Principal, status: int) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or scope.get("path", "")
        params = scope.get("path_params", {}) or {}
        target = ",".join(f"{k}={v}" for k, v in params.items())[:512]
        entry = AuditEntry(
            at=app_hub(self.fastapi_app).now(),
            actor=p.who,
            tenant=p.tenant or "",
            action=f"{scope['method']} {template}",
            target=target,
            status=status,
        )
        try:
            await tokens_of(self.fastapi_app).add_audit(entry)
        except Exception:  # the change is made: a failed audit write is logged, not turned into an error
            log.exception("audit log: could not record %s by %s", entry.action, entry.actor)

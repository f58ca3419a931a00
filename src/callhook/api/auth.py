"""Tokens: the admin token sees every tenant; a tenant token sees only its own.

``Principal.tenant`` is None for the admin. Tokens are compared in constant time and
never logged. :func:`require` takes ``Authorization: Bearer <token>``;
:func:`require_vendor` (the vendor-compatible routes: ingest, IS2PBX actions,
Telphin) also takes HTTP Basic with the token as the password, since those clients
can often only be configured with a user name and a password.

Tenant tokens come from ``hub.config.extra["tenant_tokens"]``: a mapping token ->
tenant (or the ``CALLHOOK_TENANT_TOKENS`` text ``tenant:token,tenant2:token2``), and
from the tokens the admin makes through ``/api/v1/tokens`` (:mod:`callhook.api.tokens`):
those are looked up by their SHA-256 in a copy of the token table that is read again
at most every ``TOKEN_REFRESH`` seconds (at once after a change made here; before
routing, by :class:`callhook.api.tokens.AuditLog`, so the dashboard sign-in sees
them too), so a revoked or expired token stops working within that time on every
process. Such a
token may be read-only: any request but GET/HEAD is then a 403.

Without an ``Authorization`` header, a browser session (:mod:`callhook.api.sessions`)
is taken from its cookie, but only with the session's CSRF value in the
``X-Callhook-CSRF`` header (a GET may give it as the ``csrf`` query parameter
instead, for ``EventSource`` and download links); a valid cookie with a missing or
wrong CSRF value is a 403. The session is put in ``request.state.session``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from callhook.api.services import hub_of

__all__ = [
    "TOKEN_REFRESH",
    "Principal",
    "hash_token",
    "parse_tenant_tokens",
    "principal",
    "refresh_tokens",
    "require",
    "require_vendor",
    "token_principal",
]

TOKEN_REFRESH = 2.0  # seconds a process may go on trusting its copy of the token table
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="The admin token or a tenant token.")
basic = HTTPBasic(auto_error=False, description="Vendor routes only: any user name, the token as the password.")


@dataclass(frozen=True, slots=True)
class Principal:
    tenant: str | None  # None: admin
    read_only: bool = False
    token_id: str = ""  # a token made through the API: its id (a revoked one ends its sessions too)
    actor: str = ""  # who, for the audit log: "admin", "tenant acme (configured token)", "token tok_.. (name)"

    @property
    def who(self) -> str:
        return self.actor or ("admin" if self.tenant is None else f"tenant {self.tenant} (configured token)")

    @property
    def is_admin(self) -> bool:
        return self.tenant is None

    def scope(self, tenant: str | None) -> str | None:
        """The tenant a query is limited to: a tenant token's own, else what the admin asked for."""
        return self.tenant if self.tenant is not None else tenant

    def sees(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant


def parse_tenant_tokens(raw: Any) -> dict[str, str]:
    """token -> tenant from a mapping (token -> tenant) or ``tenant:token,...`` text; empty ones dropped."""
    if isinstance(raw, str):
        pairs = [item.partition(":") for item in raw.split(",") if item.strip()]
        return {tok.strip(): tenant.strip() for tenant, _, tok in pairs if tok.strip() and tenant.strip()}
    if isinstance(raw, Mapping):
        return {str(tok): str(tenant) for tok, tenant in raw.items() if str(tok) and str(tenant)}
    return {}


def token_principal(request: Request, token: str) -> Principal | None:
    """Whose token this is (the admin's or a tenant's), else None."""
    return _lookup(request, token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def refresh_tokens(request: Request | Any, *, now: bool = False) -> None:
    """Read the token table again if the copy is older than TOKEN_REFRESH (or ``now``).

    ``request`` is a request, or the app itself (the middleware refreshes before routing,
    so the dashboard's sign-in, which looks a token up without awaiting, has a fresh copy)."""
    from callhook.api.tokens import tokens_of

    app = request.app if isinstance(request, Request) else request
    state = app.state
    loaded = getattr(state, "api_tokens_at", None)
    mono = time.monotonic()
    if not now and loaded is not None and mono - loaded < TOKEN_REFRESH:
        return
    records = await tokens_of(app).list_tokens()
    state.api_tokens = {t.token_hash: t for t in records}
    state.api_token_ids = {t.id: t for t in records}
    state.api_tokens_at = mono


def _lookup(request: Request, token: str) -> Principal | None:
    if not token:
        return None
    hub = hub_of(request)
    if hub.admin_token and hmac.compare_digest(token.encode(), hub.admin_token.encode()):
        return Principal(None)
    tenants: dict[str, str] = getattr(request.app.state, "tenant_tokens", {})
    found: Principal | None = None
    for tok, tenant in tenants.items():  # no early exit: the time does not tell which token matched
        if hmac.compare_digest(token.encode(), tok.encode()):
            found = Principal(tenant)
    if found is None:
        rec = getattr(request.app.state, "api_tokens", {}).get(hash_token(token))
        if rec is not None and rec.valid_at(hub.now()):
            found = Principal(
                rec.tenant, read_only=rec.read_only, token_id=rec.id, actor=f"token {rec.id} ({rec.name})"
            )
    return found


async def _from_session(request: Request) -> Principal | None:
    book = getattr(request.app.state, "sessions", None)
    sid = request.cookies.get("callhook_session", "")
    session = await book.get(sid) if book is not None and sid else None
    if session is None:
        return None
    given = request.headers.get("x-callhook-csrf", "")
    if not given and request.method in ("GET", "HEAD"):
        given = request.query_params.get("csrf", "")
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise HTTPException(status_code=403, detail="a signed-in browser must send the X-Callhook-CSRF header")
    p: Principal = session.principal
    if p.token_id:  # signed in with a token made through the API: only while it is valid
        rec = getattr(request.app.state, "api_token_ids", {}).get(p.token_id)
        if rec is None or not rec.valid_at(hub_of(request).now()):
            return None
    request.state.session = session
    return p


async def principal(request: Request, *, allow_basic: bool = False) -> Principal | None:
    header = request.headers.get("authorization", "")
    if not header:
        return await _from_session(request)
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return _lookup(request, value.strip())
    if allow_basic and scheme.lower() == "basic":
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        _, _, password = raw.partition(":")
        return _lookup(request, password)
    return None


def _unauthorized(basic_too: bool) -> HTTPException:
    challenge = 'Bearer, Basic realm="callhook"' if basic_too else "Bearer"
    return HTTPException(status_code=401, detail="missing or invalid token", headers={"WWW-Authenticate": challenge})


def _admit(request: Request, p: Principal) -> Principal:
    if p.read_only and request.method not in SAFE_METHODS:
        raise HTTPException(status_code=403, detail="this token is read-only")
    request.state.principal = p  # the audit log's "who"
    return p


async def require(
    request: Request, _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None
) -> Principal:
    """FastAPI dependency: a valid bearer token, else 401."""
    await refresh_tokens(request)
    p = await principal(request)
    if p is None:
        raise _unauthorized(False)
    return _admit(request, p)


async def require_vendor(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
    _basic: Annotated[HTTPBasicCredentials | None, Depends(basic)] = None,
) -> Principal:
    """FastAPI dependency for the vendor routes: a bearer token or Basic with the token as password."""
    await refresh_tokens(request)
    p = await principal(request, allow_basic=True)
    if p is None:
        raise _unauthorized(True)
    return _admit(request, p)


Auth = Annotated[Principal, Depends(require)]
VendorAuth = Annotated[Principal, Depends(require_vendor)]

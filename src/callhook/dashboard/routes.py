"""The dashboard's routes: the pages, signing in and out, the one-time link, the static files.

| route                             | what                                                      |
|-----------------------------------|-----------------------------------------------------------|
| ``GET /``, ``GET /dashboard/``    | the HTML shell (strict Content-Security-Policy)           |
| ``GET /dashboard/static/{file}``  | the style sheet and the ES modules (ETag, revalidated)    |
| ``GET /favicon.ico``              | the icon (SVG; browsers ask for this path by themselves)  |
| ``POST /dashboard/api/signin``    | ``{"token", "name"}`` -> session cookie + ``{"csrf", ...}`` |
| ``GET /dashboard/api/session``    | who is signed in, and the CSRF value (cookie only)        |
| ``POST /dashboard/api/signout``   | ends the session, clears the cookie                       |
| ``GET /s/{code}``                 | a one-time link: cookie, then 303 to ``/``                |
| ``GET /dashboard/signin?code=``   | the same, the link's longer form                          |
| ``POST /api/v1/dashboard-links``  | a fresh one-time link for the token's principal           |

The token is read from the POST body only, checked like a bearer token and never
stored or logged; the cookie is HttpOnly, SameSite=Strict, Secure on https, with
no expiry date (it ends with the browser session).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from callhook.api.auth import token_principal
from callhook.api.sessions import COOKIE, Session
from callhook.dashboard import shell
from callhook.dashboard.signin import links

__all__ = ["CSP", "install", "router"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _load_assets() -> dict[str, tuple[bytes, str, str]]:
    """Relative path -> (content, content type, ETag), read once at import."""
    out = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in _TYPES:
            data = path.read_bytes()
            out[path.relative_to(STATIC).as_posix()] = (
                data,
                _TYPES[path.suffix],
                '"' + hashlib.sha256(data).hexdigest()[:20] + '"',
            )
    return out


ASSETS = _load_assets()
VERSION = hashlib.sha256("".join(etag for _, _, etag in ASSETS.values()).encode()).hexdigest()[:12]
_PAGE = shell.render(VERSION)
_GONE = shell.link_gone(VERSION)


class SigninIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=1, max_length=512)]
    name: Annotated[str, Field(max_length=128)] = ""


def _session_out(s: Session) -> dict[str, Any]:
    return {
        "signed_in": True,
        "tenant": s.principal.tenant,
        "admin": s.principal.is_admin,
        "name": s.name,
        "csrf": s.csrf,
    }


def _set_cookie(request: Request, response: Response, sid: str) -> None:
    response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path="/", secure=request.url.scheme == "https")


@router.get("/", response_class=HTMLResponse)
@router.get("/dashboard", response_class=HTMLResponse)
@router.get("/dashboard/", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    return HTMLResponse(_PAGE, headers=PAGE_HEADERS)


@router.get("/favicon.ico")
async def favicon(request: Request) -> Response:
    return await asset("favicon.svg", request)


@router.get("/dashboard/static/{name:path}")
async def asset(name: str, request: Request) -> Response:
    found = ASSETS.get(name)
    if found is None:
        raise HTTPException(status_code=404, detail="no such file")
    data, ctype, etag = found
    headers = {"ETag": etag, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=ctype, headers=headers)


@router.post("/dashboard/api/signin")
async def signin(body: SigninIn, request: Request) -> JSONResponse:
    p = token_principal(request, body.token.strip())
    if p is None:
        log.warning("dashboard sign-in refused from %s", request.client.host if request.client else "?")
        raise HTTPException(status_code=401, detail="this token is not valid here")
    sid, session = await request.app.state.sessions.open(p, body.name.strip())
    log.info("dashboard sign-in: %s", "admin" if p.is_admin else f"tenant {p.tenant}")
    response = JSONResponse(_session_out(session), headers={"Cache-Control": "no-store"})
    _set_cookie(request, response, sid)
    return response


@router.get("/dashboard/api/session")
async def current(request: Request) -> JSONResponse:
    session = await request.app.state.sessions.get(request.cookies.get(COOKIE, ""))
    body = _session_out(session) if session is not None else {"signed_in": False}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/dashboard/api/signout")
async def signout(request: Request) -> JSONResponse:
    sid = request.cookies.get(COOKIE, "")
    book = request.app.state.sessions
    session = await book.get(sid, touch=False)
    if session is not None and not hmac.compare_digest(
        request.headers.get("x-callhook-csrf", "").encode(), session.csrf.encode()
    ):
        raise HTTPException(status_code=403, detail="missing X-Callhook-CSRF header")
    await book.close(sid)
    response = JSONResponse({"signed_in": False})
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/dashboard/signin")
async def signin_link(request: Request, code: Annotated[str, Query(max_length=128)] = "") -> Response:
    return await _redeem(request, code)


@router.get("/s/{code}")
async def short_link(request: Request, code: Annotated[str, PathParam(max_length=128)]) -> Response:
    return await _redeem(request, code)


async def _redeem(request: Request, code: str) -> Response:
    found = await request.app.state.sessions.redeem(code)
    if found is None:
        return HTMLResponse(_GONE, status_code=400, headers=PAGE_HEADERS)
    sid, session = found
    log.info(
        "dashboard sign-in by one-time link: %s",
        "admin" if session.principal.is_admin else f"tenant {session.principal.tenant}",
    )
    response = RedirectResponse(
        "/", status_code=303, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
    _set_cookie(request, response, sid)
    return response


def install(app: FastAPI) -> None:
    """Mount the dashboard on the API app (``app.state.sessions`` must be set)."""
    app.include_router(router)
    app.include_router(links)

"""The ASGI application: routers mounted on one FastAPI app, the hub in ``app.state``.

``create_app(hub)`` takes the composition root's :class:`~callhook.bootstrap.Hub`
(made by :func:`callhook.bootstrap.build`, in tests too), the one typed set of
services every route reaches through :func:`callhook.api.services.hub_of`. The
dashboard (:mod:`callhook.dashboard`) is mounted at ``/`` and ``/dashboard/``.

Errors are JSON: ``{"detail": ...}`` (FastAPI's form; validation errors list the
field's location and the reason, never the rejected value, which may be a
password), except ingest's 400 ``{"error", "field"}``. A JSON body sent without
``Content-Type: application/json`` is a 415 whose detail names the header. A store
failure is a 503.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from callhook import __version__
from callhook.api import (
    actions,
    agents,
    calls,
    cdrs,
    deliveries,
    delivery_health,
    directory,
    health,
    ingest,
    ledger,
    missed,
    pbxes,
    recordings,
    statistics,
    stream,
    telphin,
    tokens,
    webhooks,
)
from callhook.api.auth import parse_tenant_tokens
from callhook.api.bodysize import BodySizeLimit
from callhook.store.base import StoreError

if TYPE_CHECKING:
    from callhook.bootstrap import Hub

__all__ = ["create_app"]

log = logging.getLogger(__name__)

ROUTERS = (
    health,
    webhooks,
    deliveries,
    delivery_health,
    ledger,
    calls,
    cdrs,
    agents,
    pbxes,
    statistics,
    missed,
    directory,
    stream,
    actions,
    telphin,
    ingest,
    tokens,
    recordings,  # i15-ledger: signed recording downloads
)


def _not_json(request: Request, errors: list[dict[str, Any]]) -> bool:
    """A JSON body route given a body that was not declared JSON (FastAPI then validates the raw bytes)."""
    ctype = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        return False
    return any(tuple(e.get("loc", ())) == ("body",) and e.get("type") != "missing" for e in errors)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
    if _not_json(request, errors):
        given = request.headers.get("content-type", "")
        return JSONResponse(
            {
                "detail": [
                    {
                        "loc": ["header", "content-type"],
                        "msg": "the body must be sent with Content-Type: application/json"
                        + (f", not {given[:100]!r}" if given else " (the header is missing)"),
                        "type": "unsupported_media_type",
                    }
                ]
            },
            status_code=415,
        )
    return JSONResponse({"detail": errors}, status_code=422)


async def _store_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse({"detail": "the store is unavailable; try again"}, status_code=503)


def create_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="callhook",
        version=__version__,
        description="Telephony events as durable, ordered webhooks in vendor dialects. See docs/api.md for the guide.",
    )
    app.state.hub = hub
    app.state.tenant_tokens = parse_tenant_tokens(hub.config.extra.get("tenant_tokens", {}))
    app.state.heartbeat = stream.HEARTBEAT
    app.state.sessions = hub.sessions  # browser sessions and one-time codes, in the store
    app.add_middleware(tokens.AuditLog, fastapi_app=app)  # who changed what, when (GET /api/v1/audit)
    app.add_middleware(BodySizeLimit, max_bytes=hub.config.max_body_bytes)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StoreError, _store_error)
    for module in ROUTERS:
        app.include_router(module.router)
    health.install_metrics(app)
    from callhook.dashboard import install as install_dashboard

    install_dashboard(app)
    return app

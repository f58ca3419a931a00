"""``/healthz`` and ``/metrics`` (no token): is the store reachable, is the PBX connected,
how big is the backlog, is capture keeping up; and the Prometheus text.

``status`` is ``degraded`` (still 200) while events cannot be stored -- the store keeps
failing commits (``capture.stalled_since``), or an event was given up as unstorable in
the last :data:`UNSTORED_WINDOW` seconds -- and ``reasons`` says why; ``degraded`` with
503 when the store does not answer at all, as before.

The backlog and dead-letter gauges need the store, which is asynchronous, while
Prometheus collectors are called synchronously: ``/metrics`` reads ``store.counts()``
first and keeps it in ``app.state.counts``, then renders; the refresh registered by
:func:`install_metrics` copies it (and the AMI connection state) into the gauges.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from callhook.api.services import app_hub, hub_of
from callhook.store.ledger import total as ledger_total

if TYPE_CHECKING:
    from callhook.bootstrap import Hub
    from callhook.pbx_link import PbxLink

__all__ = ["install_metrics", "router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class PbxHealth(BaseModel):
    configured: bool
    connected: bool
    pbx: str = ""  # the PBX's name (CALLHOOK_PBX_NAME, or its [[pbx]] table's name)
    # does this process hold the PBX's AMI session? On PostgreSQL one process of the
    # deployment is elected to (docs/deployment.md); the others answer false
    held: bool = False
    elected: bool = False  # held through the PostgreSQL election (false: SQLite, one process)
    terms: int = 0  # times this process took the AMI session since start
    election_error: str = ""  # why this process's election connection last failed ("" while fine)
    error: str = ""  # why the AMI session stopped for good ("" while it runs)


class AmiHealth(PbxHealth):
    """The first PBX's figures at the top level (the one PBX of most installations), and
    every PBX's in ``pbxes``."""

    pbxes: list[PbxHealth] = Field(default_factory=list)


class StoreHealth(BaseModel):
    reachable: bool
    error: str = ""


class CaptureHealth(BaseModel):
    queued: int = 0
    unstored: int = 0
    last_unstored_at: float | None = None
    last_unstored_reason: str = ""
    stalled_since: float | None = None
    backpressure: int = 0


class HealthOut(BaseModel):
    status: str
    ami: AmiHealth
    store: StoreHealth
    backlog: int | None = None
    dead_letters: int | None = None
    capture: CaptureHealth = Field(default_factory=CaptureHealth)
    reasons: list[str] = Field(default_factory=list)


UNSTORED_WINDOW = 900.0  # seconds /healthz stays degraded after an event was given up


def _capture(hub: Hub, now: float) -> tuple[CaptureHealth, list[str]]:
    acc = hub.accepter
    cap = CaptureHealth(
        queued=acc.pending,
        unstored=acc.unstored,
        stalled_since=acc.stalled_since,
        backpressure=acc.backpressure,
    )
    reasons = []
    if acc.stalled_since is not None:
        reasons.append(
            f"the store has failed commits for {now - acc.stalled_since:.0f} s "
            f"({acc.pending} event(s) waiting): {acc.stall_reason}"
        )
    if acc.last_unstored is not None:
        at, why = acc.last_unstored
        cap.last_unstored_at, cap.last_unstored_reason = at, why
        if now - at < UNSTORED_WINDOW:
            reasons.append(
                f"{acc.unstored} event(s) could not be stored since start, the last {now - at:.0f} s ago: {why}"
            )
    return cap, reasons


def _pbx(p: PbxLink) -> PbxHealth:
    election = p.election
    return PbxHealth(
        configured=p.configured,
        connected=p.connected,
        pbx=p.name,
        held=p.held,
        elected=election is not None,
        terms=election.terms if election is not None else (1 if p.configured else 0),
        election_error=election.error if election is not None else "",
        error=p.error,
    )


def _ami(hub: Hub) -> AmiHealth:
    each = [_pbx(p) for p in hub.pbxes]
    if not each:
        return AmiHealth(configured=False, connected=False)
    return AmiHealth(**each[0].model_dump(), pbxes=each)


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def healthz(request: Request) -> JSONResponse:
    """200 when the store answers (the PBX may be down: see ``ami.connected``), else 503;
    ``status`` is ``degraded`` with ``reasons`` while events cannot be stored."""
    hub = hub_of(request)
    capture, reasons = _capture(hub, time.time())
    body = HealthOut(
        status="degraded" if reasons else "ok",
        ami=_ami(hub),
        store=StoreHealth(reachable=True),
        capture=capture,
        reasons=reasons,
    )
    try:
        counts = await hub.store.counts()
    except Exception as exc:  # health must answer whatever broke
        log.warning("health: store unreachable: %s", type(exc).__name__)
        body.store = StoreHealth(reachable=False, error=type(exc).__name__)
        body.status = "degraded"
        body.reasons.append(f"the store does not answer: {type(exc).__name__}")
        return JSONResponse(body.model_dump(), status_code=503)
    body.backlog, body.dead_letters = counts.backlog, counts.dead
    return JSONResponse(body.model_dump())


@router.get(
    "/metrics", response_class=Response, responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}}
)
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    hub = hub_of(request)
    try:
        request.app.state.counts = await hub.store.counts()
        request.app.state.ledger = await hub.store.ledger()
    except Exception as exc:  # the other metrics are still worth scraping
        log.warning("metrics: store unreachable: %s", type(exc).__name__)
    return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


def install_metrics(app: FastAPI) -> None:
    """Register the scrape-time refresh of the gauges (once per app)."""
    hub = app_hub(app)
    app.state.counts = None
    app.state.ledger = None

    def refresh() -> None:
        counts: Any = app.state.counts
        if counts is not None:
            hub.metrics.backlog(counts.backlog)
        rows: Any = app.state.ledger
        if rows is not None:
            hub.metrics.ledger(rows, ledger_total(rows))
        hub.metrics.pbxes(hub.pbxes)
        hub.metrics.capture(hub.accepter, hub.pbxes)

    hub.metrics.on_scrape(refresh)

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

from typing import TYPE_CHECKING

from callhook.api.services import app_hub, hub_of

if TYPE_CHECKING:
    from callhook.bootstrap import Hub
import logging
import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from callhook.store.ledger import total as ledger_total

__all__ = ["install_metrics", "router"]

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


class AmiHealth(BaseModel):
    configured: bool
    connected: bool
    pbx: str = ""  # the PBX's name (CALLHOOK_PBX_NAME)
    # does this process hold the PBX's AMI session? On PostgreSQL one process of the
    # deployment is elected to (docs/deployment.md); the others answer false
    held: bool = False
    elected: bool = False  # held through the PostgreSQL election (false: SQLite, one process)
    terms: int = 0  # times this process took the AMI session since start
    election_error: str = ""  # why this process's election connection last failed ("" while fine)


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


def _ami(hub: Hub) -> AmiHealth:
    election = hub.election
    return AmiHealth(
        configured=hub.ami is not None,
        connected=hub.ami_connected,
        pbx=hub.config.pbx_name if hub.ami is not None else "",
        held=hub.ami_held,
        elected=election is not None,
        terms=election.terms if election is not None else (1 if hub.ami is not None else 0),
        election_error=election.error if election is not None else "",
    )


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
        hub.metrics.ami_connected.set(1 if hub.ami_connected else 0)
        if hub.ami is not None:
            hub.metrics.ami_held.labels(pbx=hub.config.pbx_name).set(1 if hub.ami_held else 0)
            if hub.election is not None:
                hub.metrics.ami_terms.set(hub.election.terms)
        hub.metrics.capture(hub.accepter, hub.source, hub.ami)
        if hub.ami is not None:
            reconnects = getattr(hub.ami, "reconnects", None)
            if isinstance(reconnects, int):
                hub.metrics.ami_reconnects.set(reconnects)

    hub.metrics.on_scrape(refresh)

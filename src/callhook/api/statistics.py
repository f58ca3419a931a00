"""``/api/v1/queues/stats`` (JSON, or CSV at ``/queues/stats/csv``) and
``/api/v1/agents/stats``: call-centre figures over a time range, computed by
:mod:`callhook.core.stats` from the stored events.

The range defaults to the last 24 hours. At most ``MAX_EVENTS`` events of each type
are read; ``truncated`` says when a range held more (narrow it). ``bucket=hour`` or
``day`` also splits the range at the hub's hour or day boundaries (its time zone);
each visit counts in the bucket it joined in, so the buckets add up to the totals.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from callhook.api.agents import agents_seen, visible_queues
from callhook.api.auth import Auth, Principal
from callhook.api.paging import ERRORS, Since, Until, epoch, invalid
from callhook.api.services import hub_of
from callhook.core import stats
from callhook.core.agent_time import agent_time
from callhook.core.events import Event, EventType
from callhook.store.base import EventQuery

__all__ = ["events_in_range", "router", "stats_range"]

router = APIRouter(prefix="/api/v1", tags=["statistics"], responses=ERRORS)

MAX_EVENTS = 200_000
MAX_BUCKETS = 2000
Bucket = Annotated[Literal["hour", "day"] | None, Query(description="split the range by hour or day (hub's zone)")]
Tenant = Annotated[str | None, Query(max_length=256)]
QUEUE_TYPES = (EventType.QUEUE_JOINED, EventType.QUEUE_OFFERED, EventType.QUEUE_BRIDGED, EventType.QUEUE_LEFT)


class QueueStatsOut(BaseModel):
    queue: str
    offered: int
    answered: int
    abandoned: int
    answered_within: int
    service_level_seconds: int
    service_level: float | None
    asa: float | None
    aht: float | None
    abandon_rate: float | None


class BucketOut(BaseModel):
    start: datetime
    end: datetime
    queues: list[QueueStatsOut]


class QueueStatsPage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    queues: list[QueueStatsOut]
    buckets: list[BucketOut] | None = None


class AgentQueueOut(BaseModel):
    queue: str
    answered: int
    missed: int


class AgentDayOut(BaseModel):
    extension: str
    name: str
    tenant: str
    answered: int
    missed: int
    queues: list[AgentQueueOut] = Field(
        default_factory=list,
        description="per queue: its visits this agent answered, and those offered to it that nobody answered",
    )


class AgentStatsPage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    agents: list[AgentDayOut]


def stats_range(request: Request, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    hub = hub_of(request)
    until_ts, since_ts = epoch(request, until, "until"), epoch(request, since)
    end = datetime.fromtimestamp(hub.now() if until_ts is None else until_ts, hub.tz)
    try:
        start = end - timedelta(days=1) if since_ts is None else datetime.fromtimestamp(since_ts, hub.tz)
    except OverflowError:
        raise invalid("query", "until", "time out of range") from None
    return start, end


async def events_in_range(
    store: Any, p: Principal, tenant: str | None, types: tuple[EventType, ...], start: datetime, end: datetime
) -> tuple[list[Event], bool]:
    out: list[Event] = []
    truncated = False
    for t in types:
        cursor: str | None = None
        read = 0
        while True:
            page = await store.list_events(
                EventQuery(
                    tenant=p.scope(tenant),
                    type=t.value,
                    since=start.timestamp(),
                    until=end.timestamp(),
                    before_id=cursor,
                    limit=1000,
                )
            )
            out.extend(page.items)
            read += len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
            if read >= MAX_EVENTS:
                truncated = True
                break
    return out, truncated


def _edges(start: datetime, end: datetime, bucket: str) -> list[datetime]:
    edges = [start]
    if bucket == "day":
        day = start.date()
        while True:
            day += timedelta(days=1)
            nxt = datetime.combine(day, time(0), start.tzinfo)
            if nxt >= end or len(edges) > MAX_BUCKETS:
                break
            edges.append(nxt)
    else:
        nxt = start.replace(minute=0, second=0, microsecond=0)
        while True:
            nxt = datetime.fromtimestamp(nxt.timestamp() + 3600, start.tzinfo)
            if nxt >= end or len(edges) > MAX_BUCKETS:
                break
            edges.append(nxt)
    if len(edges) > MAX_BUCKETS:
        raise invalid("query", "bucket", f"more than {MAX_BUCKETS} buckets: narrow the range")
    return [*edges, end]


def _out(s: stats.QueueStats) -> QueueStatsOut:
    return QueueStatsOut.model_validate(s, from_attributes=True)


async def compute_queue_stats(
    request: Request,
    p: Principal,
    since: datetime | None,
    until: datetime | None,
    service_level: int | None,
    tenant: str | None,
    bucket: str | None,
) -> QueueStatsPage:
    hub = hub_of(request)
    start, end = stats_range(request, since, until)
    events, truncated = await events_in_range(
        hub.store, p, tenant, (EventType.QUEUE_JOINED, EventType.QUEUE_BRIDGED, EventType.QUEUE_LEFT), start, end
    )
    levels = {q.name: q.service_level for q in hub.directory.queues}
    names = [n for n in visible_queues(hub.directory, agents_seen(hub, p), p) if n in levels]
    result = stats.queue_stats(events, levels, override=service_level, queues=names)
    page = QueueStatsPage(since=start, until=end, truncated=truncated, queues=[_out(s) for s in result])
    if bucket is not None:
        edges = _edges(start, end, bucket)
        split = stats.queue_stats_buckets(events, edges, levels, override=service_level, queues=names)
        page.buckets = [
            BucketOut(start=edges[i], end=edges[i + 1], queues=[_out(s) for s in qs]) for i, qs in enumerate(split)
        ]
    return page


ServiceLevel = Annotated[int | None, Query(ge=1, le=3600, description="seconds; overrides every queue's")]


@router.get("/queues/stats", response_model=QueueStatsPage)
async def queue_stats(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    service_level: ServiceLevel = None,
    tenant: Tenant = None,
    bucket: Bucket = None,
) -> QueueStatsPage:
    """Per queue: offered, answered, abandoned, service level, ASA, AHT, abandon rate (and per bucket)."""
    return await compute_queue_stats(request, p, since, until, service_level, tenant, bucket)


CSV_COLUMNS = (
    "start",
    "end",
    "queue",
    "offered",
    "answered",
    "abandoned",
    "answered_within",
    "service_level_seconds",
    "service_level",
    "asa",
    "aht",
    "abandon_rate",
)


@router.get(
    "/queues/stats/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
)
async def queue_stats_csv(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    service_level: ServiceLevel = None,
    tenant: Tenant = None,
    bucket: Bucket = None,
) -> Response:
    """The same figures as ``/queues/stats`` as CSV: one row per (bucket, queue), or per queue."""
    page = await compute_queue_stats(request, p, since, until, service_level, tenant, bucket)
    rows = (
        [(b.start, b.end, q) for b in page.buckets for q in b.queues]
        if page.buckets is not None
        else [(page.since, page.until, q) for q in page.queues]
    )
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(CSV_COLUMNS)
    for start, end, q in rows:
        d = q.model_dump()
        out.writerow([start.isoformat(), end.isoformat(), *("" if d[c] is None else d[c] for c in CSV_COLUMNS[2:])])
    name = f"queue-stats-{page.since:%Y%m%d%H%M}-{page.until:%Y%m%d%H%M}.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/agents/stats", response_model=AgentStatsPage)
async def agent_stats(
    request: Request, p: Auth, since: Since = None, until: Until = None, tenant: Tenant = None
) -> AgentStatsPage:
    """Per extension: calls its phone answered, and calls it rang in that nobody answered."""
    hub = hub_of(request)
    start, end = stats_range(request, since, until)
    events, truncated = await events_in_range(
        hub.store,
        p,
        tenant,
        (
            EventType.CALL_RINGING,
            EventType.CALL_ANSWERED,
            EventType.CALL_PICKUP,
            EventType.CALL_ENDED,
            *QUEUE_TYPES,
        ),
        start,
        end,
    )
    per_queue: dict[str, list[AgentQueueOut]] = {}
    for aq in stats.agent_queue_stats(events):
        per_queue.setdefault(aq.extension, []).append(
            AgentQueueOut(queue=aq.queue, answered=aq.answered, missed=aq.missed)
        )
    days = {a.extension: a for a in stats.agent_stats(events)}
    out = []
    for number in sorted(set(days) | set(per_queue)):
        a = days.get(number) or stats.AgentDay(number, 0, 0)
        ext = hub.directory.extension(a.extension)
        owner = (ext.tenant if ext else "") or hub.directory.tenant
        if p.sees(owner):
            out.append(
                AgentDayOut(
                    extension=a.extension,
                    name=ext.name if ext else "",
                    tenant=owner,
                    answered=a.answered,
                    missed=a.missed,
                    queues=per_queue.get(number, []),
                )
            )
    return AgentStatsPage(since=start, until=end, truncated=truncated, agents=out)


# ---------------------------------------------------------------- agent time (issue 15)
AGENT_TIME_TYPES = (
    EventType.AGENT_LOGIN,
    EventType.AGENT_LOGOUT,
    EventType.AGENT_PAUSED,
    EventType.AGENT_UNPAUSED,
    EventType.QUEUE_BRIDGED,
    EventType.QUEUE_LEFT,
)


class AgentTimeOut(BaseModel):
    day: str  # YYYY-MM-DD in the installation's time zone
    extension: str
    name: str
    tenant: str
    queue: str
    login: float  # seconds logged in to the queue
    paused: float  # seconds paused, all reasons
    paused_by_reason: dict[str, float]
    talk: float  # seconds on calls taken from the queue
    idle: float  # login - paused - talk


class AgentTimePage(BaseModel):
    since: datetime
    until: datetime
    truncated: bool
    rows: list[AgentTimeOut]


async def compute_agent_time(
    request: Request, p: Principal, since: datetime | None, until: datetime | None, tenant: str | None
) -> AgentTimePage:
    hub = hub_of(request)
    start, end = stats_range(request, since, until)
    events, truncated = await events_in_range(hub.store, p, tenant, AGENT_TIME_TYPES, start, end)
    out = []
    for r in agent_time(events, start, end, hub.tz):
        ext = hub.directory.extension(r.extension)
        owner = (ext.tenant if ext else "") or hub.directory.tenant
        if not p.sees(owner):
            continue
        out.append(
            AgentTimeOut(
                day=r.day.isoformat(),
                extension=r.extension,
                name=ext.name if ext else "",
                tenant=owner,
                queue=r.queue,
                login=round(r.login, 3),
                paused=round(r.paused_total, 3),
                paused_by_reason={k: round(v, 3) for k, v in sorted(r.paused.items())},
                talk=round(r.talk, 3),
                idle=round(r.idle, 3),
            )
        )
    return AgentTimePage(since=start, until=end, truncated=truncated, rows=out)


@router.get("/agents/time", response_model=AgentTimePage)
async def agent_time_report(
    request: Request, p: Auth, since: Since = None, until: Until = None, tenant: Tenant = None
) -> AgentTimePage:
    """Per day, extension and queue: login, paused (by reason), talk and idle seconds."""
    return await compute_agent_time(request, p, since, until, tenant)


AGENT_TIME_CSV = ("day", "extension", "name", "tenant", "queue", "login", "paused", "talk", "idle", "paused_by_reason")


@router.get(
    "/agents/time/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV"}},
)
async def agent_time_csv(
    request: Request, p: Auth, since: Since = None, until: Until = None, tenant: Tenant = None
) -> Response:
    """The same rows as ``/agents/time`` as CSV; ``paused_by_reason`` as ``reason=seconds;...``."""
    page = await compute_agent_time(request, p, since, until, tenant)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(AGENT_TIME_CSV)
    for r in page.rows:
        reasons = ";".join(f"{k}={v:g}" for k, v in r.paused_by_reason.items())
        out.writerow([r.day, r.extension, r.name, r.tenant, r.queue, r.login, r.paused, r.talk, r.idle, reasons])
    name = f"agent-time-{page.since:%Y%m%d%H%M}-{page.until:%Y%m%d%H%M}.csv"
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

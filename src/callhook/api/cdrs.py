"""``/api/v1/cdrs``: call detail records (the stored ``call.record`` events), as JSON pages
or one CSV file.

Filters: time range (of the record, i.e. the end of the call), ``number`` (the caller
or the called number), ``extension`` (answered by, or the calling extension),
``disposition`` (ANSWERED, NO ANSWER, BUSY, FAILED).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS, Before, Limit, PageOut, Since, Until, epoch, scan_events
from callhook.api.services import hub_of
from callhook.core.events import Event, EventType
from callhook.store.base import EventQuery

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/cdrs", tags=["cdrs"], responses=ERRORS)

Text = Annotated[str | None, Query(max_length=64)]
CSV_MAX_ROWS = 100_000
COLUMNS = (
    "call_id",
    "tenant",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "source",
    "destination",
    "answered_by",
    "direction",
    "caller_type",
    "record_name",
    "event_id",
)


class CdrOut(BaseModel):
    call_id: str
    tenant: str
    start: datetime
    answer: datetime | None
    end: datetime
    duration: int
    billsec: int
    disposition: str
    source: str
    destination: str
    answered_by: str
    direction: str | None
    caller_type: str
    record_name: str
    event_id: str


def cdr_out(ev: Event) -> CdrOut:
    r, p = ev.record, ev.party
    assert r is not None  # only events with a record are kept
    return CdrOut(
        call_id=ev.call_id,
        tenant=ev.tenant,
        start=r.start,
        answer=r.answer,
        end=r.end,
        duration=r.duration,
        billsec=r.billsec,
        disposition=r.disposition,
        source=r.source or p.caller_num,
        destination=r.destination or p.called_num,
        answered_by=r.answered_by,
        direction=p.direction.value if p.direction else None,
        caller_type=p.caller_type,
        record_name=p.record_name,
        event_id=ev.id,
    )


def _filter(number: str | None, extension: str | None, disposition: str | None) -> Callable[[Event], bool]:
    def keep(ev: Event) -> bool:
        r, p = ev.record, ev.party
        if r is None:
            return False
        if number is not None and number not in (r.source, r.destination, p.caller_num, p.called_num):
            return False
        if extension is not None:
            last = ev.outcome.last_dialed_exten if ev.outcome else ""
            if extension not in (r.answered_by, r.source, last) and not (
                p.caller_type == "internal" and p.caller_num == extension
            ):
                return False
        return disposition is None or r.disposition.upper() == disposition.upper()

    return keep


@router.get("", response_model=PageOut[CdrOut])
async def list_cdrs(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    number: Text = None,
    extension: Text = None,
    disposition: Text = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
    before: Before = None,
    limit: Limit = 100,
) -> PageOut[CdrOut]:
    """Call records, newest first."""
    q = EventQuery(
        tenant=p.scope(tenant),
        type=EventType.CALL_RECORD.value,
        since=epoch(request, since),
        until=epoch(request, until, "until"),
        before_id=before,
        limit=limit,
    )
    page = await scan_events(hub_of(request).store, q, _filter(number, extension, disposition))
    return PageOut(items=[cdr_out(e) for e in page.items], next_cursor=page.next_cursor)


@router.get(
    "/csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}}
)
async def export_cdrs(
    request: Request,
    p: Auth,
    since: Since = None,
    until: Until = None,
    number: Text = None,
    extension: Text = None,
    disposition: Text = None,
    tenant: Annotated[str | None, Query(max_length=256)] = None,
) -> StreamingResponse:
    """The same records as one CSV file (header row first, newest first, at most 100,000 rows)."""
    store = hub_of(request).store
    keep = _filter(number, extension, disposition)
    base = EventQuery(
        tenant=p.scope(tenant),
        type=EventType.CALL_RECORD.value,
        since=epoch(request, since),
        until=epoch(request, until, "until"),
        limit=1000,
    )

    async def rows() -> AsyncIterator[str]:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(COLUMNS)
        cursor: str | None = None
        sent = 0
        while sent < CSV_MAX_ROWS:
            page = await scan_events(store, replace(base, before_id=cursor), keep)
            for ev in page.items[: CSV_MAX_ROWS - sent]:
                c = cdr_out(ev)
                w.writerow([_cell(getattr(c, col)) for col in COLUMNS])
                sent += 1
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
            if page.next_cursor is None:
                break
            cursor = page.next_cursor

    return StreamingResponse(
        rows(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": 'attachment; filename="cdrs.csv"'}
    )


def _cell(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat()
    text = str(v)
    # a cell a spreadsheet would run as a formula is quoted with a leading apostrophe
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not text.lstrip("+-").isdigit() else text

"""What the list routes share: keyset pages, time ranges, the error body, events as JSON.

Pages are newest first; ``next_cursor`` is passed back as ``before`` for the next
page and is null on the last one. ``limit`` is 1..1000 (else 422). Times in a query
are ISO 8601 (an offset is recommended; without one the hub's time zone is assumed)
or Unix seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import HTTPException, Query, Request
from pydantic import BaseModel

from callhook.api.services import hub_of
from callhook.core.events import Event
from callhook.core.serialize import event_to_dict
from callhook.store.base import EventQuery, Page

__all__ = [
    "ERRORS",
    "Before",
    "ErrorOut",
    "Limit",
    "PageOut",
    "Since",
    "Until",
    "epoch",
    "event_json",
    "invalid",
    "scan_events",
]

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=1000, description="page size, 1..1000")]
Before = Annotated[str | None, Query(max_length=64, description="the next_cursor of the previous page")]
Since = Annotated[datetime | None, Query(description="from this time (inclusive)")]
Until = Annotated[datetime | None, Query(description="up to this time (exclusive)")]

#: how many stored events one filtered list request may read before it answers
SCAN_BUDGET = 20_000


class ErrorOut(BaseModel):
    detail: Any


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "missing or invalid token"},
    403: {"model": ErrorOut, "description": "not allowed for this token"},
    404: {"model": ErrorOut, "description": "not found (or another tenant's)"},
    413: {"model": ErrorOut, "description": "request body too large"},
}


def invalid(loc: str, name: str, msg: str) -> HTTPException:
    """A 422 in FastAPI's own validation format."""
    return HTTPException(status_code=422, detail=[{"loc": [loc, name], "msg": msg, "type": "value_error"}])


def epoch(request: Request, dt: datetime | None, name: str = "since") -> float | None:
    """A query time as Unix seconds; a naive time is in the hub's time zone."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=hub_of(request).tz)
    try:
        ts = dt.timestamp()
        datetime.fromtimestamp(ts, hub_of(request).tz)
    except (OverflowError, ValueError, OSError):
        raise invalid("query", name, "time out of range") from None
    return ts


def event_json(ev: Event) -> dict[str, Any]:
    """An event in callhook's native JSON (the ``callhook`` dialect's and the store's form)."""
    return event_to_dict(ev)


async def scan_events(store: Any, q: EventQuery, keep: Callable[[Event], bool]) -> Page[Event]:
    """A page of ``q.limit`` stored events that ``keep`` accepts, reading at most SCAN_BUDGET.

    The cursor is the id of the last event returned, or of the last one read when the
    budget ran out first (the next page goes on from there), so no event is skipped.
    """
    out: list[Event] = []
    cursor = q.before_id
    read = 0
    chunk = max(q.limit, 200)
    while read < SCAN_BUDGET:
        page: Page[Event] = await store.list_events(replace(q, before_id=cursor, limit=chunk))
        for ev in page.items:
            read += 1
            cursor = ev.id
            if keep(ev):
                out.append(ev)
                if len(out) == q.limit:
                    more = page.next_cursor is not None or ev is not page.items[-1]
                    return Page(out, ev.id if more else None)
        if page.next_cursor is None:
            return Page(out, None)
    return Page(out, cursor)

"""``GET /api/v1/stream``: the live events as Server-Sent Events.

One message per accepted event: ``id:`` the event id, ``event:`` its canonical type,
``data:`` its native JSON on one line. A comment line (``: heartbeat``) every
``app.state.heartbeat`` seconds (15) keeps proxies from closing an idle stream; a
listener that falls behind loses its oldest events and is told so with a
``: dropped N`` comment. A tenant token gets its tenant's events only; ``types``
narrows to some canonical types. The stream starts with the events accepted after
the connection (no history; read that from ``/api/v1/calls``). ``pbx`` narrows to one
PBX's events (ingested events have none).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from callhook.api.auth import Auth
from callhook.api.paging import ERRORS, event_json, invalid
from callhook.api.services import PbxFilter, hub_of
from callhook.core.events import Event, EventType

__all__ = ["HEARTBEAT", "router"]

HEARTBEAT = 15.0

router = APIRouter(tags=["stream"], responses=ERRORS)


def sse(ev: Event) -> str:
    data = json.dumps(event_json(ev), ensure_ascii=False, separators=(",", ":"))
    return f"id: {ev.id}\nevent: {ev.type.value}\ndata: {data}\n\n"


@router.get(
    "/api/v1/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "an endless stream of events",
        }
    },
)
async def stream(
    request: Request,
    p: Auth,
    types: Annotated[list[str] | None, Query(max_length=32, description="canonical types")] = None,
    pbx: PbxFilter = None,
) -> StreamingResponse:
    """Live events (text/event-stream) until the client disconnects."""
    wanted: frozenset[str] = frozenset()
    if types:
        try:
            wanted = frozenset(EventType(t).value for t in types)
        except ValueError:
            raise invalid("query", "types", f"unknown event type among {types[:5]!r}") from None
    hub = hub_of(request)
    heartbeat = float(getattr(request.app.state, "heartbeat", HEARTBEAT))

    async def events() -> AsyncIterator[str]:
        listener = hub.broadcast.listen()
        try:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    async with asyncio.timeout(heartbeat):
                        ev = await listener.queue.get()
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if listener.dropped:
                    yield f": dropped {listener.dropped}\n\n"
                    listener.dropped = 0
                if p.sees(ev.tenant) and (not wanted or ev.type.value in wanted) and (pbx is None or ev.pbx == pbx):
                    yield sse(ev)
        finally:
            hub.broadcast.leave(listener)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

"""Helpers for the delivery engine tests: a fake encoder, events, subscriptions, and a
real aiohttp receiver on 127.0.0.1 whose behaviour each test scripts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp import web

from callhook.core.dialects.base import Request
from callhook.core.events import Event, EventType, new_event_id
from callhook.core.subscription import Dialect, Subscription
from callhook.store import open_store
from callhook.store.base import Store


def with_store(url: str, body: Callable[[Store], Awaitable[None]]) -> None:
    """Run ``body`` with an opened store in a fresh event loop."""

    async def main() -> None:
        store = open_store(url)
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(main())


def fake_encode(event: Event, sub: Subscription) -> Request | None:
    """A stand-in for the dialect encoders: JSON with the event's id, call and seq."""
    body = orjson.dumps({"id": event.id, "type": event.type.value, "call": event.call_id, "seq": event.seq})
    return Request(sub.method, sub.url, (("Content-Type", "application/json"), ("webhook-id", event.id)), body)


_counter = iter(range(1, 1 << 62))


def make_event(call_id: str, seq: int, etype: EventType = EventType.CALL_ANSWERED, tenant: str = "acme") -> Event:
    """Distinct, ascending ids (ms from a counter) so tests never depend on the clock."""
    return Event(
        id=new_event_id(next(_counter)),
        type=etype,
        ts=datetime(2024, 5, 1, tzinfo=UTC),
        tenant=tenant,
        call_id=call_id,
        seq=seq,
    )


def make_sub(sub_id: str, url: str, **kw: Any) -> Subscription:
    return Subscription(id=sub_id, url=url, dialect=Dialect.CALLHOOK, **kw)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the connection without answering


@dataclass
class Hit:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int | None


class Receiver:
    """An aiohttp server; ``script[path](n, body) -> Reply`` decides each answer
    (n counts the requests to that path from 1). Unscripted paths answer 200."""

    def __init__(self) -> None:
        self.script: dict[str, Callable[[int, dict[str, Any]], Reply]] = {}
        self.hits: list[Hit] = []
        self._counts: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read() or b"{}")
        n = self._counts[request.path] = self._counts.get(request.path, 0) + 1
        reply = self.script.get(request.path, lambda n, b: Reply())(n, body)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        self.hits.append(
            Hit(request.path, body, dict(request.headers), time.monotonic(), None if reply.drop else reply.status)
        )
        self.changed.set()
        if reply.drop:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError
        return web.Response(status=reply.status, headers=reply.headers, body=b"ok")

    def delivered(self, path: str) -> list[dict[str, Any]]:
        return [h.body for h in self.hits if h.path == path and h.status is not None and 200 <= h.status < 300]

    async def wait_for(self, predicate: Callable[[], bool], within: float = 10.0) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the receiver did not see what was expected in time")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(left, 0.1))

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

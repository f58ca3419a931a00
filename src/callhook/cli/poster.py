"""The poster: canonical events to a running callhook's ``/ingest/callhook``, in order, one at a time.

Used by ``callhook simulate --target``. :meth:`Poster.check` asks ``/healthz`` first,
so an unreachable hub is one clear message. The first ingest answer decides the rest:
401 is a refused token, 404 or 405 a hub without the native ingest route, 422/400
an event it cannot read; all of these stop the run (:class:`PostError`), since every
following event would fail the same way. A 503 (the hub's store is busy) or a
network error is tried again a few times, after a short pause.
"""

from __future__ import annotations

import asyncio
import json
from types import TracebackType
from typing import Any

from callhook.core.events import Event
from callhook.core.serialize import event_to_dict

__all__ = ["PostError", "Poster"]

TRIES = 5
PAUSE = 0.5


class PostError(RuntimeError):
    """The hub cannot take the events (the message says why and what to do)."""


class Poster:
    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        self.base = url.rstrip("/")
        self.ingest_url = f"{self.base}/ingest/callhook"
        self.token = token
        self.timeout = timeout
        self.posted = 0
        self._session: Any = None

    async def __aenter__(self) -> Poster:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self._session = aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def check(self) -> None:
        import aiohttp

        try:
            async with self._session.get(f"{self.base}/healthz") as r:
                if r.status not in (200, 503):
                    raise PostError(f"{self.base} does not look like callhook (/healthz answered {r.status})")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise PostError(f"cannot reach {self.base}: {exc or type(exc).__name__}") from None
        if not self.token:
            raise PostError("no token: give --token or set CALLHOOK_TOKEN (the admin token or a tenant's)")

    async def post(self, event: Event) -> None:
        import aiohttp

        body = json.dumps(event_to_dict(event), ensure_ascii=False).encode()
        last = ""
        for _ in range(TRIES):
            try:
                async with self._session.post(
                    self.ingest_url, data=body, headers={"Content-Type": "application/json"}
                ) as r:
                    text = await r.text()
                    if r.status == 200:
                        self.posted += 1
                        return
                    if r.status == 401:
                        raise PostError("the hub refused the token (--token / CALLHOOK_TOKEN)")
                    if r.status in (404, 405):
                        raise PostError(
                            f"{self.base} has no POST /ingest/callhook (an older callhook?); "
                            "use --ami-listen and point its AMI client here instead"
                        )
                    if r.status != 503:
                        raise PostError(f"the hub rejected event {event.type.value}: {r.status} {text[:300]}")
                    last = "503 (store busy)"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                last = str(exc) or type(exc).__name__
            await asyncio.sleep(PAUSE)
        raise PostError(f"gave up on {self.ingest_url} after {TRIES} tries: {last}")

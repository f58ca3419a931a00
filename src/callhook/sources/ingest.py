"""The ingest source: decoded vendor events through the ingest call model, then accepted.

:class:`IngestSource` is the thin adapter around the pure
:class:`~callhook.core.ingest_calls.IngestCalls`: it passes the clock and the current
directory in, accepts (makes durable, delivers) what the model completes, and runs
the timer that ends calls whose end the vendor does not say (the model's
``end_wait``, ``idle_end``). One lock orders the model and the accepting, so the
events of a call are stored, and delivered, in ``seq`` order even when a vendor
posts them concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from callhook.core.directory import Directory
from callhook.core.events import Event
from callhook.core.ingest_calls import IngestCalls

__all__ = ["IngestSource"]

log = logging.getLogger(__name__)

#: the timer looks at the clock at least this often (seconds), so a clock that is
#: set (tests, a suspended VM) is noticed soon; an ingest does not wake it (an end
#: is due ``end_wait`` later at the earliest, and waking per post would cost a scan)
TICK = 1.0


class IngestSource:
    def __init__(
        self,
        model: IngestCalls,
        accept: Callable[[Sequence[Event]], Awaitable[None]],
        now: Callable[[], datetime],
        directory: Callable[[], Directory],
    ) -> None:
        self.model = model
        self._accept = accept
        self._now = now
        self._directory = directory
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._pending: list[Event] = []  # inferred ends the store refused: tried again first

    async def ingest(self, event: Event) -> list[Event]:
        """Complete ``event`` through the model and accept the result; the accepted events.

        A store failure propagates (the caller answers 503); the model has then counted
        the events, and a repeated post continues the call's ``seq``.
        """
        self._ensure_timer()
        async with self._lock:
            events = self.model.feed(event, self._now(), self._directory())
            await self._accept(events)
        return events

    def _ensure_timer(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._timer(), name="ingest-ends")

    async def _timer(self) -> None:
        while True:
            due = self.model.due()
            wait = TICK if due is None else min(TICK, max(0.0, (due - self._now()).total_seconds()))
            await asyncio.sleep(wait)  # a timer's own period, not a wait for something to poll
            try:
                await self.expire()
            except Exception as exc:  # a store failure: the ends are tried again on the next tick
                log.error("ingest: could not store the inferred end of calls: %s", exc)

    async def expire(self) -> list[Event]:
        """End the calls whose wait is over (the timer calls this; so may a test)."""
        async with self._lock:
            events = self._pending + self.model.expire(self._now())
            self._pending = []
            if events:
                try:
                    await self._accept(events)
                except Exception:
                    self._pending = events
                    raise
        return events

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

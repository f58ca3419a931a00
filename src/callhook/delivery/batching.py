"""Group commit: concurrent callers' items written together, each caller released
only when the write holding its items has finished.

While one write is running, new items queue up; the next write takes all of them
(up to ``max_batch`` items, never splitting one caller's items). So a burst costs one
transaction (one fsync) per write, not one per caller, and a lone caller waits no
longer than one write.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[object]], *, max_batch: int = 5000) -> None:
        self._write = write
        self._max = max_batch
        self._queue: deque[tuple[Sequence[T], asyncio.Future[None]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> None:
        """Returns once ``items`` are written; raises what the write raised."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_consume)
        self._queue.append((items, fut))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        await asyncio.shield(fut)

    def _take(self) -> tuple[list[T], list[asyncio.Future[None]]]:
        items: list[T] = []
        futs: list[asyncio.Future[None]] = []
        while self._queue and (not items or len(items) + len(self._queue[0][0]) <= self._max):
            its, fut = self._queue.popleft()
            items.extend(its)
            futs.append(fut)
        return items, futs

    async def _run(self) -> None:
        while self._queue:
            items, futs = self._take()
            try:
                await self._write(items)
            except Exception as exc:
                for f in futs:
                    if not f.done():
                        f.set_exception(exc)
            else:
                for f in futs:
                    if not f.done():
                        f.set_result(None)

    async def drain(self) -> None:
        """Wait until everything submitted so far is written."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


def _consume(fut: asyncio.Future[None]) -> None:
    """Mark an error as seen even when its caller was cancelled meanwhile."""
    if not fut.cancelled():
        fut.exception()

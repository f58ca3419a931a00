"""An in-process broadcast of accepted events, for the live stream (SSE) and the dashboard.

Each listener has a bounded queue; a listener that falls behind loses its oldest
events and is told so (``dropped``), it never slows the pipeline down.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from callhook.core.events import Event

__all__ = ["Broadcast", "Listener"]


class Listener:
    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(size)
        self.dropped = 0

    def offer(self, ev: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(ev)


class Broadcast:
    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._listeners: set[Listener] = set()

    def publish(self, events: Sequence[Event]) -> None:
        for listener in self._listeners:
            for ev in events:
                listener.offer(ev)

    def listen(self) -> Listener:
        listener = Listener(self._size)
        self._listeners.add(listener)
        return listener

    def leave(self, listener: Listener) -> None:
        self._listeners.discard(listener)

    @property
    def listeners(self) -> int:
        return len(self._listeners)

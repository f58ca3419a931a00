"""Arrival order per subscription: whose turn it is to be sent.

Theory of operation
-------------------
Per call, order always holds (a group's next delivery exists only once the previous
one's outcome is committed). Across calls, a receiver written for a vendor PBX also
expects the order in which things happened: agent 163's hang-up on the first call
before the second call rings on 163, the wrap-up after the call it follows. A PBX
that posts its own webhooks sends them one after the other; so does a subscription
with ``ordering = "arrival"`` (the default):

=================================  =============================================
a delivery of the subscription ...  it is sent ...
=================================  =============================================
is the lowest id this process      now (it takes the turn)
holds for it, and none is sending
has a lower-id one before it       after that one (in id = acceptance order)
failed and waits for its retry     -- it is no longer held here: the others go on
                                   (only its own call waits for it)
waited ``hold`` seconds            anyway (a stuck send never stops the others)
=================================  =============================================

When a delivery's outcome is recorded, its call's next delivery (leased back by the
same commit) is registered *before* the turn is given away, so a call's successors
keep their place among the waiting ones. ``ordering = "call"`` skips all this: calls
are sent in parallel (for receivers that order by the events' ``seq``). The turn is
per process: on PostgreSQL with several dispatchers, arrival order is best effort
across processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq

__all__ = ["Turns"]


class _Line:
    __slots__ = ("sending", "waiting")

    def __init__(self) -> None:
        self.sending: int | None = None
        self.waiting: list[tuple[int, asyncio.Future[None]]] = []


class Turns:
    def __init__(self, hold: float = 30.0) -> None:
        self.hold = hold
        self._lines: dict[str, _Line] = {}
        self._open = False

    def open_all(self) -> None:
        """Stop keeping turns (the dispatcher stops): every waiter goes on at once."""
        self._open = True
        for line in self._lines.values():
            for _, fut in line.waiting:
                if not fut.done():
                    fut.set_result(None)
        self._lines.clear()

    async def take(self, key: str, delivery_id: int) -> None:
        """Wait until it is ``delivery_id``'s turn in ``key``'s line (at most ``hold``)."""
        if self._open:
            return
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = _Line()
        if line.sending is None and (not line.waiting or line.waiting[0][0] > delivery_id):
            line.sending = delivery_id
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(line.waiting, (delivery_id, fut))
        try:
            await asyncio.wait_for(asyncio.shield(fut), self.hold)
        except TimeoutError:  # goes anyway; the line keeps its order for the others
            with contextlib.suppress(ValueError):
                line.waiting.remove((delivery_id, fut))
                heapq.heapify(line.waiting)
        except asyncio.CancelledError:
            if fut.done() and line.sending == delivery_id:
                self.give(key, delivery_id)  # it was handed the turn as it was cancelled
            else:
                with contextlib.suppress(ValueError):
                    line.waiting.remove((delivery_id, fut))
                    heapq.heapify(line.waiting)
            raise

    def give(self, key: str, delivery_id: int, successor: int | None = None) -> None:
        """``delivery_id`` is done with its turn; ``successor`` (its call's next, already
        leased) keeps the turn if no waiting delivery is older."""
        if self._open:
            return
        line = self._lines.get(key)
        if line is None:
            return
        if line.sending == delivery_id:
            line.sending = None
        if successor is not None and line.sending is None and (not line.waiting or line.waiting[0][0] > successor):
            line.sending = successor  # the caller sends it next without waiting
            return
        self._wake(key, line)

    def holds(self, key: str, delivery_id: int) -> bool:
        line = self._lines.get(key)
        return line is not None and line.sending == delivery_id

    def _wake(self, key: str, line: _Line) -> None:
        while line.sending is None and line.waiting:
            delivery_id, fut = heapq.heappop(line.waiting)
            if fut.done():  # timed out or cancelled meanwhile
                continue
            line.sending = delivery_id
            fut.set_result(None)
        if line.sending is None and not line.waiting:
            del self._lines[key]

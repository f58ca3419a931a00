"""The scheduler: scripted calls as generators over simulated time.

A script is a generator that drives a :class:`~.pbx.Pbx` and yields how many
seconds to wait before its next step. The engine runs every script due at the
earliest time, so concurrent calls interleave as on a real PBX and ids are
allocated in time order. No clock: time only moves when the engine is stepped.
"""

from __future__ import annotations

import heapq
from collections.abc import Generator, Iterator

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.pbx import Pbx

__all__ = ["Engine", "Script"]

Script = Generator[float, None, None]


class Engine:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self._heap: list[tuple[float, int, str, Script]] = []
        self._seq = 0
        self._dead: set[str] = set()

    def spawn(self, script: Script, delay: float = 0.0, key: str = "") -> None:
        """Start ``script`` ``delay`` seconds from now; ``key`` names its call (for :meth:`kill`)."""
        self._seq += 1
        heapq.heappush(self._heap, (self.pbx.now + max(0.0, delay), self._seq, key, script))

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    @property
    def busy(self) -> bool:
        return bool(self._heap)

    def step(self) -> list[tuple[float, AmiMessage]]:
        """Run every script due at the earliest pending time; the events they made."""
        if not self._heap:
            return []
        due = self._heap[0][0]
        self.pbx.now = max(self.pbx.now, due)
        while self._heap and self._heap[0][0] <= due:
            _, _, key, script = heapq.heappop(self._heap)
            if key and key in self._dead:
                script.close()
                continue
            try:
                wait = next(script)
            except StopIteration:
                continue
            self._seq += 1
            heapq.heappush(self._heap, (self.pbx.now + max(0.0, wait), self._seq, key, script))
        return self.pbx.take()

    def advance(self, until: float) -> list[tuple[float, AmiMessage]]:
        """Run everything due up to ``until``; simulated time becomes ``until``."""
        out: list[tuple[float, AmiMessage]] = []
        while self._heap and self._heap[0][0] <= until:
            out.extend(self.step())
        self.pbx.now = max(self.pbx.now, until)
        out.extend(self.pbx.take())
        return out

    def run(self, until: float | None = None) -> Iterator[tuple[float, AmiMessage]]:
        """Every event in time order until the scripts end (or simulated time ``until``)."""
        while self._heap and (until is None or self._heap[0][0] <= until):
            yield from self.step()
        yield from self.pbx.take()

    def kill(self, key: str, cause: int = 16) -> bool:
        """End a call from outside (AMI Hangup): its script stops, its bridges and channels go."""
        pbx = self.pbx
        uids = pbx.calls.get(key)
        if not uids:
            return False
        self._dead.add(key)
        chans = [pbx.channels[u] for u in sorted(uids, key=lambda u: int(u.rsplit(".", 1)[1])) if u in pbx.channels]
        for b in {c.bridge for c in chans if c.bridge}:
            bridge = pbx.bridges.get(b)
            if bridge is not None:
                pbx.unbridge(bridge, [c for c in chans if c.bridge == b])
        for queue, waiting in pbx.waiting.items():
            for c in chans:
                if c.uid in waiting:
                    waiting.remove(c.uid)
                    pbx.queue_leave(c, queue)
        for c in reversed(chans):
            pbx.hangup(c, cause if c.state == "Up" or c.uid == c.linkedid else 0)
        return True

"""How long a long-running command lives: until SIGINT or SIGTERM, or for ``--duration`` seconds.

:class:`Lifetime` turns both signals into one :class:`asyncio.Event` (``stopping``), so a
command ends its work in order, prints its summary and exits 0, instead of dying
with a traceback halfway through a shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from types import TracebackType

__all__ = ["Lifetime"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Lifetime:
    def __init__(self, duration: float | None = None) -> None:
        if duration is not None and duration <= 0:
            raise ValueError("--duration must be positive")
        self.duration = duration
        self.stopping = asyncio.Event()
        self.signalled = ""
        self._timer: asyncio.TimerHandle | None = None

    def stop(self, why: str = "") -> None:
        if not self.stopping.is_set():
            self.signalled = why
            self.stopping.set()

    async def __aenter__(self) -> Lifetime:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.stop, sig.name)
        if self.duration is not None:
            self._timer = loop.call_later(self.duration, self.stop, "duration")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)
        if self._timer is not None:
            self._timer.cancel()

    async def wait(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 (a tick, not a deadline)
        """Wait until stopping (True) or ``timeout`` seconds have passed (False)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout)
        return self.stopping.is_set()

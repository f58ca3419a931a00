"""Accepting events: routed, encoded, and made durable with their deliveries.

Theory of operation. Every source hands its events to one commit loop, in order:

* ``enqueue(events)`` (the AMI reader) returns at once: the reader never waits for the
  disk. ``await room()`` makes it wait only while more than ``max_pending`` events are
  unwritten (back-pressure: the reader stops reading, the kernel and Asterisk buffer).
* ``await accept(events)`` (ingest) returns once its events are committed, so the HTTP
  answer acknowledges only what is durable.

The loop takes what is queued -- up to ``max_batch`` events, never splitting one
caller's events -- routes and encodes it against the current subscriptions and
writes it in one transaction (one fsync). While a commit runs, new events queue up
and go into the next one: a lone event waits for one commit, a burst pays one commit
per batch. Measured choice (docs/benchmarks.md): no artificial linger; the batch is
bounded by ``max_batch`` and its age by the commit in progress.

A commit that fails:

* with an error of the data (a value JSON or the database cannot hold: see
  :func:`is_poison`) is split in halves, recursively, in order, until the culprit is
  alone; a culprit is tried once more with its values bounded
  (:func:`callhook.core.bounds.bound_event`), and if that fails too it is given up:
  counted, logged with the reason, and its ``accept`` caller gets :class:`Rejected`.
  Every other event of the batch is stored.
* with an error of the store (disk full, database down): queued AMI events stay at
  the head of the queue and are retried with capped exponential backoff, in order
  (capture never drops them); ``accept`` callers get the StoreError (ingest: 503).

``stalled_since``, ``unstored`` and ``last_unstored`` feed ``/healthz`` and ``/metrics``.
``on_committed`` callbacks see every committed batch (events with their deliveries),
in commit order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from callhook.core.bounds import bound_event
from callhook.core.dialects.base import Request
from callhook.core.events import Event
from callhook.core.retry import RetryPolicy
from callhook.core.routing import matches, order_key
from callhook.core.subscription import Subscription
from callhook.store.base import NewDelivery, NewEvent, Status, Store, StoreError

__all__ = ["Accepter", "Committed", "Encoder", "Rejected", "is_poison"]

log = logging.getLogger(__name__)

Encoder = Callable[[Event, Subscription], Request | None]
Committed = Callable[[Sequence[NewEvent]], None]

_POISON_NAMES = frozenset({"DataError", "IntegrityError", "InterfaceError"})


class Rejected(ValueError):
    """The event could not be stored, alone, even with its values bounded."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"event {event_id} could not be stored: {reason}")
        self.event_id = event_id
        self.reason = reason


def is_poison(exc: BaseException) -> bool:
    """Does ``exc`` come from the data rather than from the store being unavailable?

    Encoding errors (orjson's are TypeErrors, a str with a lone surrogate a
    UnicodeError, an int too large for SQLite an OverflowError) and the drivers' data
    errors (sqlite3/psycopg ``DataError``, ``IntegrityError``, ``InterfaceError``).
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, TypeError | ValueError | OverflowError | UnicodeError) and not isinstance(seen, StoreError):
            return True
        if any(c.__name__ in _POISON_NAMES for c in type(seen).__mro__):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass(slots=True, eq=False)
class _Entry:
    events: Sequence[Event]
    future: asyncio.Future[int] | None  # None: enqueued (AMI), retried until written
    left: int = 0
    deliveries: int = 0
    error: BaseException | None = None
    queued_at: float = 0.0  # time.monotonic() when enqueued


class _Stalled(Exception):
    def __init__(self, at: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.at = at
        self.cause = cause


class Accepter:
    def __init__(
        self,
        store: Store,
        encode: Encoder,
        *,
        policy: RetryPolicy | None = None,
        now: Callable[[], float] = time.time,
        subscription_ttl: float = 1.0,
        max_batch: int = 2000,
        max_pending: int = 50_000,
        on_committed: Sequence[Committed] = (),
        retry_initial: float = 0.05,
        retry_cap: float = 5.0,
    ) -> None:
        self._store = store
        self._encode = encode
        self._policy = policy or RetryPolicy()
        self._clock = now
        self._ttl = subscription_ttl
        self._subs: list[Subscription] = []
        self._subs_at: float | None = None
        self.max_batch = max_batch
        self.max_pending = max_pending
        self._on_committed: list[Committed] = list(on_committed)
        self._retry = (retry_initial, retry_cap)
        self._queue: deque[_Entry] = deque()
        self._task: asyncio.Task[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        # observable state (metrics, health)
        self.pending = 0  # events enqueued and not yet written (or given up)
        self.commits = 0
        self.committed_events = 0
        self.commit_failures = 0
        self.unstored = 0
        self.repaired = 0
        self.last_unstored: tuple[float, str] | None = None  # (wall time, reason)
        self.stalled_since: float | None = None  # wall time of the first failure of a stall
        self.stall_reason = ""
        self.backpressure = 0  # times a producer had to wait for room
        self.backpressure_seconds = 0.0
        # the durability window: age of each commit's oldest event when its commit returned
        self.window_count = 0
        self.window_sum = 0.0
        self.window_max = 0.0  # since the last take_window_max()

    def on_committed(self, fn: Committed) -> None:
        """Call ``fn(items)`` after every commit, with the events and deliveries it wrote."""
        self._on_committed.append(fn)

    def invalidate(self) -> None:
        """Subscriptions changed: read them again before the next event."""
        self._subs_at = None

    async def _subscriptions(self) -> list[Subscription]:
        now = time.monotonic()
        if self._subs_at is None or now - self._subs_at >= self._ttl:
            self._subs = await self._store.list_subscriptions(with_secrets=True)
            self._subs_at = time.monotonic()
        return self._subs

    def _route(self, event: Event, subs: Sequence[Subscription], now: float) -> NewEvent:
        out = []
        key = order_key(event)
        expires_at = self._policy.expires_at(event.type.value, now)
        for sub in subs:
            if not matches(sub, event):
                continue
            try:
                req = self._encode(event, sub)
            except Exception as exc:
                log.exception(
                    "encoding event %s for subscription %s failed",
                    event.id,
                    sub.id,
                    extra={"event_id": event.id, "subscription_id": sub.id},
                )
                out.append(
                    NewDelivery(
                        sub.id,
                        sub.tenant,
                        key,
                        Request(sub.method, sub.url),
                        now,
                        expires_at,
                        Status.DEAD,
                        f"encoding failed: {type(exc).__name__}: {exc}",
                    )
                )
                continue
            if req is not None:
                out.append(NewDelivery(sub.id, sub.tenant, key, req, now, expires_at))
        return NewEvent(event, tuple(out))

    # ------------------------------------------------------------ producers
    def enqueue(self, events: Sequence[Event]) -> None:
        """Queue ``events`` for the next commit and return at once (they are written,
        in order, retried while the store fails; never dropped unless poison)."""
        if events:
            self._put(_Entry(events, None))

    async def room(self) -> None:
        """Wait while more than ``max_pending`` events are unwritten (back-pressure)."""
        if self._room.is_set():
            return
        self.backpressure += 1
        start = time.monotonic()
        log.warning("accept queue full (%d events unwritten): the AMI reader waits for the store", self.pending)
        try:
            await self._room.wait()
        finally:
            waited = time.monotonic() - start
            self.backpressure_seconds += waited
            log.info("accept queue has room again after %.3f s", waited)

    async def accept(self, events: Sequence[Event]) -> int:
        """Make ``events`` durable; returns the number of deliveries they produced.

        Raises :class:`StoreError` when the store failed (nothing acknowledged: send
        again) and :class:`Rejected` when an event cannot be stored at all.
        """
        if not events:
            return 0
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_consume)
        self._put(_Entry(events, fut))
        return await asyncio.shield(fut)

    def _put(self, entry: _Entry) -> None:
        entry.left = len(entry.events)
        entry.queued_at = time.monotonic()
        self._queue.append(entry)
        self.pending += entry.left
        if self.pending > self.max_pending:
            self._room.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="accept-commits")

    async def close(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 -- a bound on shutdown
        """Wait until everything queued so far is written (or given up), at most ``timeout``
        seconds: a store that keeps failing must not hang the shutdown."""
        try:
            async with asyncio.timeout(timeout):
                await self.drain()
        except TimeoutError:
            log.error("shutting down with %d event(s) not written: %s", self.pending, self.stall_reason or "timeout")
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)

    async def drain(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    # ------------------------------------------------------------ the commit loop
    def _take(self) -> list[_Entry]:
        out: list[_Entry] = []
        n = 0
        while self._queue and (not out or n + self._queue[0].left <= self.max_batch):
            entry = self._queue.popleft()
            out.append(entry)
            n += entry.left
        return out

    async def _run(self) -> None:
        delay = self._retry[0]
        while self._queue:
            entries = self._take()
            pairs = [(e, ev) for e in entries for ev in e.events[len(e.events) - e.left :]]
            try:
                await self._commit(pairs)
            except _Stalled as st:
                self._stall(pairs, st)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry[1])
                continue
            delay = self._retry[0]
            if self.stalled_since is not None:
                log.info("store accepts events again (stalled for %.1f s)", self._clock() - self.stalled_since)
                self.stalled_since, self.stall_reason = None, ""

    async def _commit(self, pairs: list[tuple[_Entry, Event]]) -> None:
        """Write ``pairs`` in order; split on poison. Raises _Stalled(at) on a store error."""
        ranges = [(0, len(pairs))]
        while ranges:
            lo, hi = ranges.pop()
            chunk = pairs[lo:hi]
            try:
                await self._write(chunk)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.commit_failures += 1
                if not is_poison(exc):
                    raise _Stalled(lo, exc) from exc
                if hi - lo > 1:
                    mid = (lo + hi) // 2
                    ranges += [(mid, hi), (lo, mid)]
                    continue
                await self._culprit(chunk[0], exc, lo)

    async def _write(self, chunk: Sequence[tuple[_Entry, Event]]) -> None:
        subs = await self._subscriptions()
        now = self._clock()
        items = [self._route(ev, subs, now) for _, ev in chunk]
        await self._store.append(items, now)
        self._written(chunk, items)

    def take_window_max(self) -> float:
        """The largest durability window seen since the last call (for a scrape)."""
        out, self.window_max = self.window_max, 0.0
        return out

    def _written(self, chunk: Sequence[tuple[_Entry, Event]], items: Sequence[NewEvent]) -> None:
        age = time.monotonic() - chunk[0][0].queued_at
        self.window_count += 1
        self.window_sum += age
        self.window_max = max(self.window_max, age)
        self.commits += 1
        self.committed_events += len(chunk)
        for (entry, _), item in zip(chunk, items, strict=True):
            entry.deliveries += len(item.deliveries)
            self._done(entry)
        for fn in self._on_committed:
            try:
                fn(items)
            except Exception:
                log.exception("an on_committed callback failed")

    async def _culprit(self, pair: tuple[_Entry, Event], exc: BaseException, at: int) -> None:
        entry, event = pair
        bounded, issues = bound_event(event, strict=False)
        if issues:
            try:
                await self._write([(entry, bounded)])
            except asyncio.CancelledError:
                raise
            except Exception as again:
                exc = again
            else:
                self.repaired += 1
                log.warning(
                    "event %s stored with %d value(s) bounded: %s",
                    event.id,
                    len(issues),
                    "; ".join(f"{i.field}: {i.detail}" for i in issues[:5]),
                    extra={"event_id": event.id, "call_id": event.call_id},
                )
                return
            if not is_poison(exc):
                raise _Stalled(at, exc) from exc
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}"
        self.unstored += 1
        self.last_unstored = (self._clock(), reason)
        log.error(
            "event %s (%s, call %s) cannot be stored and is given up: %s",
            event.id,
            event.type.value,
            event.call_id,
            reason,
            extra={"event_id": event.id, "call_id": event.call_id},
        )
        entry.error = entry.error or Rejected(event.id, reason)
        self._done(entry)

    def _done(self, entry: _Entry) -> None:
        entry.left -= 1
        self.pending -= 1
        if self.pending <= self.max_pending // 2:
            self._room.set()
        if entry.left == 0 and entry.future is not None and not entry.future.done():
            if entry.error is not None:
                entry.future.set_exception(entry.error)
            else:
                entry.future.set_result(entry.deliveries)

    def _stall(self, pairs: list[tuple[_Entry, Event]], st: _Stalled) -> None:
        """A store error at ``pairs[st.at]``: fail the waiting callers, requeue the rest."""
        if self.stalled_since is None:
            self.stalled_since = self._clock()
        self.stall_reason = f"{type(st.cause).__name__}: {' '.join(str(st.cause).split())[:200]}"
        err = st.cause if isinstance(st.cause, StoreError) else StoreError(self.stall_reason)
        back: list[_Entry] = []
        for entry, _ in pairs[st.at :]:
            if back and back[-1] is entry:
                continue
            if entry.future is None:
                back.append(entry)
                continue
            if not entry.future.done():
                entry.future.set_exception(err)
            self.pending -= entry.left
            entry.left = 0
        if self.pending <= self.max_pending // 2:
            self._room.set()
        self._queue.extendleft(reversed(back))
        log.error(
            "store failed; %d event(s) wait to be written: %s",
            sum(e.left for e in back),
            self.stall_reason,
        )


def _consume(fut: asyncio.Future[int]) -> None:
    """Mark an error as seen even when its caller was cancelled meanwhile."""
    if not fut.cancelled():
        fut.exception()

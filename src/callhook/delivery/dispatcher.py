"""The dispatcher: send due deliveries, record the outcomes, go on with each call.

Theory of operation
-------------------
Deliveries reach the dispatcher three ways, all as committed leases (the store is
the log, never a queue read back row by row in steady state):

1. **fed**: the dispatcher is attached to its store as a feed; each ``append``
   that creates a due group head leases it to the dispatcher in the same commit and
   hands it over with its event (as far as ``room()`` allows: ``max_inflight``);
2. **successors**: the task that sent a group's head hands its outcome to a group
   commit (``store.record``: a batch of outcomes in a constant number of
   statements); that commit promotes the group's next delivery and, if it is due,
   leases it back, and the same task sends it -- no claim in between, and the
   order holds because the successor exists only once its predecessor's final
   outcome is committed;
3. **claimed**: the loop claims due heads (retries coming due, rows left over
   when the dispatcher was full, leases that ran out, work of a previous run).

One task per group at a time; a subscription with ``ordering = "arrival"`` (the
default) also sends its groups' deliveries one at a time in acceptance order
(:mod:`callhook.delivery.turns`), ``"call"`` sends calls in parallel. A task
checks the subscription (deleted or disabled:
dead letter), encodes the event **now** with the subscription's current
configuration (URL, method, auth, headers, template: a change applies to every
pending delivery and retry), checks the lifetime (over: expired), asks the
endpoint for admission (busy or circuit open: deferred, no attempt), signs the
request (timestamp = now), sends it, classifies the outcome with
``core.retry.decide`` under the subscription's policy (the installation's, with
the subscription's override), and records it.

A crash loses nothing: leased deliveries stay inflight until their lease ends (or
the SQLite store is reopened) and are sent again -- at-least-once. On ``stop``
successors not yet sent are released (back to pending, no attempt counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from callhook.core.dialects.base import Request
from callhook.core.events import Event
from callhook.core.retry import Action, Outcome, RetryOverride, RetryPolicy, decide
from callhook.core.subscription import Subscription
from callhook.delivery.batching import GroupCommit
from callhook.delivery.endpoints import Endpoints, Limits, health
from callhook.delivery.metrics import DeliveryMetrics, NullMetrics
from callhook.delivery.notices import Notices
from callhook.delivery.redact import redact_headers, redact_url
from callhook.delivery.sender import Sender, SendError
from callhook.delivery.turns import Turns
from callhook.store.base import Attempt, DeadReason, Delivery, Finish, Lease, Status, Store

__all__ = ["Dispatcher", "DispatcherOptions", "Encoder", "Signer"]

log = logging.getLogger(__name__)

# (request, secret or secrets (a rotation's overlap: the current one first), msg_id, unix seconds)
Signer = Callable[[Request, str | tuple[str, ...], str, int], Request]
Encoder = Callable[[Event, Subscription], Request | None]
Group = tuple[str, str]

# an attempt record's URL: the same few URLs over and over, so remembered
_redacted_url = functools.lru_cache(maxsize=4096)(redact_url)

_STATUS = {
    Action.DONE: Status.DONE,
    Action.RETRY: Status.PENDING,
    Action.DEAD: Status.DEAD,
    Action.EXPIRED: Status.EXPIRED,
}


@dataclass(frozen=True, slots=True)
class DispatcherOptions:
    batch: int = 256
    max_inflight: int = 512
    lease: float = 300.0  # longer than any send plus its wait for an endpoint slot
    poll_interval: float = 1.0
    sweep_interval: float = 30.0  # how often expired leases are returned to pending
    subscription_ttl: float = 2.0
    internal_error_delay: float = 60.0
    # successors one task sends before it gives the group back to the shared queue
    # (other processes on PostgreSQL get their share of long-running groups)
    max_chain: int = 64
    # the longest a delivery waits for an older one of its subscription (arrival order)
    arrival_hold: float = 30.0
    # a webhook whose attempts failed (no success) for this long is disabled, with a
    # webhook.disabled notice; 0: never (CALLHOOK_DISABLE_AFTER_DAYS)
    disable_after: float = 0.0
    # the store hands this dispatcher new heads at append (the feed) only while its event
    # loop runs late by at most this many seconds: a saturated process (say the one
    # reading the PBX) leaves them pending for whichever process claims first, so a
    # second process on PostgreSQL gets work. math.inf: always take them; a negative
    # value: never (every new head goes through the shared queue)
    feed_lag: float = 0.025
    lag_probe: float = 0.05  # how often the loop's lateness is measured


NOTICE_QUIET = 60.0  # seconds in which a webhook's further disables send no second notice


class _ReaderGone(Exception):
    """The task reading a subscription was cancelled: a waiting task reads it itself."""


class _Subscriptions:
    """A short-lived cache of subscriptions (with secrets) by id. One read per id at a
    time: the hundreds of tasks that find an entry expired at once share one read (each
    used to read it itself: ~900 statements in a run of 20,000 deliveries)."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store, self._ttl = store, ttl
        self._cache: dict[str, tuple[Subscription | None, float]] = {}
        self._reading: dict[str, asyncio.Future[Subscription | None]] = {}
        self._generation = 0  # a change while a read is running: its result is not cached

    async def get(self, sub_id: str) -> Subscription | None:
        while True:
            hit = self._cache.get(sub_id)
            if hit is not None and time.monotonic() - hit[1] <= self._ttl:
                return hit[0]
            reading = self._reading.get(sub_id)
            if reading is None:
                return await self._read(sub_id)
            try:
                return await asyncio.shield(reading)
            except _ReaderGone:
                continue

    async def _read(self, sub_id: str) -> Subscription | None:
        fut: asyncio.Future[Subscription | None] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(_seen)
        self._reading[sub_id] = fut
        generation = self._generation
        try:
            sub = await self._store.get_subscription(sub_id, with_secrets=True)
        except Exception as exc:
            fut.set_exception(exc)
            raise
        except BaseException:
            fut.set_exception(_ReaderGone())
            raise
        finally:
            if self._reading.get(sub_id) is fut:
                del self._reading[sub_id]
        if generation == self._generation:
            self._cache[sub_id] = (sub, time.monotonic())
        fut.set_result(sub)
        return sub

    def disabled(self, sub: Subscription) -> None:
        self._generation += 1
        self._cache[sub.id] = (replace(sub, enabled=False), time.monotonic())

    def invalidate(self, sub_id: str | None = None) -> None:
        self._generation += 1
        if sub_id is None:
            self._cache.clear()
            self._reading.clear()
        else:
            self._cache.pop(sub_id, None)
            self._reading.pop(sub_id, None)


def _seen(fut: asyncio.Future[Subscription | None]) -> None:
    """Mark a read's error as retrieved even when no other task waited for it."""
    if not fut.cancelled():
        fut.exception()


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        policy: RetryPolicy | None = None,
        endpoints: Endpoints | None = None,
        sign: Signer | None = None,
        encode: Encoder | None = None,
        now: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        metrics: DeliveryMetrics | None = None,
        options: DispatcherOptions | None = None,
    ) -> None:
        self._store, self._sender = store, sender
        self._policy = policy or RetryPolicy()
        self.endpoints = endpoints or Endpoints()
        self.limits = Limits(self.endpoints.policy.busy_retry)  # per-subscription limits
        self._sign, self._encode, self._clock, self._rand = sign, encode, now, rand
        self._metrics = metrics or NullMetrics()
        self.options = o = options or DispatcherOptions()
        self._subs = _Subscriptions(store, o.subscription_ttl)
        self._policies: dict[RetryOverride, RetryPolicy] = {}
        self._finishes: GroupCommit[Finish] = GroupCommit(self._write_finishes, max_batch=4 * o.batch)
        self._tasks: set[asyncio.Task[None]] = set()
        self._next: dict[Group, Delivery] = {}  # successors leased by the last record, by group
        self._turns = Turns(hold=o.arrival_hold)
        self._stopping = asyncio.Event()
        self._main: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        # how late the event loop ran at the last probe (seconds); above feed_lag the feed takes nothing
        self.lag = 0.0
        self.notices = Notices(store, encode)
        self._failing_since: dict[str, float] = {}  # sub id -> first failure since its last success
        self._notice_tasks: set[asyncio.Task[int]] = set()
        self._noticed: dict[str, float] = {}  # sub id -> when its last disable notice went out

    async def start(self) -> None:
        """Run :meth:`run` in a task of its own (stopped by :meth:`stop`); from now on
        the store hands new due deliveries straight to this dispatcher."""
        self._store.attach(self)
        self._main = asyncio.create_task(self.run(), name="callhook-dispatcher")
        if 0 <= self.options.feed_lag < math.inf:
            self._lag_task = asyncio.create_task(self._probe_lag(), name="callhook-dispatcher-lag")

    def invalidate(self, sub_id: str | None = None) -> None:
        """A subscription changed: read it again before its next send."""
        self._subs.invalidate(sub_id)

    # ------------------------------------------------------------ the feed (store.Feed)
    def room(self) -> int:
        if self._stopping.is_set() or self.lag > self.options.feed_lag:
            return 0
        return max(0, self.options.max_inflight - len(self._tasks))

    async def _probe_lag(self) -> None:
        """Measure how late the event loop runs (the last probe's lateness)."""
        loop = asyncio.get_running_loop()
        period = self.options.lag_probe
        while not self._stopping.is_set():
            start = loop.time()
            await asyncio.sleep(period)
            self.lag = max(0.0, loop.time() - start - period)

    def lease(self, now: float) -> Lease:
        return Lease(uuid.uuid4().hex, now + self.options.lease)

    def take(self, deliveries: Sequence[Delivery]) -> None:
        if self._stopping.is_set():  # leased by a commit that raced with stop: give them back
            task = asyncio.create_task(self._give_back(list(deliveries)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        for d in deliveries:
            self._spawn(d)

    async def _give_back(self, deliveries: list[Delivery]) -> None:
        now = self._clock()
        try:
            await self._store.finish([_release(d, now) for d in deliveries], now)
        except Exception:  # their leases run out instead (or SQLite's open resets them)
            log.exception("giving back %d deliveries at stop failed", len(deliveries))

    def _spawn(self, d: Delivery) -> None:
        task = asyncio.create_task(self._chain(d))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------ the loop
    async def run(self) -> None:
        """Deliver until :meth:`stop`."""
        o = self.options
        last_sweep = 0.0
        while not self._stopping.is_set():
            now = self._clock()
            if now - last_sweep >= o.sweep_interval:
                last_sweep = now
                await self._store.requeue_expired_leases(now)
                self._metrics.backlog((await self._store.counts()).backlog)
            free = o.max_inflight - len(self._tasks)
            if free <= 0:
                await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            want = min(free, o.batch)
            claimed = await self._store.claim(now, want, o.lease)
            for d in claimed:
                self._spawn(d)
            if len(claimed) < want:
                await self._idle(o.poll_interval)

    async def _idle(self, within: float) -> None:
        waits = [asyncio.create_task(self._store.wait_for_work(within)), asyncio.create_task(self._stopping.wait())]
        _, rest = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let running sends finish for up to ``grace`` seconds.

        Sends still running then are cancelled; their deliveries stay inflight and
        are sent again after a restart.
        """
        self._stopping.set()
        if self._lag_task is not None:
            self._lag_task.cancel()
            await asyncio.gather(self._lag_task, return_exceptions=True)
            self._lag_task = None
        self._turns.open_all()  # deliveries waiting for their turn are given back, not sent
        self._store.attach(None)
        if self._main is not None:
            await self._main
            self._main = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._notice_tasks:  # disable notices being stored: let them finish
            await asyncio.wait(set(self._notice_tasks), timeout=grace)
        await self._finishes.drain()
        if self._next:  # leased successors no task went on with: back to pending
            left, self._next = list(self._next.values()), {}
            with contextlib.suppress(Exception):
                await self._store.finish([_release(d, self._clock()) for d in left], self._clock())

    async def _write_finishes(self, items: list[Finish]) -> None:
        now = self._clock()
        # a saturated process (see feed_lag) leaves the successors to the shared queue too
        busy = self._stopping.is_set() or self.lag > self.options.feed_lag
        lease = None if busy else self.lease(now)
        recorded = await self._store.record(items, now, lease)
        for d in recorded.successors:
            self._next[(d.subscription_id, d.order_key)] = d

    # ------------------------------------------------------------ one group
    async def _chain(self, d: Delivery | None) -> None:
        """Send ``d``, then each successor the recording of its outcome leased back
        (in the subscription's arrival order, :mod:`callhook.delivery.turns`)."""
        sent = 0
        while d is not None:
            group = (d.subscription_id, d.order_key)
            line = await self._line(d)
            if line is not None and not self._turns.holds(line, d.id):
                await self._turns.take(line, d.id)
                if self._stopping.is_set():  # stopped while it waited for its turn: back to pending
                    await self._submit(_release(d, self._clock()), d)
                    return
            try:
                await self._deliver(d)
            except BaseException:
                if line is not None:
                    self._turns.give(line, d.id)
                raise
            sent += 1
            nxt = self._next.pop(group, None)
            if line is not None:
                self._turns.give(line, d.id, None if nxt is None else nxt.id)
            d = nxt
            if d is not None and (self._stopping.is_set() or sent > self.options.max_chain):
                if line is not None and self._turns.holds(line, d.id):
                    self._turns.give(line, d.id)
                await self._submit(_release(d, self._clock()), d)
                return

    async def _line(self, d: Delivery) -> str | None:
        """The subscription whose arrival order ``d`` keeps; None: calls go in parallel."""
        try:
            sub = await self._subs.get(d.subscription_id)
        except Exception:  # the attempt itself will meet (and record) the store's failure
            return None
        return d.subscription_id if sub is not None and sub.ordering == "arrival" else None

    async def _submit(self, finish: Finish, d: Delivery) -> None:
        try:
            await self._finishes.submit([finish])
        except Exception:
            extra = {"delivery_id": d.id, "subscription_id": d.subscription_id, "event_id": d.event_id}
            log.exception("delivery %s: recording the outcome failed; it will be sent again", d.id, extra=extra)

    # ------------------------------------------------------------ one delivery
    async def _deliver(self, d: Delivery) -> None:
        extra = {"delivery_id": d.id, "subscription_id": d.subscription_id, "event_id": d.event_id}
        try:
            finish = await self._attempt(d, extra)
        except Exception:
            log.exception("delivery %s: internal error", d.id, extra=extra)
            finish = Finish(
                d.id,
                d.lease_id,
                Status.PENDING,
                self._clock() + self.options.internal_error_delay,
                last_error="internal error",
                last_status=d.last_status,
            )
        await self._submit(finish, d)

    def _policy_of(self, sub: Subscription) -> RetryPolicy:
        if sub.retry is None or sub.retry.empty:
            return self._policy
        policy = self._policies.get(sub.retry)
        if policy is None:
            if len(self._policies) > 1024:
                self._policies.clear()
            policy = self._policies[sub.retry] = self._policy.overridden(sub.retry)
        return policy

    def _expires_at(self, d: Delivery, sub: Subscription, policy: RetryPolicy) -> float | None:
        """The lifetime's end: the subscription's own lifetime for this event type, if
        it sets one, counted from when this delivery's lifetime started."""
        if sub.retry is None or d.event is None or d.event.type.value not in sub.retry.lifetimes:
            return d.expires_at
        etype = d.event.type.value
        base = self._policy.lifetime(etype)
        start = d.created_at if d.expires_at is None or base is None else d.expires_at - base
        return policy.expires_at(etype, start)

    def _request(self, d: Delivery, sub: Subscription) -> Request | str:
        """The request to send now: encoded from the event with the subscription as it
        is now (or the stored one without an encoder); a text says why there is none."""
        if self._encode is None or d.event is None:
            return d.request
        try:
            req = self._encode(d.event, sub)
        except Exception as exc:
            log.exception("delivery %s: encoding failed", d.id, extra={"delivery_id": d.id})
            return f"encoding failed: {type(exc).__name__}: {exc}"
        return "the subscription's dialect has no message for this event" if req is None else req

    async def _attempt(self, d: Delivery, extra: dict[str, object]) -> Finish:
        sub = await self._subs.get(d.subscription_id)
        now = self._clock()
        if sub is None or not sub.enabled:
            why = "subscription deleted" if sub is None else "subscription disabled"
            reason = DeadReason.DELETED if sub is None else DeadReason.DISABLED
            log.info("delivery %s: %s, dead-lettered", d.id, why, extra=extra)
            return Finish(d.id, d.lease_id, Status.DEAD, last_error=why, last_status=d.last_status, reason=reason)
        policy = self._policy_of(sub)
        expires_at = self._expires_at(d, sub, policy)
        if expires_at is not None and now >= expires_at:
            return Finish(
                d.id, d.lease_id, Status.EXPIRED, last_error="lifetime over before sending", last_status=d.last_status
            )
        encoded = self._request(d, sub)
        if isinstance(encoded, str):
            return Finish(d.id, d.lease_id, Status.DEAD, last_error=encoded, last_status=d.last_status)
        sent = None if encoded == d.request else encoded
        # the subscription's own limits first (a deferral: no attempt, the task is free)
        later = self.limits.admit(sub.id, sub.limit_concurrency, sub.limit_rps, sub.limit_burst, now)
        if later is not None:
            return Finish(d.id, d.lease_id, Status.PENDING, later, last_error=d.last_error, last_status=d.last_status)
        try:
            return await self._send(d, sub, encoded, sent, policy, expires_at, now, extra)
        finally:
            self.limits.release(sub.id)

    async def _send(
        self,
        d: Delivery,
        sub: Subscription,
        encoded: Request,
        sent: Request | None,
        policy: RetryPolicy,
        expires_at: float | None,
        now: float,
        extra: dict[str, object],
    ) -> Finish:
        """The endpoint's limits and breaker, then the request (the subscription's quota is taken)."""
        endpoint = self.endpoints.get(encoded.url)
        later = endpoint.admit(now)
        if later is not None:  # busy or circuit open: no attempt, come back later
            self.limits.refund(sub.id)
            return Finish(d.id, d.lease_id, Status.PENDING, later, last_error=d.last_error, last_status=d.last_status)
        result: bool | None = False
        try:
            async with endpoint.slots:
                sent_at = self._clock()
                later = endpoint.blocked_until(sent_at)
                if later is not None:
                    result = None
                    return Finish(
                        d.id, d.lease_id, Status.PENDING, later, last_error=d.last_error, last_status=d.last_status
                    )
                req = encoded
                keys = sub.signing_secrets(sent_at)  # two while a rotation's overlap lasts
                if keys and self._sign is not None:
                    req = self._sign(req, keys[0] if len(keys) == 1 else keys, d.event_id, int(sent_at))
                t0 = time.perf_counter()
                try:
                    resp = await self._sender.send(req)
                    outcome, body = Outcome(resp.status, "", resp.retry_after), resp.body
                except SendError as exc:
                    outcome, body = Outcome(None, str(exc)), b""
                seconds = time.perf_counter() - t0
                result = health(outcome.status)
        finally:
            if later is None:
                endpoint.done(result, self._clock())
            else:
                endpoint.withdraw()
        now = self._clock()
        step = decide(policy, outcome, attempts=d.attempts + 1, now=now, expires_at=expires_at, rand=self._rand())
        self._metrics.attempted(step.action.value, seconds)
        if step.action is Action.DONE:
            self._metrics.delivered(now - d.created_at)
        else:
            log.info(
                "delivery %s attempt %d: %s -> %s", d.id, d.attempts + 1, step.reason, step.action.value, extra=extra
            )
        disable = step.disable_subscription
        if disable:
            self._subs.disabled(sub)
            log.warning("subscription %s answered 410 Gone: disabled", sub.id, extra=extra)
            self._notice(sub, "410 Gone", now, None)
        elif self._failed_too_long(sub, result, sent_at, now):
            disable = True
        attempt = Attempt(
            d.id,
            d.subscription_id,
            sent_at,
            req.method,
            _redacted_url(req.url),
            redact_headers(req.headers),
            outcome.status,
            body,
            seconds * 1000.0,
            outcome.error,
        )
        return Finish(
            d.id,
            d.lease_id,
            _STATUS[step.action],
            step.next_at,
            step.reason,
            outcome.status,
            attempt,
            sub.id if disable else "",
            sent,
        )

    def _failed_too_long(self, sub: Subscription, result: bool | None, sent_at: float, now: float) -> bool:
        """Track the webhook's run of failures; True (and a notice) when it reached
        ``disable_after`` without a success in between."""
        if result is True:
            self._failing_since.pop(sub.id, None)
            return False
        if result is None:
            return False
        since = self._failing_since.setdefault(sub.id, sent_at)
        limit = self.options.disable_after
        if limit <= 0 or now - since < limit:
            return False
        del self._failing_since[sub.id]
        self._subs.disabled(sub)
        log.warning("subscription %s failing since %.0f: disabled", sub.id, since, extra={"subscription_id": sub.id})
        reason = "failing since " + datetime.fromtimestamp(since, UTC).isoformat()
        self._notice(sub, reason, now, since)
        return True

    def _notice(self, sub: Subscription, reason: str, now: float, since: float | None) -> None:
        # several of its deliveries in flight answered at once: one notice for that disable
        last = self._noticed.get(sub.id)
        if last is not None and now - last < NOTICE_QUIET:
            return
        self._noticed[sub.id] = now
        task = asyncio.create_task(self.notices.disabled(sub, reason, now, since), name="callhook-disable-notice")
        self._notice_tasks.add(task)
        task.add_done_callback(self._notice_done)

    def _notice_done(self, task: asyncio.Task[int]) -> None:
        self._notice_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("the webhook.disabled notice could not be stored", exc_info=task.exception())


def _release(d: Delivery, now: float) -> Finish:
    """Give a leased delivery back, due now, without counting an attempt."""
    return Finish(d.id, d.lease_id, Status.PENDING, now, last_error=d.last_error, last_status=d.last_status)

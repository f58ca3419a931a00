"""The dispatcher: claim due deliveries, send them, record the attempt, reschedule.

Theory of operation
-------------------
One loop claims up to ``batch`` due deliveries (the heads of their groups, so a
call's next event waits until the previous one ended) and starts one task each, at
most ``max_inflight`` at a time. A task checks the subscription (deleted or disabled:
dead letter) and the lifetime (over: expired), asks the endpoint for admission (a
busy endpoint or an open circuit defers the delivery without an attempt), signs the
stored request when the subscription has a secret (timestamp = now), sends it,
classifies the outcome with ``core.retry.decide``, and hands a :class:`Finish` to a
group commit. When there is nothing due, the loop waits for the store's wake-up (an
append, a finished head, a NOTIFY) or the poll interval, whichever comes first.

A crash loses nothing: claimed deliveries stay inflight until their lease ends (or
the SQLite store is reopened) and are sent again -- at-least-once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from callhook.core.dialects.base import Request
from callhook.core.retry import Action, Outcome, RetryPolicy, decide
from callhook.core.subscription import Subscription
from callhook.delivery.batching import GroupCommit
from callhook.delivery.endpoints import Endpoints, health
from callhook.delivery.metrics import DeliveryMetrics, NullMetrics
from callhook.delivery.redact import redact_headers, redact_url
from callhook.delivery.sender import Sender, SendError
from callhook.store.base import Attempt, Delivery, Finish, Status, Store

__all__ = ["Dispatcher", "DispatcherOptions", "Signer"]

log = logging.getLogger(__name__)

Signer = Callable[[Request, str, str, int], Request]  # (request, secret, msg_id, unix seconds)

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


class _Subscriptions:
    """A short-lived cache of subscriptions (with secrets) by id."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store, self._ttl = store, ttl
        self._cache: dict[str, tuple[Subscription | None, float]] = {}

    async def get(self, sub_id: str) -> Subscription | None:
        hit = self._cache.get(sub_id)
        now = time.monotonic()
        if hit is None or now - hit[1] > self._ttl:
            hit = (await self._store.get_subscription(sub_id, with_secrets=True), now)
            self._cache[sub_id] = hit
        return hit[0]

    def disabled(self, sub: Subscription) -> None:
        self._cache[sub.id] = (replace(sub, enabled=False), time.monotonic())

    def clear(self) -> None:
        self._cache.clear()


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: Sender,
        *,
        policy: RetryPolicy | None = None,
        endpoints: Endpoints | None = None,
        sign: Signer | None = None,
        now: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        metrics: DeliveryMetrics | None = None,
        options: DispatcherOptions | None = None,
    ) -> None:
        self._store, self._sender = store, sender
        self._policy = policy or RetryPolicy()
        self.endpoints = endpoints or Endpoints()
        self._sign, self._clock, self._rand = sign, now, rand
        self._metrics = metrics or NullMetrics()
        self.options = o = options or DispatcherOptions()
        self._subs = _Subscriptions(store, o.subscription_ttl)
        self._finishes: GroupCommit[Finish] = GroupCommit(self._write_finishes, max_batch=4 * o.batch)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._main: asyncio.Task[None] | None = None

    def subscriptions_changed(self) -> None:
        """A webhook was changed through the API: read it again before the next attempt
        (an enabled webhook's retried deliveries must not meet the cached "disabled")."""
        self._subs.clear()

    async def start(self) -> None:
        """Run :meth:`run` in a task of its own (stopped by :meth:`stop`)."""
        self._main = asyncio.create_task(self.run(), name="callhook-dispatcher")

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
                task = asyncio.create_task(self._deliver(d))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
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
        if self._main is not None:
            await self._main
            self._main = None
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._finishes.drain()

    async def _write_finishes(self, items: list[Finish]) -> None:
        await self._store.finish(items, self._clock())

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
        try:
            await self._finishes.submit([finish])
        except Exception:
            log.exception("delivery %s: recording the outcome failed; it will be sent again", d.id, extra=extra)

    async def _attempt(self, d: Delivery, extra: dict[str, object]) -> Finish:
        sub = await self._subs.get(d.subscription_id)
        now = self._clock()
        if sub is None or not sub.enabled:
            why = "subscription deleted" if sub is None else "subscription disabled"
            log.info("delivery %s: %s, dead-lettered", d.id, why, extra=extra)
            return Finish(d.id, d.lease_id, Status.DEAD, last_error=why, last_status=d.last_status)
        if d.expires_at is not None and now >= d.expires_at:
            return Finish(
                d.id, d.lease_id, Status.EXPIRED, last_error="lifetime over before sending", last_status=d.last_status
            )
        endpoint = self.endpoints.get(d.request.url)
        later = endpoint.admit(now)
        if later is not None:  # busy or circuit open: no attempt, come back later
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
                req = d.request
                if sub.secret and self._sign is not None:
                    req = self._sign(req, sub.secret, d.event_id, int(sent_at))
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
        step = decide(
            self._policy, outcome, attempts=d.attempts + 1, now=now, expires_at=d.expires_at, rand=self._rand()
        )
        self._metrics.attempted(step.action.value, seconds)
        if step.action is Action.DONE:
            self._metrics.delivered(now - d.created_at)
        else:
            log.info(
                "delivery %s attempt %d: %s -> %s", d.id, d.attempts + 1, step.reason, step.action.value, extra=extra
            )
        if step.disable_subscription:
            self._subs.disabled(sub)
            log.warning("subscription %s answered 410 Gone: disabled", sub.id, extra=extra)
        attempt = Attempt(
            d.id,
            d.subscription_id,
            sent_at,
            req.method,
            redact_url(req.url),
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
            sub.id if step.disable_subscription else "",
        )

"""Accepting events: routed, encoded once, and made durable with their deliveries.

``await accepter.accept(events)`` returns only when the events and one delivery per
matching subscription are committed in one transaction; until then the caller (the
AMI reader, an ingest request) must not acknowledge anything. Concurrent callers
share commits (group commit, :mod:`.batching`): one transaction -- one fsync -- per
batch, not per event.

Routing (``core.routing.matches``) and encoding (the injected encoder) run before
the write, in the caller's task; the outbox row holds the encoded request, so a
retry sends the same bytes. An encoder that raises does not lose the event: the
delivery is stored dead with the error, visible among the dead letters.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from callhook.core.dialects.base import Request
from callhook.core.events import Event
from callhook.core.retry import RetryPolicy
from callhook.core.routing import matches, order_key
from callhook.core.subscription import Subscription
from callhook.delivery.batching import GroupCommit
from callhook.store.base import NewDelivery, NewEvent, Status, Store

__all__ = ["Accepter", "Encoder"]

log = logging.getLogger(__name__)

Encoder = Callable[[Event, Subscription], Request | None]


class Accepter:
    def __init__(
        self,
        store: Store,
        encode: Encoder,
        *,
        policy: RetryPolicy | None = None,
        now: Callable[[], float] = time.time,
        subscription_ttl: float = 1.0,
        max_batch: int = 5000,
    ) -> None:
        self._store = store
        self._encode = encode
        self._policy = policy or RetryPolicy()
        self._clock = now
        self._ttl = subscription_ttl
        self._subs: list[Subscription] = []
        self._subs_at: float | None = None
        self._subs_lock = asyncio.Lock()
        self._commits: GroupCommit[NewEvent] = GroupCommit(self._write, max_batch=max_batch)

    def invalidate(self) -> None:
        """Subscriptions changed: read them again before the next event."""
        self._subs_at = None

    async def _subscriptions(self) -> list[Subscription]:
        now = time.monotonic()
        if self._subs_at is None or now - self._subs_at >= self._ttl:
            async with self._subs_lock:
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

    async def accept(self, events: Sequence[Event]) -> int:
        """Make ``events`` durable; returns the number of deliveries they produced.

        Raises :class:`callhook.store.base.StoreError` when the commit failed: then
        nothing was acknowledged and the caller should retry or stop.
        """
        if not events:
            return 0
        subs = await self._subscriptions()
        now = self._clock()
        items = [self._route(ev, subs, now) for ev in events]
        await self._commits.submit(items)
        return sum(len(i.deliveries) for i in items)

    async def _write(self, items: list[NewEvent]) -> None:
        await self._store.append(items, self._clock())

    async def close(self) -> None:
        await self._commits.drain()

"""The PostgreSQL store: the distributed engine, shared by any number of processes.

psycopg 3 (async) over a small fixed pool of connections, plus one connection that
LISTENs on ``callhook_deliveries``; every transaction that makes work due sends a
NOTIFY there, so idle dispatchers in every process wake at once. If the listening
connection breaks, it is reopened with backoff and the dispatchers' polling covers
the gap.

Claims use ``FOR UPDATE SKIP LOCKED``, so processes never wait for each other's
rows. A crashed process's claims come back when their lease runs out
(``requeue_expired_leases``). The head of each (subscription, order key) group is
kept under a transaction-level advisory lock on the group, taken by every
transaction that adds to a group or ends its head, so two processes cannot both
decide (or both fail to decide) who is next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Sequence

import psycopg

from callhook.core.events import Event
from callhook.core.subscription import Subscription
from callhook.store import postgres_queries as q
from callhook.store.base import (
    Attempt,
    Counts,
    Delivery,
    DeliveryQuery,
    EventQuery,
    Feed,
    Finish,
    Lease,
    LedgerRow,
    MissedMark,
    NewEvent,
    Page,
    Recorded,
    StoreError,
    SubscriptionStats,
    Wakeup,
)
from callhook.store.outbox import RecentEvents

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)

Conn = psycopg.AsyncConnection[tuple[object, ...]]


class PostgresStore:
    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        self.url = url
        self._size = pool_size
        self._idle: asyncio.Queue[Conn | None] = asyncio.Queue()
        self._wakeup = Wakeup()
        self._listener: asyncio.Task[None] | None = None
        self._feed: Feed | None = None
        self._recent = RecentEvents()

    async def _connect(self) -> Conn:
        try:
            return await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"postgresql: cannot connect: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _conn(self) -> AsyncIterator[Conn]:
        conn = await self._idle.get()
        try:
            if conn is None or conn.closed:
                conn = await self._connect()
            yield conn
        except psycopg.Error as exc:
            if conn is not None and conn.broken:
                await conn.close()
                conn = None
            raise StoreError(f"postgresql: {exc}") from exc
        finally:
            self._idle.put_nowait(conn)

    async def open(self) -> None:
        conn = await self._connect()
        try:
            await q.migrate(conn)
        finally:
            await conn.close()
        for _ in range(self._size):
            self._idle.put_nowait(None)  # connected on first use
        self._listener = asyncio.create_task(self._listen(), name="callhook-pg-listen")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        while not self._idle.empty():
            conn = self._idle.get_nowait()
            if conn is not None:
                await conn.close()

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                conn = await self._connect()
                try:
                    await conn.execute(f"LISTEN {q.CHANNEL}")
                    delay = 0.5
                    self._wakeup.ring()  # anything missed while not listening
                    async for _ in conn.notifies():
                        self._wakeup.ring()
                finally:
                    await conn.close()
            except asyncio.CancelledError:
                raise
            except (StoreError, psycopg.Error) as exc:
                log.warning("LISTEN connection lost (%s); polling meanwhile", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    # ------------------------------------------------------------ subscriptions
    async def put_subscription(self, sub: Subscription, now: float) -> None:
        async with self._conn() as c:
            await q.put_subscription(c, sub, now)

    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None:
        async with self._conn() as c:
            subs = await q.select_subscriptions(c, sub_id, tenant, with_secrets)
        return subs[0] if subs else None

    async def list_subscriptions(self, *, tenant: str | None = None, with_secrets: bool = False) -> list[Subscription]:
        async with self._conn() as c:
            return await q.select_subscriptions(c, None, tenant, with_secrets)

    async def delete_subscription(self, sub_id: str, *, tenant: str | None = None, now: float | None = None) -> bool:
        async with self._conn() as c:
            return await q.delete_subscription(c, sub_id, tenant, time.time() if now is None else now)

    async def set_subscription_enabled(self, sub_id: str, enabled: bool, now: float) -> bool:
        async with self._conn() as c:
            return await q.set_enabled(c, sub_id, enabled, now)

    # ------------------------------------------------------------ outbox
    def attach(self, feed: Feed | None) -> None:
        self._feed = feed

    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        feed = self._feed
        room = feed.room() if feed is not None else 0
        lease = feed.lease(now) if feed is not None and room > 0 else None
        async with self._conn() as c:
            n, fed = await q.append(c, items, now, room, lease, self._recent)
        if fed and feed is not None:
            feed.take(fed)
        if n > len(fed):
            self._wakeup.ring()
        return n

    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        async with self._conn() as c:
            return await q.claim(c, now, limit, now + lease, uuid.uuid4().hex, self._recent)

    async def record(self, items: Sequence[Finish], now: float, lease: Lease | None = None) -> Recorded:
        async with self._conn() as c:
            applied, successors = await q.record(c, items, now, lease, self._recent)
        if lease is None and applied:
            self._wakeup.ring()  # promoted heads may be due
        return Recorded(applied, successors)

    async def finish(self, items: Sequence[Finish], now: float) -> int:
        return (await self.record(items, now)).applied

    async def requeue_expired_leases(self, now: float) -> int:
        async with self._conn() as c:
            return await q.requeue_expired(c, now)

    async def wait_for_work(self, within: float) -> None:
        await self._wakeup.wait(within)

    async def retry_delivery(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        async with self._conn() as c:
            return await q.retry_delivery(c, delivery_id, now, tenant)

    async def expedite(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        async with self._conn() as c:
            return await q.expedite(c, delivery_id, now, tenant)

    async def replay(
        self,
        now: float,
        *,
        subscription_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tenant: str | None = None,
        limit: int = 100_000,
        call_id: str | None = None,
    ) -> int:
        async with self._conn() as c:
            return await q.replay(c, now, subscription_id, since, until, tenant, limit, call_id)

    # ------------------------------------------------------------ queries
    async def get_delivery(
        self, delivery_id: int, *, tenant: str | None = None
    ) -> tuple[Delivery, list[Attempt]] | None:
        async with self._conn() as c:
            return await q.get_delivery(c, delivery_id, tenant)

    async def list_deliveries(self, dq: DeliveryQuery) -> Page[Delivery]:
        async with self._conn() as c:
            return await q.list_deliveries(c, dq)

    async def list_events(self, eq: EventQuery) -> Page[Event]:
        async with self._conn() as c:
            return await q.list_events(c, eq)

    async def call_events(self, call_id: str, *, tenant: str | None = None) -> list[Event]:
        async with self._conn() as c:
            return await q.call_events(c, call_id, tenant)

    async def counts(self, *, subscription_id: str | None = None) -> Counts:
        async with self._conn() as c:
            return await q.counts(c, subscription_id)

    async def subscription_stats(self, sub_id: str, since: float) -> SubscriptionStats:
        async with self._conn() as c:
            return await q.subscription_stats(c, sub_id, since)

    async def ledger(self, *, tenant: str | None = None, subscription_id: str | None = None) -> list[LedgerRow]:
        async with self._conn() as c:
            return await q.ledger(c, tenant, subscription_id)

    async def put_missed_mark(self, mark: MissedMark) -> None:
        async with self._conn() as c:
            await q.put_missed_mark(c, mark)

    async def list_missed_marks(self, *, tenant: str | None = None) -> list[MissedMark]:
        async with self._conn() as c:
            return await q.list_missed_marks(c, tenant)

"""The SQLite store: one file in WAL mode, the default backend.

sqlite3 is blocking, so every statement runs in one of two dedicated threads, each
with its own connection: the *writer* (accepting, claiming, finishing -- SQLite has
one writer at a time anyway, and one thread makes each method a transaction without
locks of our own) and the *reader* (API queries, which WAL lets run beside writes).

Durability: ``synchronous=FULL`` by default for the transactions that acknowledge
something (``append``, retry, replay, subscription changes) -- their commit is on
disk when they return, so an acknowledged event survives a power cut, not only a
crash of the process; the accepter's group commit pays one fsync per batch, not per
event. Claims and finishes commit with ``NORMAL`` (in WAL mode: safe against a
killed process, not against a power cut): losing one to a power cut only means a
delivery is sent again, which at-least-once allows, and the next FULL commit syncs
them anyway (the WAL is written in order). ``synchronous=NORMAL`` for everything
is offered for hosts that prefer speed to power-cut safety.

One process per file: at open, deliveries left inflight by a previous run go back
to pending (they may have been sent: at-least-once).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from callhook.core.events import Event
from callhook.core.subscription import Subscription
from callhook.store import sqlite_queries as q
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
from callhook.store.migrations import migrations
from callhook.store.outbox import RecentEvents

__all__ = ["SqliteStore"]

R = TypeVar("R")


def _connect(path: str, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, factory=q.Connection)
    conn.durable_level = synchronous
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, _name, sql in migrations("sqlite"):
            if version > current:
                for stmt in sql.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SqliteStore:
    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError("synchronous must be FULL, NORMAL or EXTRA")
        self.path = path
        self._sync = synchronous.upper()
        self._wx = ThreadPoolExecutor(1, thread_name_prefix="callhook-sqlite-w")
        self._rx = ThreadPoolExecutor(1, thread_name_prefix="callhook-sqlite-r")
        self._w: sqlite3.Connection | None = None
        self._r: sqlite3.Connection | None = None
        self._wakeup = Wakeup()
        self._feed: Feed | None = None
        self._recent = RecentEvents()

    async def _write(self, fn: Callable[..., R], *args: Any) -> R:
        return await self._run(self._wx, fn, self._w, *args)

    async def _read(self, fn: Callable[..., R], *args: Any) -> R:
        return await self._run(self._rx, fn, self._r, *args)

    @staticmethod
    async def _run(pool: ThreadPoolExecutor, fn: Callable[..., R], conn: sqlite3.Connection | None, *args: Any) -> R:
        if conn is None:
            raise StoreError("the store is not open")
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, conn, *args)
        except sqlite3.Error as exc:
            raise StoreError(f"sqlite: {exc}") from exc

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._w = await loop.run_in_executor(self._wx, _connect, self.path, self._sync)
        await self._write(_migrate)
        await self._write(q.reset_inflight)
        self._r = await loop.run_in_executor(self._rx, _connect, self.path, self._sync)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        for pool, conn in ((self._wx, self._w), (self._rx, self._r)):
            if conn is not None:
                await loop.run_in_executor(pool, conn.close)
            pool.shutdown(wait=True)
        self._w = self._r = None

    # ------------------------------------------------------------ subscriptions
    async def put_subscription(self, sub: Subscription, now: float) -> None:
        await self._write(q.put_subscription, sub, now)

    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None:
        subs = await self._read(q.select_subscriptions, sub_id, tenant, with_secrets)
        return subs[0] if subs else None

    async def list_subscriptions(self, *, tenant: str | None = None, with_secrets: bool = False) -> list[Subscription]:
        return await self._read(q.select_subscriptions, None, tenant, with_secrets)

    async def delete_subscription(self, sub_id: str, *, tenant: str | None = None, now: float | None = None) -> bool:
        return await self._write(q.delete_subscription, sub_id, tenant, time.time() if now is None else now)

    async def set_subscription_enabled(self, sub_id: str, enabled: bool, now: float) -> bool:
        return await self._write(q.set_enabled, sub_id, enabled, now)

    # ------------------------------------------------------------ outbox
    def attach(self, feed: Feed | None) -> None:
        self._feed = feed

    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        feed = self._feed
        room = feed.room() if feed is not None else 0
        lease = feed.lease(now) if feed is not None and room > 0 else None
        n, fed = await self._write(q.append, items, now, room, lease, self._recent)
        if fed and feed is not None:
            feed.take(fed)
        if n > len(fed):
            self._wakeup.ring()
        return n

    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        return await self._write(q.claim, now, limit, now + lease, uuid.uuid4().hex, self._recent)

    async def record(self, items: Sequence[Finish], now: float, lease: Lease | None = None) -> Recorded:
        applied, successors = await self._write(q.record, items, now, lease, self._recent)
        if lease is None and applied:
            self._wakeup.ring()  # promoted heads may be due
        return Recorded(applied, successors)

    async def finish(self, items: Sequence[Finish], now: float) -> int:
        return (await self.record(items, now)).applied

    async def requeue_expired_leases(self, now: float) -> int:
        return await self._write(q.requeue_expired, now)

    async def wait_for_work(self, within: float) -> None:
        await self._wakeup.wait(within)

    async def retry_delivery(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        ok = await self._write(q.retry_delivery, delivery_id, now, tenant)
        if ok:
            self._wakeup.ring()
        return ok

    async def expedite(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        ok = await self._write(q.expedite, delivery_id, now, tenant)
        if ok:
            self._wakeup.ring()
        return ok

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
        n = await self._write(q.replay, now, subscription_id, since, until, tenant, limit, call_id)
        if n:
            self._wakeup.ring()
        return n

    # ------------------------------------------------------------ queries
    async def get_delivery(
        self, delivery_id: int, *, tenant: str | None = None
    ) -> tuple[Delivery, list[Attempt]] | None:
        return await self._read(q.get_delivery, delivery_id, tenant)

    async def list_deliveries(self, dq: DeliveryQuery) -> Page[Delivery]:
        return await self._read(q.list_deliveries, dq)

    async def list_events(self, eq: EventQuery) -> Page[Event]:
        return await self._read(q.list_events, eq)

    async def call_events(self, call_id: str, *, tenant: str | None = None) -> list[Event]:
        return await self._read(q.call_events, call_id, tenant)

    async def counts(self, *, subscription_id: str | None = None) -> Counts:
        return await self._read(q.counts, subscription_id)

    async def subscription_stats(self, sub_id: str, since: float) -> SubscriptionStats:
        return await self._read(q.subscription_stats, sub_id, since)

    async def ledger(self, *, tenant: str | None = None, subscription_id: str | None = None) -> list[LedgerRow]:
        return await self._read(q.ledger, tenant, subscription_id)

    async def put_missed_mark(self, mark: MissedMark) -> None:
        await self._write(q.put_missed_mark, mark)

    async def list_missed_marks(self, *, tenant: str | None = None) -> list[MissedMark]:
        return await self._read(q.list_missed_marks, tenant)

"""Sharing the work: a saturated dispatcher leaves new heads and successors to the
shared queue (any process claims them), and the subscription cache reads once.

Real SQLite, real receivers on 127.0.0.1; the same rule across processes on
PostgreSQL is in test_delivery_processes.py.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from callhook.core.retry import RetryPolicy
from callhook.core.subscription import Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions, _Subscriptions
from callhook.delivery.sender import HttpSender
from callhook.store.base import Delivery
from callhook.store.memory import MemoryStore
from callhook.store.sqlite import SqliteStore

from delivery_kit import Receiver, fake_encode, make_event, make_sub

FAST = RetryPolicy(schedule=(0.1,) * 8, jitter=0.0, client_error_attempts=2)


def seqs(bodies: list[dict[str, Any]], call: str) -> list[int]:
    return [b["seq"] for b in bodies if b["call"] == call]


class CountingStore(SqliteStore):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.claimed: Counter[int] = Counter()

    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        got = await super().claim(now, limit, lease)
        self.claimed.update(d.id for d in got)
        return got


def test_a_saturated_dispatcher_leaves_its_work_to_the_shared_queue(tmp_path: Path) -> None:
    """``feed_lag`` below any lateness (the loop always counts as saturated): neither the
    append nor the record of an outcome leases anything to this process directly; each
    delivery is claimed from the shared queue exactly once, and every call stays in
    order."""

    async def main() -> None:
        async with Receiver() as rx:
            store = CountingStore(str(tmp_path / "shared.db"))
            await store.open()
            sender = HttpSender(total_timeout=2.0)
            accepter = Accepter(store, fake_encode, policy=FAST, subscription_ttl=60)
            options = DispatcherOptions(poll_interval=0.05, feed_lag=-1.0)
            dispatcher = Dispatcher(store, sender, policy=FAST, encode=fake_encode, options=options)
            await store.put_subscription(make_sub("s", rx.url("/hook"), ordering="call"), time.time())
            await dispatcher.start()
            try:
                assert dispatcher.room() == 0
                for seq in range(1, 11):  # ten calls, ten events each, as the AMI reader accepts them
                    await accepter.accept([make_event(f"call{c}", seq) for c in range(10)])
                await rx.wait_for(lambda: len(rx.delivered("/hook")) == 100)
            finally:
                await dispatcher.stop(grace=2.0)
                await accepter.close()
                await sender.close()
            assert len(store.claimed) == 100  # every delivery went through a claim ...
            assert set(store.claimed.values()) == {1}  # ... once
            ids = [b["id"] for b in rx.delivered("/hook")]
            assert len(ids) == len(set(ids)) == 100
            for c in range(10):
                assert seqs(rx.delivered("/hook"), f"call{c}") == list(range(1, 11))
            assert (await store.counts()).backlog == 0
            await store.close()

    asyncio.run(main())


def test_the_feed_pauses_while_the_loop_runs_late(tmp_path: Path) -> None:
    """The lag probe: a loop blocked for longer than ``feed_lag`` makes the dispatcher
    take no new heads (room 0) until it runs on time again; ``feed_lag = inf`` never
    probes."""

    async def main() -> None:
        store = MemoryStore()
        await store.open()
        sender = HttpSender(total_timeout=2.0)
        options = DispatcherOptions(poll_interval=0.05, feed_lag=0.05, lag_probe=0.01)
        dispatcher = Dispatcher(store, sender, encode=fake_encode, options=options)
        always = Dispatcher(store, sender, encode=fake_encode, options=DispatcherOptions(feed_lag=math.inf))
        await dispatcher.start()
        try:
            assert dispatcher.room() > 0
            loop = asyncio.get_running_loop()
            loop.call_soon(time.sleep, 0.2)  # the loop is saturated for 0.2 s
            deadline = time.monotonic() + 10
            while dispatcher.room() > 0:
                assert time.monotonic() < deadline, "the lag was not noticed"
                await asyncio.sleep(0.005)
            assert dispatcher.lag > 0.05
            while dispatcher.room() == 0:
                assert time.monotonic() < deadline, "the feed did not resume"
                await asyncio.sleep(0.005)
            assert dispatcher.lag <= 0.05
            await always.start()
            loop.call_soon(time.sleep, 0.1)
            await asyncio.sleep(0.05)
            assert always.lag == 0.0
            assert always.room() > 0
        finally:
            await dispatcher.stop()
            await always.stop()
            await sender.close()
            await store.close()

    asyncio.run(main())


class SlowReads(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.gate = asyncio.Event()

    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None:
        self.reads += 1
        await self.gate.wait()
        return await super().get_subscription(sub_id, tenant=tenant, with_secrets=with_secrets)


def test_the_subscription_cache_reads_once_for_many_tasks() -> None:
    """Two hundred tasks that need one subscription at once share one read; a change
    while a read runs is not overwritten by it; a reader that is cancelled hands the
    read to a waiting task."""

    async def main() -> None:
        store = SlowReads()
        await store.open()
        await store.put_subscription(make_sub("s", "http://127.0.0.1:9/h"), time.time())
        subs = _Subscriptions(store, ttl=60.0)
        tasks = [asyncio.create_task(subs.get("s")) for _ in range(200)]
        await asyncio.sleep(0)
        store.gate.set()
        got = await asyncio.gather(*tasks)
        assert store.reads == 1
        assert {s.id if s else None for s in got} == {"s"}
        assert await subs.get("s") is got[0]  # cached
        assert store.reads == 1

        # invalidated while a read runs: that read's answer is not cached
        subs.invalidate("s")
        store.gate.clear()
        first = asyncio.create_task(subs.get("s"))
        await asyncio.sleep(0)
        subs.invalidate("s")
        store.gate.set()
        await first
        reads = store.reads
        await subs.get("s")
        assert store.reads == reads + 1

        # the reading task is cancelled: a waiting one reads instead, and gets the answer
        subs.invalidate("s")
        store.gate.clear()
        reader = asyncio.create_task(subs.get("s"))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(subs.get("s"))
        await asyncio.sleep(0)
        reader.cancel()
        await asyncio.sleep(0)
        store.gate.set()
        sub = await asyncio.wait_for(waiter, 5)
        assert sub is not None
        assert sub.id == "s"
        assert reader.cancelled()
        await store.close()

    asyncio.run(main())

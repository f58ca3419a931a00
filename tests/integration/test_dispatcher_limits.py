"""Per-subscription limits against real receivers on 127.0.0.1 and a real SQLite store:
a rate limit spaces the requests, a concurrency limit caps them, a delivery waiting
for its quota counts no attempt and holds up no other webhook."""

from __future__ import annotations

import time
from pathlib import Path

from test_dispatcher import engine, run

from callhook.store.base import DeliveryQuery, Status

from delivery_kit import Receiver, Reply, make_event, make_sub


def test_a_rate_limit_spaces_the_requests_and_counts_no_attempt(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as limited, Receiver() as free, engine(tmp_path) as e:
            await e.subscribe(
                make_sub("crm", limited.url("/h"), limit_rps=10.0, limit_burst=2),
                make_sub("other", free.url("/h")),
            )
            t0 = time.monotonic()
            await e.accepter.accept([make_event(f"c{i}", 1) for i in range(12)])
            await free.wait_for(lambda: len(free.delivered("/h")) == 12, within=10)
            free_done = time.monotonic()
            await limited.wait_for(lambda: len(limited.delivered("/h")) == 12, within=20)
            await e.settle()
            at = sorted(h.at for h in limited.hits)
            # a burst of 2, then one every 1/10 s: 12 requests cannot take less than 1.0 s
            assert at[-1] - at[0] >= (12 - 2) / 10.0 - 0.02
            assert at[-1] - t0 > free_done - t0  # the other webhook did not wait for the quota
            assert len(limited.hits) == 12  # no request beyond the 12 deliveries
            page = await e.store.list_deliveries(DeliveryQuery(subscription_id="crm", limit=100))
            assert [d.attempts for d in page.items] == [1] * 12  # waiting for quota is no attempt
            assert all(d.status is Status.DONE for d in page.items)
            snap = e.dispatcher.limits.snapshot("crm")
            assert snap is not None
            assert snap.deferred > 0
            assert snap.in_flight == 0

    run(main())


def test_a_concurrency_limit_caps_the_requests_in_flight(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            rx.script["/capped"] = lambda n, b: Reply(delay=0.15)
            rx.script["/free"] = lambda n, b: Reply(delay=0.15)
            # calls in parallel ("call"): with arrival order a webhook sends one at a time anyway
            await e.subscribe(
                make_sub("capped", rx.url("/capped"), limit_concurrency=2, ordering="call"),
                make_sub("free", rx.url("/free"), ordering="call"),
            )
            await e.accepter.accept([make_event(f"c{i}", 1) for i in range(8)])
            await rx.wait_for(lambda: len(rx.delivered("/capped")) == 8 and len(rx.delivered("/free")) == 8, 20)
            await e.settle()
            # a hit is recorded when it is answered, 0.15 s after its request
            capped = sorted(h.at for h in rx.hits if h.path == "/capped")
            free = sorted(h.at for h in rx.hits if h.path == "/free")
            # 8 requests 2 at a time need 4 rounds of 0.15 s: 3 rounds between first and last answer
            assert capped[-1] - capped[0] >= 3 * 0.15 - 0.03
            assert free[-1] - free[0] < capped[-1] - capped[0]  # the uncapped webhook went wider at once
            page = await e.store.list_deliveries(DeliveryQuery(subscription_id="capped", limit=100))
            assert [d.attempts for d in page.items] == [1] * 8  # waiting for a slot is no attempt
            snap = e.dispatcher.limits.snapshot("capped")
            assert snap is not None
            assert snap.in_flight == 0

    run(main())

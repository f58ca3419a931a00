"""Send-time configuration and per-subscription retry settings, on every store.

The dispatcher encodes each attempt with the subscription as it is at that moment:
a changed URL, password or header applies to pending deliveries and retries, and
replays go out with the current configuration. A subscription's retry override
replaces the installation's schedule, attempts for other 4xx and lifetimes.
Real receivers on 127.0.0.1, the real dialect encoder (callhook's signed JSON).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from callhook.core import dialects
from callhook.core.retry import RetryOverride, RetryPolicy
from callhook.core.subscription import BasicAuth, Dialect, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import HttpSender
from callhook.store import open_store
from callhook.store.base import DeliveryQuery, Status, Store

from delivery_kit import Receiver, Reply, make_event

POLICY = RetryPolicy(schedule=(0.2,) * 30, jitter=0.0, client_error_attempts=3)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@dataclass
class Hub:
    store: Store
    accepter: Accepter
    dispatcher: Dispatcher

    async def put(self, sub: Subscription) -> None:
        """What the API does on a change: store it, then tell both sides."""
        await self.store.put_subscription(sub, time.time())
        self.accepter.invalidate()
        self.dispatcher.invalidate(sub.id)

    async def settle(self, within: float = 15.0) -> None:
        deadline = time.monotonic() + within
        while (await self.store.counts()).backlog:
            assert time.monotonic() < deadline, "deliveries still pending"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def hub(url: str, policy: RetryPolicy = POLICY) -> AsyncIterator[Hub]:
    store = open_store(url)
    await store.open()
    sender = HttpSender(total_timeout=2.0, connect_timeout=1.0)
    accepter = Accepter(store, dialects.encode, policy=policy, subscription_ttl=60)
    # a long subscription cache: only the explicit invalidation makes a change visible
    dispatcher = Dispatcher(
        store,
        sender,
        policy=policy,
        encode=dialects.encode,
        # the tests fail on purpose: keep the circuit breaker out of the figures
        endpoints=Endpoints(EndpointPolicy(failure_threshold=10_000)),
        options=DispatcherOptions(poll_interval=0.05, subscription_ttl=60.0),
    )
    await dispatcher.start()
    try:
        yield Hub(store, accepter, dispatcher)
    finally:
        await dispatcher.stop(grace=2.0)
        await accepter.close()
        await sender.close()
        await store.close()


def test_a_change_applies_to_pending_deliveries_and_retries(store_url: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, hub(store_url) as h:
            rx.script["/old"] = lambda n, b: Reply(503)
            old = Subscription(
                id="s",
                url=rx.url("/old"),
                dialect=Dialect.CALLHOOK,
                auth=BasicAuth("crm", "old-password"),
                headers={"X-Version": "1"},
            )
            await h.put(old)
            a1, a2, b1 = make_event("A", 1), make_event("A", 2), make_event("B", 1)
            await h.accepter.accept([a1, b1])
            await h.accepter.accept([a2])
            await rx.wait_for(lambda: len([x for x in rx.hits if x.path == "/old"]) >= 4)  # heads retried
            changed_at = time.monotonic()
            await h.put(
                replace(old, url=rx.url("/new"), auth=BasicAuth("crm", "new-password"), headers={"X-Version": "2"})
            )
            await h.settle()
            new = [x for x in rx.hits if x.path == "/new"]
            assert sorted(x.body["id"] for x in new) == sorted(e.id for e in (a1, a2, b1))
            assert all(x.headers["Authorization"] == basic("crm", "new-password") for x in new)
            assert all(x.headers["X-Version"] == "2" for x in new)
            # nothing went to the old URL once the change was made (one in flight at most)
            assert len([x for x in rx.hits if x.path == "/old" and x.at > changed_at + 0.5]) == 0
            assert [x.body["seq"] for x in new if x.body["call_id"] == "A"] == [1, 2]  # order kept
            # the delivery shows what was sent; the attempt log shows each attempt as sent
            page = await h.store.list_deliveries(DeliveryQuery(event_id=a1.id))
            (d,) = page.items
            assert d.status is Status.DONE
            assert d.request.url == rx.url("/new")
            got = await h.store.get_delivery(d.id)
            assert got is not None
            urls = [a.url for a in got[1]]
            assert urls[0] == rx.url("/old")
            assert urls[-1] == rx.url("/new")
            assert all(rx.url("/old") == u for u in urls[:-1])
            assert all(dict(a.headers)["Authorization"] == "[redacted]" for a in got[1])
            assert "new-password" not in repr(got[1])

    asyncio.run(main())


def test_replay_uses_the_current_configuration(store_url: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, hub(store_url) as h:
            sub = Subscription(id="s", url=rx.url("/a"), dialect=Dialect.CALLHOOK, headers={"X-Tag": "a"})
            await h.put(sub)
            ev = make_event("C", 1)
            await h.accepter.accept([ev])
            await h.settle()
            await h.put(replace(sub, url=rx.url("/b"), headers={"X-Tag": "b"}))
            assert await h.store.replay(time.time(), subscription_id="s") == 1
            await h.settle()
            at_b = [x for x in rx.hits if x.path == "/b"]
            assert [x.body["id"] for x in at_b] == [ev.id]  # the same event, the same id
            assert at_b[0].headers["X-Tag"] == "b"
            assert [x.body["id"] for x in rx.hits if x.path == "/a"] == [ev.id]

    asyncio.run(main())


def test_a_subscription_retry_override_replaces_the_installation_policy(store_url: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, hub(store_url) as h:
            for path in ("/own", "/default", "/short"):
                rx.script[path] = lambda n, b: Reply(503) if b["call_id"] == "L" else Reply(404)
            own = Subscription(
                id="own",
                url=rx.url("/own"),
                dialect=Dialect.CALLHOOK,
                retry=RetryOverride(schedule=(0.05,), client_error_attempts=1),
            )
            default = Subscription(id="default", url=rx.url("/default"), dialect=Dialect.CALLHOOK)
            # a lifetime of its own for call.answered: retried (503) until it expires
            short = Subscription(
                id="short",
                url=rx.url("/short"),
                dialect=Dialect.CALLHOOK,
                events=frozenset({"call.answered"}),
                retry=RetryOverride(lifetimes={"call.answered": 0.7}),
            )
            for s in (own, default, short):
                await h.put(s)
            await h.accepter.accept([make_event("X", 1), make_event("L", 1)])
            await h.settle()
            # a 404: dead after the override's 1 attempt, the installation's 3 elsewhere
            own_page = await h.store.list_deliveries(DeliveryQuery(subscription_id="own"))
            assert len(own_page.items) == 2
            x_own = next(d for d in own_page.items if d.last_status == 404)
            assert (x_own.attempts, x_own.status) == (1, Status.DEAD)
            # 503 on the override's one-delay schedule: 2 attempts, then dead
            l_own = next(d for d in own_page.items if d.last_status == 503)
            assert (l_own.attempts, l_own.status) == (2, Status.DEAD)
            default_page = await h.store.list_deliveries(DeliveryQuery(subscription_id="default"))
            x_default = next(d for d in default_page.items if d.last_status == 404)
            assert (x_default.attempts, x_default.status) == (3, Status.DEAD)
            # 503 every 0.2 s with a 0.7 s lifetime: expired after a few attempts, not 31
            short_page = await h.store.list_deliveries(DeliveryQuery(subscription_id="short"))
            l_short = next(d for d in short_page.items if d.last_status == 503)
            assert l_short.status is Status.EXPIRED
            assert 2 <= l_short.attempts <= 5

    asyncio.run(main())

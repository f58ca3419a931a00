"""The dispatcher against real aiohttp receivers on 127.0.0.1 and a real SQLite store.

Receivers fail, answer slowly, answer 429 with Retry-After, 410, drop connections;
a call's events stay in order across retries and a dead endpoint holds up no one else.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from callhook.core.dialects.base import Request
from callhook.core.events import EventType
from callhook.core.retry import RetryPolicy
from callhook.core.subscription import BasicAuth, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import BreakerState, EndpointPolicy, Endpoints
from callhook.delivery.sender import HttpSender
from callhook.store import open_store
from callhook.store.base import Delivery, DeliveryQuery, Status, Store
from callhook.store.sqlite import SqliteStore

from delivery_kit import Receiver, Reply, fake_encode, make_event, make_sub

FAST = RetryPolicy(schedule=(0.1,) * 8, jitter=0.0, client_error_attempts=2)


@dataclass
class Engine:
    store: Store
    accepter: Accepter
    dispatcher: Dispatcher

    async def subscribe(self, *subs: Subscription) -> None:
        for s in subs:
            await self.store.put_subscription(s, time.time())
        self.accepter.invalidate()

    async def settle(self, within: float = 10.0) -> None:
        """Wait until nothing is pending or inflight."""
        deadline = time.monotonic() + within
        while (await self.store.counts()).backlog:
            assert time.monotonic() < deadline, "deliveries still pending"
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def engine(
    tmp_path: Path,
    *,
    policy: RetryPolicy = FAST,
    endpoints: Endpoints | None = None,
    sign: Callable[[Request, str, str, int], Request] | None = None,
    url: str | None = None,
) -> AsyncIterator[Engine]:
    store = open_store(url or str(tmp_path / "d.db"))
    await store.open()
    sender = HttpSender(total_timeout=2.0, connect_timeout=1.0)
    accepter = Accepter(store, fake_encode, policy=policy, subscription_ttl=60)
    dispatcher = Dispatcher(
        store,
        sender,
        policy=policy,
        endpoints=endpoints,
        sign=sign,
        options=DispatcherOptions(poll_interval=0.05, subscription_ttl=0.05),
    )
    await dispatcher.start()
    try:
        yield Engine(store, accepter, dispatcher)
    finally:
        await dispatcher.stop(grace=2.0)
        await accepter.close()
        await sender.close()
        await store.close()


def run(coro: Any) -> None:
    asyncio.run(coro)


def seqs(bodies: list[dict[str, Any]], call: str) -> list[int]:
    return [b["seq"] for b in bodies if b["call"] == call]


def test_order_per_call_holds_across_retries(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            # every second request of call A fails: 500, dropped connection, 503 with Retry-After
            failures = {1: Reply(500), 3: Reply(drop=True), 5: Reply(503, {"Retry-After": "0"})}
            counter = {"A": 0}

            def flaky(n: int, body: dict[str, Any]) -> Reply:
                if body["call"] != "A":
                    return Reply()
                counter["A"] += 1
                return failures.get(counter["A"], Reply())

            rx.script["/hook"] = flaky
            await e.subscribe(make_sub("s", rx.url("/hook")))
            for seq in range(1, 6):  # interleaved, one accept per event like the AMI reader
                await e.accepter.accept([make_event("A", seq), make_event("B", seq)])
            await e.settle()
            got = rx.delivered("/hook")
            assert seqs(got, "A") == [1, 2, 3, 4, 5]
            assert seqs(got, "B") == [1, 2, 3, 4, 5]
            # B never waited for A's retries: it finished before A did
            first_b5 = next(i for i, b in enumerate(got) if b == {**got[i], "call": "B", "seq": 5})
            last_a = max(i for i, b in enumerate(got) if b["call"] == "A")
            assert first_b5 < last_a
            page = await e.store.list_deliveries(DeliveryQuery(call_id="A"))
            attempts = sorted(d.attempts for d in page.items)
            assert attempts == [1, 1, 2, 2, 2]
            errors = []
            for d in page.items:
                got_d = await e.store.get_delivery(d.id)
                assert got_d is not None
                errors += [a.error.split(":")[0] for a in got_d[1] if a.status is None]
            assert errors == ["connection"]

    run(main())


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            rx.script["/h"] = lambda n, b: Reply(429, {"Retry-After": "1"}) if n == 1 else Reply()
            await e.subscribe(make_sub("s", rx.url("/h")))
            await e.accepter.accept([make_event("A", 1)])
            await e.settle()
            first, second = rx.hits
            assert (first.status, second.status) == (429, 200)
            assert second.at - first.at >= 0.95

    run(main())


def test_410_disables_the_subscription(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            rx.script["/gone"] = lambda n, b: Reply(410)
            await e.subscribe(make_sub("gone", rx.url("/gone")), make_sub("ok", rx.url("/ok")))
            await e.accepter.accept([make_event("A", 1), make_event("A", 2), make_event("A", 3)])
            await e.settle()
            assert len(rx.delivered("/ok")) == 3
            assert len([h for h in rx.hits if h.path == "/gone"]) == 1  # nothing more after the 410
            sub = await e.store.get_subscription("gone")
            assert sub is not None
            assert sub.enabled is False
            dead = (await e.store.list_deliveries(DeliveryQuery(subscription_id="gone"))).items
            assert sorted(d.last_error for d in dead) == sorted(
                ["410 Gone: the subscription was disabled", "subscription disabled", "subscription disabled"]
            )
            assert {d.status for d in dead} == {Status.DEAD}

    run(main())


def test_client_errors_dead_letter_then_retry_by_hand(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            broken = {"on": True}
            rx.script["/h"] = lambda n, b: Reply(404) if broken["on"] else Reply()
            await e.subscribe(make_sub("s", rx.url("/h")))
            await e.accepter.accept([make_event("A", 1), make_event("A", 2)])
            await e.settle()
            dead = (await e.store.list_deliveries(DeliveryQuery(status=Status.DEAD))).items
            assert len(dead) == 2
            assert all(d.attempts == 2 and "HTTP 404" in d.last_error for d in dead)
            broken["on"] = False
            for d in sorted(dead, key=lambda d: d.id):
                assert await e.store.retry_delivery(d.id, time.time())
            await e.settle()
            assert seqs(rx.delivered("/h"), "A") == [1, 2]

    run(main())


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port  # closed again: connections are refused


def test_a_dead_or_slow_endpoint_holds_up_no_one(tmp_path: Path) -> None:
    async def main() -> None:
        endpoints = Endpoints(EndpointPolicy(concurrency=2, max_queued=64, failure_threshold=3, cooldown=30))
        async with Receiver() as slow, Receiver() as live, engine(tmp_path, endpoints=endpoints) as e:
            slow.script["/h"] = lambda n, b: Reply(delay=1.0)
            dead_url = f"http://127.0.0.1:{_dead_port()}/h"
            await e.subscribe(
                make_sub("dead", dead_url), make_sub("slow", slow.url("/h")), make_sub("live", live.url("/h"))
            )
            t0 = time.monotonic()
            await e.accepter.accept([make_event(f"c{i}", 1) for i in range(40)])
            await live.wait_for(lambda: len(live.delivered("/h")) == 40, within=5)
            assert time.monotonic() - t0 < 1.0  # not behind the slow one's 1 s answers
            states = {s.key: s for s in e.dispatcher.endpoints.snapshot()}
            dead = states[f"http://127.0.0.1:{dead_url.split(':')[2].split('/')[0]}"]
            await asyncio.sleep(0.3)
            dead = next(s for s in e.dispatcher.endpoints.snapshot() if s.key == dead.key)
            assert dead.state is BreakerState.OPEN
            assert len(slow.hits) <= 2  # at most its concurrency in the first second
            attempts_dead = [
                d.attempts
                for d in (await e.store.list_deliveries(DeliveryQuery(subscription_id="dead", limit=100))).items
            ]
            assert sum(attempts_dead) <= 5  # the open breaker stopped the attempts

    run(main())


def test_signing_redaction_and_attempt_record(tmp_path: Path) -> None:
    calls: list[tuple[str, str, int]] = []

    def sign(req: Request, secret: str, msg_id: str, ts: int) -> Request:
        calls.append((secret, msg_id, ts))
        return Request(req.method, req.url, (*req.headers, ("webhook-signature", f"v1,{secret[:2]}")), req.body)

    def encode(ev: Any, sub: Subscription) -> Request | None:
        req = fake_encode(ev, sub)
        assert req is not None
        return Request(req.method, req.url, (*req.headers, ("Authorization", "Basic dTpwdw==")), req.body)

    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path, sign=sign) as e:
            e.accepter._encode = encode  # a dialect that adds Basic auth
            url = rx.url("/h?token=s3cret&x=1").replace("http://", "http://u:pw@")
            await e.subscribe(make_sub("s", url, secret="whsec_k", auth=BasicAuth("u", "pw")))
            ev = make_event("A", 1)
            await e.accepter.accept([ev])
            await e.settle()
            [hit] = rx.hits
            assert hit.headers["webhook-signature"] == "v1,wh"
            assert calls[0][:2] == ("whsec_k", ev.id)
            [d] = (await e.store.list_deliveries(DeliveryQuery())).items
            got = await e.store.get_delivery(d.id)
            assert got is not None
            [a] = got[1]
            assert a.status == 200
            assert a.body == b"ok"
            assert "pw" not in a.url
            assert "s3cret" not in a.url
            assert a.url.endswith("/h?token=%5Bredacted%5D&x=1")
            assert dict(a.headers)["Authorization"] == "[redacted]"
            assert dict(a.headers)["webhook-id"] == ev.id
            assert a.duration_ms >= 0

    run(main())


def test_live_events_expire(tmp_path: Path) -> None:
    policy = RetryPolicy(schedule=(0.3,) * 5, jitter=0.0, lifetimes={"call.ringing": 0.5})

    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path, policy=policy) as e:
            rx.script["/h"] = lambda n, b: Reply(503) if b["type"] == "call.ringing" else Reply()
            await e.subscribe(make_sub("s", rx.url("/h")))
            await e.accepter.accept([make_event("A", 1, EventType.CALL_RINGING), make_event("A", 2)])
            await e.settle()
            assert seqs(rx.delivered("/h"), "A") == [2]
            expired = (await e.store.list_deliveries(DeliveryQuery(status=Status.EXPIRED))).items
            assert len(expired) == 1
            assert "lifetime" in expired[0].last_error

    run(main())


@pytest.mark.parametrize("allow_private", [True, False])
def test_outbound_address_policy(allow_private: bool) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            sender = HttpSender(allow_private=allow_private)
            try:
                req = Request("POST", rx.url("/h"), (), b"{}")
                if allow_private:
                    assert (await sender.send(req)).status == 200
                else:
                    from callhook.delivery.sender import SendError

                    with pytest.raises(SendError) as err:
                        await sender.send(req)
                    assert err.value.kind == "address"
                    with pytest.raises(SendError) as err:
                        await sender.send(Request("GET", f"http://localhost:{rx.port}/h"))
                    assert err.value.kind == "address"
            finally:
                await sender.close()

    run(main())


def test_steady_state_needs_no_claims_and_stop_gives_leases_back(tmp_path: Path) -> None:
    """New heads are fed by the commit that stored them, a call's next event by the
    commit that recorded the previous one: nothing is claimed back in steady state.
    Stopping gives back what was leased and not sent."""

    class CountingStore(SqliteStore):
        claimed = 0

        async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
            got = await super().claim(now, limit, lease)
            CountingStore.claimed += len(got)
            return got

    async def main() -> None:
        async with Receiver() as rx:
            store = CountingStore(str(tmp_path / "feed.db"))
            await store.open()
            sender = HttpSender(total_timeout=2.0)
            accepter = Accepter(store, fake_encode, policy=FAST, subscription_ttl=60)
            # feed_lag inf: the feed even when a loaded test machine makes the loop run late
            options = DispatcherOptions(poll_interval=0.05, feed_lag=math.inf)
            dispatcher = Dispatcher(store, sender, policy=FAST, encode=fake_encode, options=options)
            await store.put_subscription(make_sub("s", rx.url("/hook")), time.time())
            await dispatcher.start()
            try:
                for seq in range(1, 11):  # ten calls, ten events each, as the AMI reader accepts them
                    await accepter.accept([make_event(f"call{c}", seq) for c in range(10)])
                await rx.wait_for(lambda: len(rx.delivered("/hook")) == 100)
                assert CountingStore.claimed == 0
                for c in range(10):
                    assert seqs(rx.delivered("/hook"), f"call{c}") == list(range(1, 11))
                # a slow receiver: stop while calls still have events to go
                rx.script["/hook"] = lambda n, b: Reply(delay=0.3)
                for seq in range(11, 14):
                    await accepter.accept([make_event(f"call{c}", seq) for c in range(10)])
                await rx.wait_for(lambda: len(rx.hits) > 100)
            finally:
                await dispatcher.stop(grace=2.0)
                await accepter.close()
                await sender.close()
            counts = await store.counts()
            assert counts.inflight == 0  # every lease given back or finished
            assert counts.pending + len(rx.delivered("/hook")) - 100 == 30
            await store.close()

    run(main())


def test_arrival_ordering_sends_across_calls_in_acceptance_order(tmp_path: Path) -> None:
    """The default ("arrival"): as a PBX posting its own webhooks, one after the other in
    the order the events were accepted, across calls (agent 163's hang-up on the first
    call before the second call rings on 163) -- even when they all arrive in one burst."""

    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            await e.subscribe(make_sub("s", rx.url("/hook")))
            burst = [make_event("A", seq) for seq in range(1, 6)] + [make_event("B", seq) for seq in range(1, 4)]
            await e.accepter.accept(burst)
            await e.settle()
            got = [(b["call"], b["seq"]) for b in rx.delivered("/hook")]
            assert got == [("A", 1), ("A", 2), ("A", 3), ("A", 4), ("A", 5), ("B", 1), ("B", 2), ("B", 3)]

    run(main())


def test_call_ordering_sends_calls_in_parallel(tmp_path: Path) -> None:
    """``ordering = "call"``: each call in its own order, calls in parallel -- a slow call
    does not hold up the next one."""

    async def main() -> None:
        async with Receiver() as rx, engine(tmp_path) as e:
            rx.script["/hook"] = lambda n, body: Reply(delay=0.2) if body["call"] == "A" else Reply()
            await e.subscribe(make_sub("s", rx.url("/hook"), ordering="call"))
            await e.accepter.accept([make_event("A", seq) for seq in (1, 2, 3)] + [make_event("B", 1)])
            await e.settle()
            got = [(b["call"], b["seq"]) for b in rx.delivered("/hook")]
            assert got.index(("B", 1)) < got.index(("A", 1))  # B answered while A's first was slow
            assert [s for c, s in got if c == "A"] == [1, 2, 3]

    run(main())

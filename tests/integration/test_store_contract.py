"""The storage contract, run against every backend (memory, SQLite, PostgreSQL).

Times are synthetic (the store reads no clock), so nothing depends on the wall clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

from callhook.core.dialects.base import Request
from callhook.core.events import EventType
from callhook.core.subscription import BasicAuth
from callhook.store import open_store
from callhook.store.base import (
    Attempt,
    DeadReason,
    Delivery,
    DeliveryQuery,
    EventQuery,
    Finish,
    Lease,
    MissedMark,
    NewDelivery,
    NewEvent,
    Status,
    Store,
)

from delivery_kit import fake_encode, make_event, make_sub, with_store

T0 = 1_000_000.0


def item(
    sub_id: str,
    call: str,
    seq: int,
    *,
    tenant: str = "acme",
    expires_in: float | None = None,
    etype: EventType = EventType.CALL_ANSWERED,
) -> NewEvent:
    ev = make_event(call, seq, etype, tenant=tenant)
    req = fake_encode(ev, make_sub(sub_id, f"http://127.0.0.1:9/{sub_id}"))
    assert req is not None
    exp = None if expires_in is None else T0 + expires_in
    return NewEvent(ev, (NewDelivery(sub_id, tenant, call, req, T0, exp),))


def attempt(d_id: int, sub_id: str, at: float, status: int | None, ms: float = 5.0, error: str = "") -> Attempt:
    return Attempt(
        d_id,
        sub_id,
        at,
        "POST",
        "http://127.0.0.1:9/x",
        (("Content-Type", "application/json"),),
        status,
        b"resp",
        ms,
        error,
    )


def test_subscriptions_crud_and_secrets(store_url: str) -> None:
    async def body(store: Store) -> None:
        a = make_sub(
            "a",
            "http://x/a",
            tenant="t1",
            secret="whsec_abc",
            auth=BasicAuth("u", "pw"),
            events=frozenset({"call.ringing"}),
            headers={"X-Key": "1"},
        )
        b = make_sub("b", "http://x/b", tenant="t2")
        await store.put_subscription(a, T0)
        await store.put_subscription(b, T0)
        got = await store.get_subscription("a")
        assert got is not None
        assert got.secret == ""
        assert got.auth == BasicAuth("u", "")
        full = await store.get_subscription("a", with_secrets=True)
        assert full == a
        assert [s.id for s in await store.list_subscriptions()] == ["a", "b"]
        assert [s.id for s in await store.list_subscriptions(tenant="t2")] == ["b"]
        assert all(s.secret == "" for s in await store.list_subscriptions())
        assert await store.get_subscription("a", tenant="t2") is None
        await store.put_subscription(a.__class__(**{**_fields(a), "url": "http://x/a2"}), T0 + 1)
        assert (await store.get_subscription("a", with_secrets=True)).url == "http://x/a2"  # type: ignore[union-attr]
        assert await store.set_subscription_enabled("a", False, T0)
        assert (await store.get_subscription("a")).enabled is False  # type: ignore[union-attr]
        assert not await store.delete_subscription("a", tenant="t2")
        assert await store.delete_subscription("a", tenant="t1")
        assert await store.get_subscription("a") is None
        assert not await store.delete_subscription("a")

    with_store(store_url, body)


def _fields(sub: object) -> dict[str, object]:
    return {f: getattr(sub, f) for f in sub.__dataclass_fields__}  # type: ignore[attr-defined]


def test_only_group_heads_are_claimed_in_order(store_url: str) -> None:
    async def body(store: Store) -> None:
        items = [item("s", "c1", 1), item("s", "c1", 2), item("s", "c2", 1), item("s", "c1", 3), item("other", "c1", 1)]
        assert await store.append(items, T0) == 5
        first = await store.claim(T0, 100, 60)
        assert sorted((d.subscription_id, d.order_key) for d in first) == [("other", "c1"), ("s", "c1"), ("s", "c2")]
        assert all(d.status is Status.INFLIGHT and d.lease_id for d in first)
        assert await store.claim(T0, 100, 60) == []  # the rest wait behind their heads
        c1 = next(d for d in first if (d.subscription_id, d.order_key) == ("s", "c1"))
        assert c1.event_id == items[0].event.id
        assert c1.request == items[0].deliveries[0].request
        assert (
            await store.finish([Finish(c1.id, c1.lease_id, Status.DONE, attempt=attempt(c1.id, "s", T0, 200))], T0) == 1
        )
        nxt = await store.claim(T0, 100, 60)
        assert [d.event_id for d in nxt] == [items[1].event.id]
        # a dead head also lets the next one through
        await store.finish([Finish(nxt[0].id, nxt[0].lease_id, Status.DEAD, last_error="HTTP 404")], T0)
        assert [d.event_id for d in await store.claim(T0, 100, 60)] == [items[3].event.id]

    with_store(store_url, body)


def test_retry_keeps_the_head_until_due(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1), item("s", "c1", 2)], T0)
        [d] = await store.claim(T0, 10, 60)
        f = Finish(d.id, d.lease_id, Status.PENDING, T0 + 30, "HTTP 503", 503, attempt(d.id, "s", T0, 503))
        assert await store.finish([f], T0) == 1
        assert await store.claim(T0 + 29, 10, 60) == []  # neither the head nor the one behind it
        [again] = await store.claim(T0 + 30, 10, 60)
        assert again.id == d.id
        assert again.attempts == 1
        assert again.last_error == "HTTP 503"
        assert again.last_status == 503
        got = await store.get_delivery(d.id)
        assert got is not None
        assert [(a.status, a.body, a.headers) for a in got[1]] == [
            (503, b"resp", (("Content-Type", "application/json"),))
        ]

    with_store(store_url, body)


def test_deferral_counts_no_attempt(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1)], T0)
        [d] = await store.claim(T0, 10, 60)
        await store.finish([Finish(d.id, d.lease_id, Status.PENDING, T0 + 1)], T0)
        [d2] = await store.claim(T0 + 1, 10, 60)
        assert d2.attempts == 0

    with_store(store_url, body)


def test_leases(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1)], T0)
        [d] = await store.claim(T0, 10, 60)
        assert await store.requeue_expired_leases(T0 + 59) == 0
        assert await store.requeue_expired_leases(T0 + 61) == 1
        [d2] = await store.claim(T0 + 61, 10, 60)
        assert d2.id == d.id
        assert d2.lease_id != d.lease_id
        # the first worker's late answer is recorded but does not overwrite the second's work
        late = Finish(d.id, d.lease_id, Status.DONE, attempt=attempt(d.id, "s", T0 + 62, 200))
        assert await store.finish([late], T0 + 62) == 0
        got = await store.get_delivery(d.id)
        assert got is not None
        assert got[0].status is Status.INFLIGHT
        assert len(got[1]) == 1
        assert await store.finish([Finish(d.id, d2.lease_id, Status.DONE)], T0 + 63) == 1

    with_store(store_url, body)


def test_duplicate_events_are_skipped(store_url: str) -> None:
    async def body(store: Store) -> None:
        it = item("s", "c1", 1)
        assert await store.append([it], T0) == 1
        assert await store.append([it, item("s", "c1", 2)], T0) == 1
        assert await store.append([it, it], T0) == 0
        assert (await store.counts()).pending == 2

    with_store(store_url, body)


def test_encoding_failures_are_dead_on_arrival(store_url: str) -> None:
    async def body(store: Store) -> None:
        bad = item("s", "c1", 1)
        nd = bad.deliveries[0]
        bad = NewEvent(
            bad.event,
            (
                NewDelivery(
                    nd.subscription_id,
                    nd.tenant,
                    nd.order_key,
                    nd.request,
                    T0,
                    None,
                    Status.DEAD,
                    "encoding failed: boom",
                ),
            ),
        )
        await store.append([bad, item("s", "c1", 2)], T0)
        [d] = await store.claim(T0, 10, 60)
        assert d.event_id != bad.event.id  # the dead one does not block its group
        dead = await store.list_deliveries(DeliveryQuery(status=Status.DEAD))
        assert [x.last_error for x in dead.items] == ["encoding failed: boom"]

    with_store(store_url, body)


def test_retry_one_and_lifetime(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1, expires_in=300)], T0)
        [d] = await store.claim(T0, 10, 60)
        await store.finish([Finish(d.id, d.lease_id, Status.EXPIRED, last_error="lifetime over")], T0 + 400)
        assert not await store.retry_delivery(d.id, T0 + 500, tenant="someone-else")
        assert await store.retry_delivery(d.id, T0 + 500)
        assert not await store.retry_delivery(d.id, T0 + 500)  # already pending
        [again] = await store.claim(T0 + 500, 10, 60)
        assert again.id == d.id
        assert again.attempts == 0
        assert again.expires_at == T0 + 800

    with_store(store_url, body)


def test_retry_one_waits_for_the_current_head(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1), item("s", "c1", 2)], T0)
        [d1] = await store.claim(T0, 10, 60)
        await store.finish([Finish(d1.id, d1.lease_id, Status.DEAD, last_error="x")], T0)
        [d2] = await store.claim(T0, 10, 60)
        assert await store.retry_delivery(d1.id, T0)
        assert await store.claim(T0, 10, 60) == []  # one at a time per group
        await store.finish([Finish(d2.id, d2.lease_id, Status.DONE)], T0)
        assert [d.id for d in await store.claim(T0, 10, 60)] == [d1.id]

    with_store(store_url, body)


def test_replay(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1), item("s", "c1", 2), item("t", "c1", 1)], T0)
        await store.append([item("s", "c9", 1)], T0 + 100)
        for _ in range(3):
            for d in await store.claim(T0 + 200, 10, 60):
                await store.finish([Finish(d.id, d.lease_id, Status.DONE)], T0 + 200)
        assert (await store.counts()).backlog == 0
        n = await store.replay(T0 + 300, subscription_id="s", since=T0, until=T0 + 50)
        assert n == 2
        [r1] = await store.claim(T0 + 300, 10, 60)
        assert r1.replay_of is not None
        assert r1.order_key == "c1"
        assert r1.attempts == 0
        original = await store.get_delivery(r1.replay_of)
        assert original is not None
        assert original[0].request == r1.request
        await store.finish([Finish(r1.id, r1.lease_id, Status.DONE)], T0 + 300)
        [r2] = await store.claim(T0 + 300, 10, 60)
        assert r2.replay_of is not None
        assert r2.replay_of > r1.replay_of
        assert await store.replay(T0 + 300, tenant="nobody") == 0

    with_store(store_url, body)


def test_queries_and_paging(store_url: str) -> None:
    async def body(store: Store) -> None:
        items = [
            item(
                "s",
                f"c{i % 3}",
                i,
                tenant="t1" if i % 2 else "t2",
                etype=EventType.CALL_RECORD if i == 4 else EventType.CALL_ANSWERED,
            )
            for i in range(10)
        ]
        await store.append(items, T0)
        seen, cursor = [], None
        while True:
            page = await store.list_deliveries(
                DeliveryQuery(subscription_id="s", limit=4, before_id=int(cursor) if cursor else None)
            )
            seen += [d.id for d in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == sorted(seen, reverse=True)
        assert len(seen) == 10
        assert len((await store.list_deliveries(DeliveryQuery(tenant="t1"))).items) == 5
        by_call = await store.list_deliveries(DeliveryQuery(call_id="c1"))
        assert {d.order_key for d in by_call.items} == {"c1"}
        assert len(by_call.items) == 3
        one = await store.list_deliveries(DeliveryQuery(event_id=items[3].event.id))
        assert [d.event_id for d in one.items] == [items[3].event.id]
        assert (await store.list_deliveries(DeliveryQuery(since=T0 + 1))).items == []
        evs = await store.list_events(EventQuery(limit=6))
        assert [e.id for e in evs.items] == [i.event.id for i in reversed(items)][:6]
        assert evs.next_cursor
        rest = await store.list_events(EventQuery(limit=6, before_id=evs.next_cursor))
        assert len(rest.items) == 4
        assert rest.next_cursor is None
        cdrs = await store.list_events(EventQuery(type="call.record"))
        assert [e.id for e in cdrs.items] == [items[4].event.id]
        assert len((await store.list_events(EventQuery(tenant="t2", call_id="c0"))).items) == 2
        assert [e.seq for e in await store.call_events("c1")] == [1, 4, 7]
        assert items[1].event in await store.call_events("c1", tenant="t1")
        assert (await store.call_events("c1", tenant="nobody")) == []

    with_store(store_url, body)


def test_counts_stats_and_410(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.put_subscription(make_sub("s", "http://x/s"), T0)
        await store.append([item("s", f"c{i}", 1) for i in range(4)], T0)
        ds = await store.claim(T0, 10, 60)
        assert (await store.counts()).inflight == 4
        await store.finish(
            [
                Finish(ds[0].id, ds[0].lease_id, Status.DONE, attempt=attempt(ds[0].id, "s", T0 + 1, 200, 10)),
                Finish(ds[1].id, ds[1].lease_id, Status.DONE, attempt=attempt(ds[1].id, "s", T0 + 2, 204, 30)),
                Finish(
                    ds[2].id,
                    ds[2].lease_id,
                    Status.PENDING,
                    T0 + 60,
                    "connect: refused",
                    attempt=attempt(ds[2].id, "s", T0 + 3, None, 1, "connect: refused"),
                ),
                Finish(
                    ds[3].id,
                    ds[3].lease_id,
                    Status.DEAD,
                    last_error="410 Gone",
                    last_status=410,
                    attempt=attempt(ds[3].id, "s", T0 + 4, 410, 2),
                    disable_subscription="s",
                ),
            ],
            T0 + 5,
        )
        c = await store.counts()
        assert (c.pending, c.inflight, c.dead, c.expired, c.backlog) == (1, 0, 1, 0, 1)
        st = await store.subscription_stats("s", T0)
        assert st.attempts == 4
        assert st.successes == 2
        assert st.success_rate == 0.5
        assert st.p50_ms == 2
        assert st.p99_ms == 30
        assert st.last_error == "HTTP 410"
        assert st.last_error_at == T0 + 4
        assert (await store.subscription_stats("s", T0 + 3.5)).attempts == 1
        sub = await store.get_subscription("s")
        assert sub is not None
        assert sub.enabled is False

    with_store(store_url, body)


def test_replay_of_one_call(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1), item("s", "c2", 1), item("t", "c1", 2), item("s", "c1", 3)], T0)
        for _ in range(3):
            for d in await store.claim(T0, 10, 60):
                await store.finish([Finish(d.id, d.lease_id, Status.DONE)], T0)
        assert await store.replay(T0 + 10, subscription_id="s", call_id="c1") == 2
        assert await store.replay(T0 + 10, call_id="nothing") == 0
        replayed = [d for d in (await store.list_deliveries(DeliveryQuery(status=Status.PENDING))).items]
        assert {(d.subscription_id, d.order_key) for d in replayed} == {("s", "c1")}
        assert all(d.replay_of is not None for d in replayed)

    with_store(store_url, body)


def test_expedite_a_waiting_retry(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1, tenant="t1")], T0)
        [d] = await store.claim(T0, 10, 60)
        assert not await store.expedite(d.id, T0)  # inflight: not now
        await store.finish([Finish(d.id, d.lease_id, Status.PENDING, T0 + 600, "HTTP 500", 500)], T0)
        assert await store.claim(T0 + 1, 10, 60) == []
        assert not await store.expedite(d.id, T0 + 1, tenant="t2")
        assert await store.expedite(d.id, T0 + 1, tenant="t1")
        [again] = await store.claim(T0 + 1, 10, 60)
        assert (again.id, again.last_error) == (d.id, "HTTP 500")
        await store.finish([Finish(d.id, again.lease_id, Status.DONE)], T0 + 1)
        assert not await store.expedite(d.id, T0 + 2)  # done
        assert not await store.expedite(12345, T0 + 2)

    with_store(store_url, body)


def test_counts_per_subscription(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.append([item("s", "c1", 1), item("s", "c2", 1), item("t", "c3", 1)], T0)
        ds = {d.order_key: d for d in await store.claim(T0, 10, 60)}
        await store.finish([Finish(ds["c2"].id, ds["c2"].lease_id, Status.DEAD, last_error="x")], T0)
        s, t = await store.counts(subscription_id="s"), await store.counts(subscription_id="t")
        assert (s.inflight, s.dead, t.inflight, t.dead) == (1, 1, 1, 0)
        assert (await store.counts(subscription_id="nobody")).backlog == 0

    with_store(store_url, body)


def test_missed_marks(store_url: str) -> None:
    async def body(store: Store) -> None:
        assert await store.list_missed_marks() == []
        await store.put_missed_mark(MissedMark("acme", "777888999", T0, "Jana"))
        await store.put_missed_mark(MissedMark("globex", "777888999", T0 + 1, "Olga"))
        await store.put_missed_mark(MissedMark("acme", "777888999", T0 + 5, "Petr Svoboda (ÚČ)"))
        assert await store.list_missed_marks(tenant="acme") == [
            MissedMark("acme", "777888999", T0 + 5, "Petr Svoboda (ÚČ)")
        ]
        assert [(m.tenant, m.by) for m in await store.list_missed_marks()] == [
            ("acme", "Petr Svoboda (ÚČ)"),
            ("globex", "Olga"),
        ]
        assert await store.list_missed_marks(tenant="nobody") == []

    with_store(store_url, body)


def test_wakeup_on_append(store_url: str) -> None:
    async def body(store: Store) -> None:
        import asyncio
        import time

        waiter = asyncio.create_task(store.wait_for_work(5.0))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await store.append([item("s", "c1", 1)], T0)
        await waiter
        assert time.monotonic() - t0 < 2.0

    with_store(store_url, body)


def test_record_applies_a_batch_and_leases_the_successors(store_url: str) -> None:
    async def body(store: Store) -> None:
        # five calls of three events each, and one call behind a retry
        items = [item("s", f"c{c}", seq) for seq in (1, 2, 3) for c in range(5)]
        await store.append([*items, item("s", "r", 1), item("s", "r", 2)], T0)
        heads = await store.claim(T0, 100, 60)
        assert len(heads) == 6
        assert all(d.event is not None and d.event.id == d.event_id for d in heads)  # handed out with the event
        by_call = {d.order_key: d for d in heads}
        lease = Lease("mine", T0 + 60)
        done = [
            Finish(by_call[f"c{c}"].id, by_call[f"c{c}"].lease_id, Status.DONE, attempt=attempt(0, "s", T0, 200))
            for c in range(5)
        ]
        retry = by_call["r"]
        batch = [*done, Finish(retry.id, retry.lease_id, Status.PENDING, T0 + 30, "HTTP 503", 503)]
        rec = await store.record(batch, T0, lease)
        assert rec.applied == 6
        # each ended call's next event, leased to the caller, with its event; not the retried call's
        assert sorted((d.order_key, d.event.seq if d.event else 0) for d in rec.successors) == [
            (f"c{c}", 2) for c in range(5)
        ]
        assert all(d.status is Status.INFLIGHT and d.lease_id == "mine" for d in rec.successors)
        assert await store.claim(T0, 100, 60) == []  # leased: nobody else can claim them
        # an outcome under a lost lease changes nothing and promotes nothing
        stale = await store.record([Finish(done[0].delivery_id, "not-the-lease", Status.DONE)], T0, lease)
        assert (stale.applied, stale.successors) == (0, [])
        # without a lease the successors are left pending for a claim
        rec2 = await store.record([Finish(d.id, d.lease_id, Status.DONE) for d in rec.successors], T0)
        assert (rec2.applied, rec2.successors) == (5, [])
        third = await store.claim(T0, 100, 60)
        assert sorted((d.order_key, d.event.seq if d.event else 0) for d in third) == [(f"c{c}", 3) for c in range(5)]

    with_store(store_url, body)


class ListFeed:
    def __init__(self, room: int) -> None:
        self.free = room
        self.got: list[Delivery] = []

    def room(self) -> int:
        return self.free

    def lease(self, now: float) -> Lease:
        return Lease("feed", now + 60)

    def take(self, deliveries: Sequence[Delivery]) -> None:
        self.got.extend(deliveries)
        self.free -= len(deliveries)


def test_append_feeds_due_heads_to_the_attached_feed(store_url: str) -> None:
    async def body(store: Store) -> None:
        feed = ListFeed(room=2)
        store.attach(feed)
        items = [item("s", "a", 1), item("s", "a", 2), item("s", "b", 1), item("s", "c", 1)]
        assert await store.append(items, T0) == 4
        # the first two heads, leased to the feed with their events; "a" 2 is no head
        assert [(d.order_key, d.event_id) for d in feed.got] == [("a", items[0].event.id), ("b", items[2].event.id)]
        assert all(d.status is Status.INFLIGHT and d.lease_id == "feed" and d.event for d in feed.got)
        # the head the feed had no room for is left for a claim
        assert [d.event_id for d in await store.claim(T0, 10, 60)] == [items[3].event.id]
        store.attach(None)
        late = item("s", "d", 1)
        await store.append([late], T0)
        assert len(feed.got) == 2  # detached: nothing more handed over
        # what the feed got is a real lease: its outcome is applied like a claimed one's,
        # and promotes the next of its group
        assert await store.finish([Finish(feed.got[0].id, "feed", Status.DONE)], T0) == 1
        assert {d.event_id for d in await store.claim(T0, 10, 60)} == {items[1].event.id, late.event.id}

    with_store(store_url, body)


def test_concurrent_claims_from_two_connections_never_overlap(store_url: str) -> None:
    """Two stores on one database (two SQLite connections, two PostgreSQL pools) claim
    at the same time: every head once, never a delivery behind its head."""

    async def main() -> None:
        a, b = open_store(store_url), open_store(store_url)
        await a.open()
        if store_url.startswith("memory"):
            b = a  # one process, one store: two claimers on it
        else:
            await b.open()  # SQLite resets inflight at open: both open before any claim
        try:
            items = [item("s", f"c{c}", seq) for seq in (1, 2) for c in range(300)]
            await a.append(items, T0)
            heads = {i.event.id for i in items[:300]}

            got_a: list[Delivery] = []
            got_b: list[Delivery] = []
            while True:  # each round, both claims are outstanding at the same time
                batch_a, batch_b = await asyncio.gather(a.claim(T0, 16, 60), b.claim(T0, 16, 60))
                if not batch_a and not batch_b:
                    break
                got_a += batch_a
                got_b += batch_b
            ids_a, ids_b = {d.event_id for d in got_a}, {d.event_id for d in got_b}
            assert not ids_a & ids_b
            assert ids_a | ids_b == heads
            assert len(got_a) + len(got_b) == 300
            if not store_url.startswith("memory"):
                assert got_a  # both really claimed
                assert got_b
        finally:
            await a.close()
            if b is not a:
                await b.close()

    asyncio.run(main())


def test_promotion_follows_each_call_through_a_long_backlog(store_url: str) -> None:
    """Calls with forty events queued each: every recorded outcome promotes its call's
    oldest remaining event (one probe per call, not a read of the whole backlog), a
    failed-at-accept event in the middle is passed over, and a store that did not append
    the events (another process) hands the successors out with their events too."""

    async def main() -> None:
        a, b = open_store(store_url), open_store(store_url)
        await a.open()
        if store_url.startswith("memory"):
            b = a
        else:
            await b.open()
        try:
            calls = ("x", "y", "z")
            items = [item("s", c, seq) for seq in range(1, 41) for c in calls]
            dead = item("s", "y", 41)  # no message for it: final at accept
            dead = NewEvent(dead.event, (replace(dead.deliveries[0], status=Status.DEAD, last_error="no message"),))
            await a.append([*items, dead, item("s", "y", 42)], T0)
            lease = Lease("mine", T0 + 60)
            sent: dict[str, list[int]] = {c: [] for c in calls}
            current = await b.claim(T0, 10, 60)
            while current:
                for d in current:
                    assert d.event is not None
                    assert d.event.id == d.event_id  # read back where the store did not append it
                    sent[d.order_key].append(d.event.seq)
                rec = await b.record(
                    [Finish(d.id, d.lease_id, Status.DONE, attempt=attempt(d.id, "s", T0, 200)) for d in current],
                    T0,
                    lease,
                )
                assert rec.applied == len(current)
                current = rec.successors
            assert sent == {"x": list(range(1, 41)), "y": [*range(1, 41), 42], "z": list(range(1, 41))}
            assert (await a.counts()).backlog == 0
        finally:
            await a.close()
            if b is not a:
                await b.close()

    asyncio.run(main())


def test_a_batch_of_outcomes_keeps_bytes_and_text_exactly(store_url: str) -> None:
    """Outcomes travel to the database as one document: response bodies that are no
    UTF-8, text with quotes, backslashes and non-ASCII, and the request as sent come
    back byte for byte."""

    async def body(store: Store) -> None:
        await store.append([item("s", "c", 1), item("s", "d", 1)], T0)
        first, second = await store.claim(T0, 10, 60)
        raw = bytes(range(256))
        odd = 'quote " backslash \\ tab \t newline \n ünïcødé ☎'
        sent = Request("PUT", "http://127.0.0.1:9/new?q=ü", (("X-Odd", odd), ("Content-Type", "x/y")), raw)
        hit = Attempt(first.id, "s", T0 + 1, "PUT", sent.url, sent.headers, 502, raw, 12.5, odd)
        batch = [
            Finish(first.id, first.lease_id, Status.PENDING, T0 + 30, odd, 502, hit, sent=sent),
            Finish(second.id, second.lease_id, Status.DEAD, last_error="gave up", reason=DeadReason.GAVE_UP),
        ]
        assert await store.finish(batch, T0 + 1) == 2
        got = await store.get_delivery(first.id)
        assert got is not None
        d, attempts = got
        assert (d.status, d.next_at, d.last_error, d.last_status, d.attempts) == (Status.PENDING, T0 + 30, odd, 502, 1)
        assert d.request == sent
        assert len(attempts) == 1
        a = attempts[0]
        assert (a.body, a.error, a.headers, a.url, a.status, a.duration_ms) == (
            raw,
            odd,
            sent.headers,
            sent.url,
            502,
            12.5,
        )
        other = await store.get_delivery(second.id)
        assert other is not None
        assert (other[0].status, other[0].last_error, other[1]) == (Status.DEAD, "gave up", [])

    with_store(store_url, body)

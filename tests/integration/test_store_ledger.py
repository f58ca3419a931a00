"""The loss ledger against every backend: each routed delivery is in exactly one
bucket, dead split by reason, a deleted subscription's open deliveries closed at once."""

from __future__ import annotations

from test_store_contract import T0, attempt, item

from callhook.store.base import DeadReason, DeliveryQuery, Finish, LedgerRow, Status, Store
from callhook.store.ledger import total

from delivery_kit import make_sub, with_store


def test_ledger_splits_every_delivery_and_dead_by_reason(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.put_subscription(make_sub("a", "http://127.0.0.1:9/a"), T0)
        await store.put_subscription(make_sub("b", "http://127.0.0.1:9/b", tenant="other"), T0)
        # a: 5 calls of one event each; b: one call of three events
        await store.append([item("a", f"c{i}", 1) for i in range(5)], T0)
        await store.append([item("b", "k", s, tenant="other") for s in (1, 2, 3)], T0)
        assert await store.ledger() == [LedgerRow("a", "acme", pending=5), LedgerRow("b", "other", pending=3)]
        heads = {d.order_key: d for d in await store.claim(T0, 100, 60)}
        assert len(heads) == 6  # 5 of a, the head of b's call
        done = Finish(heads["c0"].id, heads["c0"].lease_id, Status.DONE, attempt=attempt(heads["c0"].id, "a", T0, 200))
        gave_up = Finish(heads["c1"].id, heads["c1"].lease_id, Status.DEAD, last_error="HTTP 404", last_status=404)
        disabled = Finish(
            heads["c2"].id, heads["c2"].lease_id, Status.DEAD, last_error="off", reason=DeadReason.DISABLED
        )
        expired = Finish(heads["c3"].id, heads["c3"].lease_id, Status.EXPIRED, last_error="lifetime over")
        assert await store.finish([done, gave_up, disabled, expired], T0 + 1) == 4
        # c4 of a and b's head stay inflight
        [a] = await store.ledger(subscription_id="a")
        assert (a.delivered, a.dead_gave_up, a.dead_disabled, a.dead_deleted, a.expired, a.inflight, a.pending) == (
            1,
            1,
            1,
            0,
            1,
            1,
            0,
        )
        assert a.routed == 5
        assert a.dead == 2
        # a dead letter retried leaves the dead bucket
        assert await store.retry_delivery(heads["c1"].id, T0 + 2)
        [a] = await store.ledger(subscription_id="a")
        assert (a.dead_gave_up, a.pending, a.routed) == (0, 1, 5)
        # a tenant sees its own
        assert [r.subscription_id for r in await store.ledger(tenant="other")] == ["b"]
        t = total(await store.ledger())
        assert t.routed == 8
        assert t.routed == t.delivered + t.pending + t.inflight + t.dead + t.expired

    with_store(store_url, body)


def test_deleting_a_subscription_closes_its_deliveries_at_once(store_url: str) -> None:
    async def body(store: Store) -> None:
        await store.put_subscription(make_sub("gone", "http://127.0.0.1:9/g"), T0)
        await store.put_subscription(make_sub("kept", "http://127.0.0.1:9/k"), T0)
        await store.append([item("gone", "c1", s) for s in (1, 2, 3)] + [item("gone", "c2", 1)], T0)
        await store.append([item("kept", "c1", 1)], T0)
        claimed = {(d.subscription_id, d.order_key): d for d in await store.claim(T0, 100, 60)}
        first = claimed[("gone", "c1")]
        assert await store.finish([Finish(first.id, first.lease_id, Status.DONE)], T0 + 1) == 1
        # c1's seq 2 is head now (pending), seq 3 behind it, c2's inflight
        assert await store.delete_subscription("gone", now=T0 + 5)
        [g] = await store.ledger(subscription_id="gone")
        assert (g.delivered, g.dead_deleted, g.pending, g.inflight, g.dead_gave_up) == (1, 3, 0, 0, 0)
        assert g.routed == 4
        # the outcome of a send that was in flight no longer applies
        c2 = claimed[("gone", "c2")]
        assert await store.finish([Finish(c2.id, c2.lease_id, Status.DONE)], T0 + 6) == 0
        assert await store.claim(T0 + 10, 100, 60) == []  # nothing of it left to send
        page = await store.list_deliveries(DeliveryQuery(subscription_id="gone", status=Status.DEAD))
        assert {d.last_error for d in page.items} == {"subscription deleted"}
        assert all(d.finished_at == T0 + 5 for d in page.items)
        [k] = await store.ledger(subscription_id="kept")
        assert (k.inflight, k.dead) == (1, 0)  # another subscription is untouched

    with_store(store_url, body)


def test_a_subscriptions_limits_are_stored(store_url: str) -> None:
    async def body(store: Store) -> None:
        sub = make_sub("lim", "http://127.0.0.1:9/l", limit_concurrency=3, limit_rps=2.5, limit_burst=7)
        await store.put_subscription(sub, T0)
        got = await store.get_subscription("lim", with_secrets=True)
        assert got == sub
        assert (got.limit_concurrency, got.limit_rps, got.limit_burst) == (3, 2.5, 7)

    with_store(store_url, body)

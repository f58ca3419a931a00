"""Disable notices against real receivers on 127.0.0.1 and a real SQLite store: a 410
Gone, or failing for the configured time, disables a webhook and sends
``webhook.disabled`` to the admin's webhooks that ask for it -- only to those."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

from test_dispatcher import Engine, run

from callhook.core import dialects
from callhook.core.retry import RetryPolicy
from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.sender import HttpSender
from callhook.store import open_store
from callhook.store.base import EventQuery

from delivery_kit import Receiver, Reply, fake_encode, make_event, make_sub


@contextlib.asynccontextmanager
async def engine(tmp_path: Path, disable_after: float = 0.0) -> AsyncIterator[Engine]:
    store = open_store(str(tmp_path / "n.db"))
    await store.open()
    sender = HttpSender(total_timeout=2.0, connect_timeout=1.0)
    policy = RetryPolicy(schedule=(0.1,) * 40, jitter=0.0)
    accepter = Accepter(store, fake_encode, policy=policy, subscription_ttl=60)
    dispatcher = Dispatcher(
        store,
        sender,
        policy=policy,
        encode=dialects.encode,  # the real encoders: the notice in callhook's own JSON
        options=DispatcherOptions(poll_interval=0.05, subscription_ttl=0.05, disable_after=disable_after),
    )
    await dispatcher.start()
    try:
        yield Engine(store, accepter, dispatcher)
    finally:
        await dispatcher.stop(grace=2.0)
        await accepter.close()
        await sender.close()
        await store.close()


def _listener(url: str, tenant: str = "", events: frozenset[str] = frozenset({"webhook.disabled"})) -> Subscription:
    return Subscription(
        id=f"listen-{tenant or 'admin'}", url=url, dialect=Dialect.CALLHOOK, tenant=tenant, events=events
    )


def test_a_410_disables_and_notifies_the_admins_listeners_only(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as crm, Receiver() as ops, engine(tmp_path) as e:
            crm.script["/h"] = lambda n, b: Reply(410)
            await e.subscribe(
                make_sub("gone", crm.url("/h"), tenant="acme"),
                _listener(ops.url("/admin")),
                _listener(ops.url("/tenant"), tenant="acme"),  # a tenant's webhook: no notice
                Subscription(id="all", url=ops.url("/all"), dialect=Dialect.CALLHOOK),  # did not ask for it
            )
            # five calls: their first events are in flight at once, all answered 410
            await e.accepter.accept([make_event(f"c{i}", 1) for i in range(5)])
            await ops.wait_for(lambda: bool(ops.delivered("/admin")), within=10)
            await e.settle()
            [notice] = ops.delivered("/admin")  # one notice for the one disable
            assert notice["type"] == "webhook.disabled"
            assert notice["variables"]["subscription_id"] == "gone"
            assert notice["variables"]["subscription_tenant"] == "acme"
            assert notice["variables"]["reason"] == "410 Gone"
            assert notice["variables"]["url"] == crm.url("/h")
            assert {b["type"] for b in ops.delivered("/all")} == {"call.answered"}  # the events, not the notice
            assert ops.delivered("/tenant") == []
            sub = await e.store.get_subscription("gone")
            assert sub is not None
            assert sub.enabled is False
            stored = await e.store.list_events(EventQuery(type="webhook.disabled"))
            assert [ev.variables["subscription_id"] for ev in stored.items] == ["gone"]

    run(main())


def test_failing_for_the_configured_time_disables_with_a_notice(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as crm, Receiver() as ops, engine(tmp_path, disable_after=0.25) as e:
            crm.script["/h"] = lambda n, b: Reply(503)
            await e.subscribe(make_sub("flaky", crm.url("/h")), _listener(ops.url("/admin")))
            t0 = time.time()
            await e.accepter.accept([make_event("c1", 1)])
            await ops.wait_for(lambda: bool(ops.delivered("/admin")), within=15)
            [notice] = ops.delivered("/admin")
            assert notice["variables"]["subscription_id"] == "flaky"
            assert notice["variables"]["reason"].startswith("failing since ")
            since = notice["variables"]["failing_since"]
            assert notice["variables"]["reason"] == f"failing since {since}"
            sub = await e.store.get_subscription("flaky")
            assert sub is not None
            assert sub.enabled is False
            # not before the configured time (reached before the 5th failure opens the circuit)
            assert time.time() - t0 >= 0.25
            assert len(crm.hits) >= 2  # it failed more than once first

    run(main())


def test_a_success_resets_the_failure_run(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as crm, Receiver() as ops, engine(tmp_path, disable_after=0.6) as e:
            # fails, then answers 2xx every third request: never 0.6 s without a success
            crm.script["/h"] = lambda n, b: Reply(200 if n % 3 == 0 else 503)
            await e.subscribe(make_sub("ok-ish", crm.url("/h")), _listener(ops.url("/admin")))
            await e.accepter.accept([make_event(f"c{i}", 1) for i in range(6)])
            await e.settle(within=20)
            sub = await e.store.get_subscription("ok-ish")
            assert sub is not None
            assert sub.enabled is True
            assert ops.delivered("/admin") == []

    run(main())

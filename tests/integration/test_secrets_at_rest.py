"""Secrets at rest (issue 13): sealed with Fernet before any backend sees them, on every backend."""

from __future__ import annotations

import asyncio
import base64
import os
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from callhook.config import ConfigError, load
from callhook.core.dialects.base import Request
from callhook.core.subscription import BasicAuth, Subscription
from callhook.store import open_store
from callhook.store.base import (
    Attempt,
    DeliveryQuery,
    Finish,
    Lease,
    NewDelivery,
    NewEvent,
    Status,
    StoreError,
)
from callhook.store.sealed import PREFIX, SealedStore, Sealer

from delivery_kit import make_event, make_sub

KEY_OLD, KEY_NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SIGNING = "whsec_" + base64.b64encode(b"at-rest-signing-key-0123456789").decode()
SECRETS = ("url-pass-7731", "q-token-5512", "basic-pw-9921", SIGNING, "hdr-key-4410", "tpl-tok-8812")


def _sub() -> Subscription:
    return make_sub(
        "s1",
        "https://crm:url-pass-7731@crm.example/hook?token=q-token-5512&x=1",
        auth=BasicAuth("crm", "basic-pw-9921"),
        secret=SIGNING,
        headers={"X-Api-Key": "hdr-key-4410", "X-Crm": "plain-value"},
        url_template="https://is.example/{event}?apikey=tpl-tok-8812",
    )


def _run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


def test_every_secret_is_sealed_in_the_store_and_opened_on_the_way_out(store_url: str) -> None:
    async def body() -> None:
        inner = open_store(store_url)
        store = SealedStore(inner, Sealer([KEY_NEW]))
        await store.open()
        try:
            sub = _sub()
            await store.put_subscription(sub, 1.0)
            raw = await inner.get_subscription("s1", with_secrets=True)
            assert raw is not None
            stored = repr(raw)
            for s in SECRETS:
                assert s not in stored, s
            assert raw.secret.startswith(PREFIX)
            assert raw.headers["X-Crm"].startswith(PREFIX)  # every configured header value
            assert await store.get_subscription("s1", with_secrets=True) == sub
            assert (await store.list_subscriptions(with_secrets=True))[0] == sub
            public = await store.get_subscription("s1")
            assert public is not None
            assert (public.url, public.secret) == (sub.url, "")

            ev = make_event("c1", 1)
            req = Request(
                "POST",
                sub.url,
                (("Content-Type", "application/json"), ("Authorization", "Basic basic-pw-9921")),
                b"{}",
            )
            await store.append([NewEvent(ev, (NewDelivery("s1", "acme", "c1", req, 1.0),))], 1.0)
            raw_page = await inner.list_deliveries(DeliveryQuery())
            for s in ("url-pass-7731", "q-token-5512", "basic-pw-9921"):
                assert s not in repr(raw_page.items[0].request), s
            claimed = await store.claim(2.0, 10, 30.0)
            assert [d.request for d in claimed] == [req]
            found = await store.get_delivery(claimed[0].id)
            assert found is not None
            assert found[0].request == req
        finally:
            await store.close()
        if not store_url.startswith(("memory:", "postgres")):
            data = b"".join(p.read_bytes() for p in Path(store_url).parent.glob(Path(store_url).name + "*"))
            for s in SECRETS:
                assert s.encode() not in data, s

    _run(body())


class _Feed:
    """The local dispatcher as the store's feed sees it: takes what the commits lease to it."""

    def __init__(self) -> None:
        self.taken: list[Any] = []

    def room(self) -> int:
        return 100

    def lease(self, now: float) -> Lease:
        return Lease("feed-lease", now + 30.0)

    def take(self, deliveries: Any) -> None:
        self.taken.extend(deliveries)


def test_the_feed_and_recorded_outcomes_keep_secrets_sealed(store_url: str) -> None:
    """Deliveries handed to the dispatcher straight from the commit (the feed), the
    successors a recorded outcome leases back, and the request as it was sent (kept with
    the delivery) pass the sealer too: opened for the dispatcher, sealed in the store."""

    async def body() -> None:
        inner = open_store(store_url)
        store = SealedStore(inner, Sealer([KEY_NEW]))
        await store.open()
        feed = _Feed()
        store.attach(feed)
        try:
            sub = _sub()
            await store.put_subscription(sub, 1.0)
            req = Request("POST", sub.url, (("Authorization", "Basic basic-pw-9921"),), b"{}")
            first, second = make_event("c1", 1), make_event("c1", 2)
            await store.append(
                [NewEvent(ev, (NewDelivery("s1", "acme", "c1", req, 1.0),)) for ev in (first, second)], 1.0
            )
            assert [d.request for d in feed.taken] == [req], "the feed hands the head over opened"
            head = feed.taken[0]
            sent = Request("POST", sub.url, (("Authorization", "Basic new-pw-6650"),), b"{}")
            attempt = Attempt(head.id, "s1", 2.0, "POST", "https://crm.example/hook", (), 200, b"ok", 3.0)
            done = await store.record(
                [Finish(head.id, head.lease_id, Status.DONE, attempt=attempt, sent=sent)], 2.0, Lease("l2", 60.0)
            )
            assert [d.request for d in done.successors] == [req], "successors come back opened"
            raw = (await inner.list_deliveries(DeliveryQuery())).items
            for s in ("url-pass-7731", "q-token-5512", "basic-pw-9921", "new-pw-6650"):
                assert all(s not in repr(d.request) for d in raw), s
            found = await store.get_delivery(head.id)
            assert found is not None
            assert found[0].request == sent, "the delivery shows what was really sent"
        finally:
            await store.close()

    _run(body())


def test_rotation_and_wrong_or_missing_keys(tmp_path: Path) -> None:
    url = str(tmp_path / "r.db")

    async def body() -> None:
        old = SealedStore(open_store(url), Sealer([KEY_OLD]))
        await old.open()
        await old.put_subscription(_sub(), 1.0)
        await old.close()
        for keys, why in (([KEY_NEW], "not in CALLHOOK_SECRET_KEYS"), ([], "no key is configured")):
            s = SealedStore(open_store(url), Sealer(keys))
            await s.open()
            with pytest.raises(StoreError, match=why):
                await s.list_subscriptions(with_secrets=True)
            await s.close()
        both = SealedStore(open_store(url), Sealer([KEY_NEW, KEY_OLD]))
        await both.open()
        assert await both.rotate(2.0) == 1
        await both.close()
        new = SealedStore(open_store(url), Sealer([KEY_NEW]))
        await new.open()
        assert await new.get_subscription("s1", with_secrets=True) == _sub()
        await new.close()

    _run(body())


def test_a_database_written_in_clear_is_read_and_then_sealed_by_rotate(tmp_path: Path) -> None:
    url = str(tmp_path / "c.db")

    async def body() -> None:
        plain = SealedStore(open_store(url), Sealer([]))
        await plain.open()
        await plain.put_subscription(_sub(), 1.0)
        with pytest.raises(StoreError, match="no key"):
            await plain.rotate(2.0)
        await plain.close()
        keyed = SealedStore(open_store(url), Sealer([KEY_NEW]))
        await keyed.open()
        assert await keyed.get_subscription("s1", with_secrets=True) == _sub()
        assert await keyed.rotate(2.0) == 1
        raw = await keyed.inner.get_subscription("s1", with_secrets=True)
        assert raw is not None
        assert raw.secret.startswith(PREFIX)
        await keyed.close()

    _run(body())


def test_keys_are_checked_at_load_without_echoing_them() -> None:
    bad = "not-a-fernet-key-but-secret"
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key") as info:
        load({}, {"CALLHOOK_SECRET_KEYS": f"{KEY_NEW},{bad}"})
    assert bad not in str(info.value)
    cfg = load({}, {"CALLHOOK_SECRET_KEYS": f" {KEY_NEW} , {KEY_OLD}"})
    assert cfg.extra["secret_keys"] == [KEY_NEW, KEY_OLD]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")} | env
    return subprocess.run(
        [sys.executable, "-m", "callhook", *args], capture_output=True, text=True, env=full, timeout=60, check=False
    )


def test_the_rotate_command(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"

    async def seed() -> None:
        s = SealedStore(open_store(str(db)), Sealer([KEY_OLD]))
        await s.open()
        await s.put_subscription(_sub(), 1.0)
        await s.close()

    _run(seed())
    key = _cli("secrets", "new-key", env={})
    assert key.returncode == 0
    Fernet(key.stdout.strip())  # a usable key
    none = _cli("secrets", "rotate", "--db", str(db), env={})
    assert none.returncode == 2
    assert "CALLHOOK_SECRET_KEYS" in none.stderr
    wrong = _cli("secrets", "rotate", "--db", str(db), env={"CALLHOOK_SECRET_KEYS": KEY_NEW})
    assert wrong.returncode == 1
    assert "not in CALLHOOK_SECRET_KEYS" in wrong.stderr
    ok = _cli("secrets", "rotate", "--db", str(db), env={"CALLHOOK_SECRET_KEYS": f"{KEY_NEW},{KEY_OLD}"})
    assert ok.returncode == 0, ok.stderr
    assert "1 subscription" in ok.stdout
    for out in (ok.stdout + ok.stderr, wrong.stdout + wrong.stderr):
        for s in (*SECRETS, KEY_NEW, KEY_OLD):
            assert s not in out

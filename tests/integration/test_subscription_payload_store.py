"""Schema 8 on every backend: masking, list filters, the template and the rotation's
previous secret are stored and read back; the previous secret and the masking key are
sealed at rest like the secret (issue 15)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography.fernet import Fernet

from callhook.core import dialects
from callhook.core.subscription import Dialect, Filters, Masking, Subscription
from callhook.store import open_store
from callhook.store.sealed import PREFIX, SealedStore, Sealer
from callhook.templating import build, sample_event

PREVIOUS = "whsec_cHJldmlvdXMtc2lnbmluZy1rZXktMDEyMzQ1Njc4OQ=="
MASK_KEY = "mask-key-5519-abcdefghijklmnopqrstuvwxyz"


def _sub() -> Subscription:
    return Subscription(
        id="s1",
        url="https://crm.example/hook",
        dialect=Dialect.TEMPLATE,
        secret="whsec_" + "A" * 32,
        previous_secret=PREVIOUS,
        previous_secret_until=1_900_000_000.5,
        masking=Masking(frozenset({"caller", "cdr"}), "hash", 4, MASK_KEY),
        filters=Filters(
            queue="sales",
            queues=frozenset({"support"}),
            numbers=frozenset({"+74957654321"}),
            number_prefixes=frozenset({"7916"}),
            directions=frozenset({"incoming"}),
            tenants=frozenset({"acme", "initech"}),
        ),
        template=build('{"n": {{ party.caller_num|tojson }}}', "PUT", "", {"X-Call": "{{ call_id }}"}),
    )


def test_round_trip_and_sealing(store_url: str) -> None:
    async def body() -> None:
        inner = open_store(store_url)
        store = SealedStore(inner, Sealer([Fernet.generate_key().decode()]))
        await store.open()
        try:
            sub = _sub()
            await store.put_subscription(sub, 1.0)
            back = await store.get_subscription("s1", with_secrets=True)
            assert back == sub
            assert back is not None
            req = dialects.encode(sample_event(), back)  # the template came back with its engine
            assert req is not None
            assert req.method == "PUT"
            assert req.body.startswith(b'{"n": "n_')  # masked: a hash token
            raw = await inner.get_subscription("s1", with_secrets=True)
            assert raw is not None
            assert raw.previous_secret.startswith(PREFIX)
            assert raw.masking is not None
            assert raw.masking.key.startswith(PREFIX)
            assert PREVIOUS not in repr(raw)
            assert MASK_KEY not in repr(raw)
            public = await store.get_subscription("s1")
            assert public is not None
            assert public.previous_secret == ""
            assert public.masking is not None
            assert (public.masking.key, public.masking.mode) == ("", "hash")
            assert public.previous_secret_until == sub.previous_secret_until
        finally:
            await store.close()
        if not store_url.startswith(("memory:", "postgres")):
            data = b"".join(p.read_bytes() for p in Path(store_url).parent.glob(Path(store_url).name + "*"))
            assert PREVIOUS.encode() not in data
            assert MASK_KEY.encode() not in data

    asyncio.run(body())


def test_a_subscription_without_the_new_fields_reads_back_as_before(store_url: str) -> None:
    async def body() -> None:
        store = open_store(store_url)
        await store.open()
        try:
            sub = Subscription(id="s0", url="https://x.example/", dialect=Dialect.VOIPEX, filters=Filters("q", "", ""))
            await store.put_subscription(sub, 1.0)
            assert await store.get_subscription("s0", with_secrets=True) == sub
        finally:
            await store.close()

    asyncio.run(body())

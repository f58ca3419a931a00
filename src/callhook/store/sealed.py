"""Secrets at rest: a store wrapper that encrypts what is secret before any backend sees it.

Keys come from ``CALLHOOK_SECRET_KEYS`` (or ``secret_keys`` in the TOML file): one
or more Fernet keys (``callhook secrets new-key`` makes one), the first encrypts,
every one decrypts (:class:`cryptography.fernet.MultiFernet`), so a key is rotated
by putting the new one first, running ``callhook secrets rotate`` and dropping the
old one once the deliveries sealed with it are finished (see docs/api.md).

Sealed, in the subscriptions: the signing secret and the previous one (a rotation's
overlap), the masking key, the Basic password, every
configured header value, and the URL and URL template when they hold a password or
a secret query value; in the stored requests of the deliveries: the URL when it
holds one and the values of headers with a secret name (``Authorization``, ...).
A sealed value is ``fernet:<token>``; a value without the prefix is read as it is,
so a database written before a key was set keeps working and ``rotate`` seals it.

Without a key nothing is encrypted (serve says so at start), and a sealed value
found then is a :class:`~callhook.store.base.StoreError` naming the setting, never
sent as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from callhook.core.dialects.base import Request
from callhook.core.subscription import BasicAuth, Subscription
from callhook.delivery.redact import is_secret_name, mask_url
from callhook.store.base import (
    Attempt,
    Counts,
    Delivery,
    DeliveryQuery,
    Feed,
    Finish,
    Lease,
    LedgerRow,
    MissedMark,
    NewEvent,
    Page,
    Recorded,
    Store,
    StoreError,
    SubscriptionStats,
)

__all__ = ["PREFIX", "SealedStore", "Sealer", "check_keys", "new_key"]

PREFIX = "fernet:"
KEY_SETTING = "CALLHOOK_SECRET_KEYS"


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def check_keys(keys: Iterable[str]) -> list[str]:
    """The keys, each checked to be a Fernet key; ValueError says which one (by position, never its value)."""
    out = []
    for i, k in enumerate(keys, 1):
        k = k.strip()
        if not k:
            continue
        try:
            Fernet(k)
        except (ValueError, TypeError):
            raise ValueError(
                f"{KEY_SETTING}: key {i} is not a Fernet key (32 bytes in URL-safe base64; "
                "make one with: callhook secrets new-key)"
            ) from None
        out.append(k)
    return out


class Sealer:
    """Encrypts and decrypts single values; without keys it leaves them as they are."""

    def __init__(self, keys: Sequence[str] = ()) -> None:
        self.keys = check_keys(keys)
        self._f = MultiFernet([Fernet(k) for k in self.keys]) if self.keys else None

    @property
    def enabled(self) -> bool:
        return self._f is not None

    def seal(self, value: str) -> str:
        if not value or self._f is None or value.startswith(PREFIX):
            return value
        return PREFIX + self._f.encrypt(value.encode("utf-8", "surrogatepass")).decode("ascii")

    def open(self, value: str) -> str:
        if not value.startswith(PREFIX):
            return value
        if self._f is None:
            raise StoreError(f"a stored secret is encrypted and no key is configured: set {KEY_SETTING}")
        try:
            return self._f.decrypt(value[len(PREFIX) :].encode("ascii")).decode("utf-8", "surrogatepass")
        except (InvalidToken, UnicodeEncodeError):
            raise StoreError(f"a stored secret was encrypted with a key that is not in {KEY_SETTING}") from None

    def reseal(self, value: str) -> str:
        """Sealed with the first key (plain values sealed, sealed ones rotated)."""
        return self.seal(self.open(value))

    # ------------------------------------------------------------ whole objects
    def _secret_url(self, url: str) -> bool:
        return bool(url) and (url.startswith(PREFIX) or mask_url(url) != url)

    def seal_sub(self, sub: Subscription) -> Subscription:
        return replace(
            sub,
            secret=self.seal(sub.secret),
            previous_secret=self.seal(sub.previous_secret),
            masking=replace(sub.masking, key=self.seal(sub.masking.key)) if sub.masking else None,
            auth=BasicAuth(sub.auth.username, self.seal(sub.auth.password)) if sub.auth else None,
            headers={k: self.seal(v) for k, v in sub.headers.items()},
            url=self.seal(sub.url) if self._secret_url(sub.url) else sub.url,
            url_template=self.seal(sub.url_template) if self._secret_url(sub.url_template) else sub.url_template,
        )

    def open_sub(self, sub: Subscription) -> Subscription:
        return replace(
            sub,
            secret=self.open(sub.secret),
            previous_secret=self.open(sub.previous_secret),
            masking=replace(sub.masking, key=self.open(sub.masking.key)) if sub.masking else None,
            auth=BasicAuth(sub.auth.username, self.open(sub.auth.password)) if sub.auth else None,
            headers={k: self.open(v) for k, v in sub.headers.items()},
            url=self.open(sub.url),
            url_template=self.open(sub.url_template),
        )

    def seal_request(self, r: Request) -> Request:
        return replace(
            r,
            url=self.seal(r.url) if self._secret_url(r.url) else r.url,
            headers=tuple((k, self.seal(v) if is_secret_name(k) else v) for k, v in r.headers),
        )

    def open_request(self, r: Request) -> Request:
        return replace(r, url=self.open(r.url), headers=tuple((k, self.open(v)) for k, v in r.headers))

    def open_delivery(self, d: Delivery) -> Delivery:
        return replace(d, request=self.open_request(d.request))


class SealedStore:
    """A :class:`Store` that seals secrets on the way in and opens them on the way out."""

    def __init__(self, inner: Store, sealer: Sealer) -> None:
        self.inner = inner
        self.sealer = sealer

    def __getattr__(self, name: str) -> Any:  # backend extras (path, pool, ...) stay reachable
        return getattr(self.inner, name)

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    # -- subscriptions
    async def put_subscription(self, sub: Subscription, now: float) -> None:
        await self.inner.put_subscription(self.sealer.seal_sub(sub), now)

    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None:
        sub = await self.inner.get_subscription(sub_id, tenant=tenant, with_secrets=with_secrets)
        return None if sub is None else self.sealer.open_sub(sub)

    async def list_subscriptions(self, *, tenant: str | None = None, with_secrets: bool = False) -> list[Subscription]:
        subs = await self.inner.list_subscriptions(tenant=tenant, with_secrets=with_secrets)
        return [self.sealer.open_sub(s) for s in subs]

    async def delete_subscription(self, sub_id: str, *, tenant: str | None = None, now: float | None = None) -> bool:
        return await self.inner.delete_subscription(sub_id, tenant=tenant, now=now)

    async def ledger(self, *, tenant: str | None = None, subscription_id: str | None = None) -> list[LedgerRow]:
        return await self.inner.ledger(tenant=tenant, subscription_id=subscription_id)

    async def set_subscription_enabled(self, sub_id: str, enabled: bool, now: float) -> bool:
        return await self.inner.set_subscription_enabled(sub_id, enabled, now)

    # -- the outbox
    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        s = self.sealer
        sealed = [
            replace(it, deliveries=tuple(replace(d, request=s.seal_request(d.request)) for d in it.deliveries))
            for it in items
        ]
        return await self.inner.append(sealed, now)

    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        return [self.sealer.open_delivery(d) for d in await self.inner.claim(now, limit, lease)]

    def _seal_sent(self, items: Sequence[Finish]) -> list[Finish]:
        """The request as it was sent (kept with the delivery) carries credentials too."""
        s = self.sealer
        return [it if it.sent is None else replace(it, sent=s.seal_request(it.sent)) for it in items]

    def attach(self, feed: Feed | None) -> None:
        """The store's feed hands deliveries to the dispatcher: they are opened first."""
        self.inner.attach(None if feed is None else _OpenedFeed(feed, self.sealer))

    async def record(self, items: Sequence[Finish], now: float, lease: Lease | None = None) -> Recorded:
        done = await self.inner.record(self._seal_sent(items), now, lease)
        return replace(done, successors=[self.sealer.open_delivery(d) for d in done.successors])

    async def finish(self, items: Sequence[Finish], now: float) -> int:
        return await self.inner.finish(self._seal_sent(items), now)

    async def requeue_expired_leases(self, now: float) -> int:
        return await self.inner.requeue_expired_leases(now)

    async def wait_for_work(self, within: float) -> None:
        await self.inner.wait_for_work(within)

    async def retry_delivery(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        return await self.inner.retry_delivery(delivery_id, now, tenant=tenant)

    async def expedite(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        return await self.inner.expedite(delivery_id, now, tenant=tenant)

    async def replay(self, now: float, **kw: Any) -> int:
        return await self.inner.replay(now, **kw)

    # -- queries
    async def get_delivery(
        self, delivery_id: int, *, tenant: str | None = None
    ) -> tuple[Delivery, list[Attempt]] | None:
        found = await self.inner.get_delivery(delivery_id, tenant=tenant)
        return None if found is None else (self.sealer.open_delivery(found[0]), found[1])

    async def list_deliveries(self, q: DeliveryQuery) -> Page[Delivery]:
        page = await self.inner.list_deliveries(q)
        return replace(page, items=[self.sealer.open_delivery(d) for d in page.items])

    async def list_events(self, q: Any) -> Any:
        return await self.inner.list_events(q)

    async def call_events(self, call_id: str, *, tenant: str | None = None) -> Any:
        return await self.inner.call_events(call_id, tenant=tenant)

    async def counts(self, *, subscription_id: str | None = None) -> Counts:
        return await self.inner.counts(subscription_id=subscription_id)

    async def subscription_stats(self, sub_id: str, since: float) -> SubscriptionStats:
        return await self.inner.subscription_stats(sub_id, since)

    async def put_missed_mark(self, mark: MissedMark) -> None:
        await self.inner.put_missed_mark(mark)

    async def list_missed_marks(self, *, tenant: str | None = None) -> list[MissedMark]:
        return await self.inner.list_missed_marks(tenant=tenant)

    # -- key rotation
    async def rotate(self, now: float) -> int:
        """Every subscription's secrets sealed again with the first key; returns how many were written."""
        if not self.sealer.enabled:
            raise StoreError(f"no key to seal with: set {KEY_SETTING}")
        n = 0
        for sub in await self.inner.list_subscriptions(with_secrets=True):
            await self.inner.put_subscription(self.sealer.seal_sub(self.sealer.open_sub(sub)), now)
            n += 1
        return n


class _OpenedFeed:
    """The dispatcher's feed behind a :class:`SealedStore`: deliveries arrive opened."""

    def __init__(self, feed: Feed, sealer: Sealer) -> None:
        self._feed, self._sealer = feed, sealer

    def room(self) -> int:
        return self._feed.room()

    def lease(self, now: float) -> Lease:
        return self._feed.lease(now)

    def take(self, deliveries: Sequence[Delivery]) -> None:
        self._feed.take([self._sealer.open_delivery(d) for d in deliveries])

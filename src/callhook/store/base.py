"""The storage interface: events, subscriptions, deliveries (the outbox) and attempts.

Three implementations keep one contract (tests/integration/test_store_contract.py
runs the same tests against each): :mod:`.memory`, :mod:`.sqlite`, :mod:`.postgres`.

The interface is split by concern, and :class:`Store` is their sum:

================  ==========================================================
:class:`Subscriptions`  the webhooks and their settings
:class:`Outbox`         accepting, claiming, recording outcomes, retry, replay
                        (its rules: :mod:`callhook.store.outbox`)
:class:`DeliveryLog`    deliveries and attempts as the API lists them
:class:`Calls`          stored events, calls, missed-call marks
================  ==========================================================

A component that needs one concern takes that Protocol, not the whole store.

Delivery life cycle::

    pending --claim--> inflight --finish--> done | dead | expired
       ^                  |  (retry: pending again, later next_at)
       +------------------+
    dead/expired --retry_delivery--> pending

Order: the deliveries of one group (subscription, order key) are sent one at a time
in acceptance order (ascending id). Only the group's *head* -- its oldest pending or
inflight delivery -- can be claimed; when it ends (done, dead or expired) the next
one becomes the head. A crash leaves a claimed delivery inflight; it is claimed
again when its lease runs out (or, on SQLite, when the store is opened), so it may
be sent twice: at-least-once.

Times are Unix seconds (float) everywhere. Secrets: subscriptions come back without
their secret and password unless ``with_secrets=True`` is asked for; the API never
asks.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from callhook.core.dialects.base import Request
from callhook.core.events import Event
from callhook.core.retry import RetryOverride
from callhook.core.serialize import event_from_dict
from callhook.core.subscription import BasicAuth, Dialect, Filters, Subscription
from callhook.store.subscription_json import (
    filters_more_to_text,
    masking_from_text,
    masking_to_text,
    template_from_text,
    template_to_text,
)

__all__ = [
    "Attempt",
    "Calls",
    "Counts",
    "DeadReason",
    "Delivery",
    "DeliveryLog",
    "DeliveryQuery",
    "EventQuery",
    "Feed",
    "Finish",
    "Lease",
    "LedgerRow",
    "MissedMark",
    "NewDelivery",
    "NewEvent",
    "Outbox",
    "Page",
    "Recorded",
    "Status",
    "Store",
    "StoreError",
    "SubscriptionStats",
    "Subscriptions",
    "Wakeup",
    "public_subscription",
]

T = TypeVar("T")


class StoreError(RuntimeError):
    """A storage failure (the backend's own exception is chained)."""


class Status(enum.StrEnum):
    PENDING = "pending"
    INFLIGHT = "inflight"
    DONE = "done"
    DEAD = "dead"
    EXPIRED = "expired"


class DeadReason(enum.StrEnum):
    """Why a dead delivery is dead (the loss ledger splits ``dead`` by it): only
    ``gave_up`` is a failure monitoring should alert on."""

    GAVE_UP = "gave_up"  # retries exhausted, a permanent answer, or no message could be encoded
    DISABLED = "subscription_disabled"  # its webhook was disabled before it was sent
    DELETED = "subscription_deleted"  # its webhook was deleted (closed at the delete)


ACTIVE = (Status.PENDING.value, Status.INFLIGHT.value)
FINAL = (Status.DONE.value, Status.DEAD.value, Status.EXPIRED.value)


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """One outbox row to create with its event; ``request`` is as encoded at accept,
    unsigned (the dispatcher encodes again at send time with the subscription's
    configuration of that moment, see :mod:`callhook.store.outbox`)."""

    subscription_id: str
    tenant: str
    order_key: str
    request: Request
    next_at: float
    expires_at: float | None = None
    status: Status = Status.PENDING  # DEAD for an event the encoder failed on
    last_error: str = ""


@dataclass(frozen=True, slots=True)
class NewEvent:
    event: Event
    deliveries: tuple[NewDelivery, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    event_id: str
    subscription_id: str
    tenant: str
    order_key: str
    status: Status
    attempts: int
    next_at: float
    expires_at: float | None
    request: Request
    created_at: float
    last_error: str = ""
    last_status: int | None = None
    finished_at: float | None = None
    lease_id: str = ""
    replay_of: int | None = None
    # The event itself, when the store hands the delivery out to be sent (claim, feed,
    # successors); None in listings.
    event: Event | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a claimed delivery, and until when."""

    id: str
    until: float


@dataclass(frozen=True, slots=True)
class Recorded:
    """What :meth:`Outbox.record` did: outcomes applied (their lease still held) and
    the groups' next deliveries that became due and are now leased to the caller."""

    applied: int
    successors: list[Delivery]


class Feed(Protocol):
    """The local dispatcher as the store sees it: it takes deliveries the store made
    due (new heads at append) directly, without their being claimed back."""

    def room(self) -> int:
        """How many deliveries it can take now (0: leave them pending)."""

    def lease(self, now: float) -> Lease: ...

    def take(self, deliveries: Sequence[Delivery]) -> None:
        """Called after the commit that leased ``deliveries`` to it."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One HTTP attempt as recorded: URL without credentials, headers without secrets."""

    delivery_id: int
    subscription_id: str
    at: float
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    status: int | None
    body: bytes  # the response body, capped
    duration_ms: float
    error: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class Finish:
    """The end of one claim: back to pending (retry or deferral) or a final status.

    Applied only while ``lease_id`` still holds the delivery, so a worker whose lease
    ran out cannot overwrite the work of the one that took over (its attempt is still
    recorded). ``attempt`` None means no request was sent (a deferral): the attempt
    count stays.
    """

    delivery_id: int
    lease_id: str
    status: Status
    next_at: float | None = None
    last_error: str = ""
    last_status: int | None = None
    attempt: Attempt | None = None
    disable_subscription: str = ""  # a subscription id to disable (410 Gone)
    # The request as encoded at send time (unsigned) when it differs from the stored
    # one: the delivery then shows what was really sent.
    sent: Request | None = None
    # Why, when ``status`` is DEAD (default: gave up); see :class:`DeadReason`.
    reason: DeadReason | None = None


@dataclass(frozen=True, slots=True)
class DeliveryQuery:
    """Filters and a keyset cursor: newest first, ``before_id`` the last id seen."""

    tenant: str | None = None
    subscription_id: str | None = None
    status: Status | None = None
    event_id: str | None = None
    call_id: str | None = None
    since: float | None = None  # created_at >= since
    until: float | None = None  # created_at < until
    before_id: int | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters and a keyset cursor over event ids (time-sortable): newest first."""

    tenant: str | None = None
    type: str | None = None
    call_id: str | None = None
    since: float | None = None  # event ts >= since
    until: float | None = None  # event ts < until
    before_id: str | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class MissedMark:
    """A missed caller handled by hand: its missed calls up to ``at`` need no call-back.

    One per (tenant, number); a newer mark replaces the older one.
    """

    tenant: str
    number: str
    at: float
    by: str


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # pass back as before_id; None on the last page


@dataclass(frozen=True, slots=True)
class Counts:
    pending: int
    inflight: int
    dead: int
    expired: int

    @property
    def backlog(self) -> int:
        return self.pending + self.inflight


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """The loss ledger of one subscription (or, with ``subscription_id`` "", all):
    every delivery ever routed is in exactly one of the other counts, so
    ``routed == delivered + pending + inflight + dead + expired`` (``replays``: how
    many of the routed rows are replays of an earlier delivery)."""

    subscription_id: str
    tenant: str = ""
    delivered: int = 0
    pending: int = 0
    inflight: int = 0
    expired: int = 0
    dead_gave_up: int = 0
    dead_disabled: int = 0
    dead_deleted: int = 0
    replays: int = 0

    @property
    def dead(self) -> int:
        return self.dead_gave_up + self.dead_disabled + self.dead_deleted

    @property
    def routed(self) -> int:
        return self.delivered + self.pending + self.inflight + self.dead + self.expired


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    attempts: int
    successes: int
    p50_ms: float | None
    p99_ms: float | None
    last_error: str
    last_error_at: float | None

    @property
    def success_rate(self) -> float | None:
        return self.successes / self.attempts if self.attempts else None


class Subscriptions(Protocol):
    async def put_subscription(self, sub: Subscription, now: float) -> None: ...
    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None: ...
    async def list_subscriptions(
        self, *, tenant: str | None = None, with_secrets: bool = False
    ) -> list[Subscription]: ...
    async def delete_subscription(self, sub_id: str, *, tenant: str | None = None, now: float | None = None) -> bool:
        """Delete it; its pending and inflight deliveries end in the same commit as
        dead, reason :attr:`DeadReason.DELETED` (``now``: their finish time, default
        the wall clock)."""
        ...

    async def set_subscription_enabled(self, sub_id: str, enabled: bool, now: float) -> bool: ...


class Outbox(Protocol):
    """The outbox: its rules are in :mod:`callhook.store.outbox`."""

    def attach(self, feed: Feed | None) -> None:
        """Hand new due heads straight to ``feed`` (the local dispatcher) from now on."""

    # -- accepting (one transaction for the whole batch)
    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        """Store events (an id already stored is skipped with its deliveries) and
        their deliveries; returns the number of deliveries created. New heads that
        are due go to the attached feed (leased to it) as far as it has room."""

    # -- dispatching
    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        """Due group heads, marked inflight until ``now + lease``, oldest due first."""

    async def record(self, items: Sequence[Finish], now: float, lease: Lease | None = None) -> Recorded:
        """Apply outcomes and record attempts in one transaction of a constant number
        of statements. With ``lease``, the next delivery of each group whose head
        ended that is due now is leased to the caller and returned with its event."""

    async def finish(self, items: Sequence[Finish], now: float) -> int:
        """:meth:`record` without taking successors; returns how many still held their lease."""

    async def requeue_expired_leases(self, now: float) -> int: ...
    async def wait_for_work(self, within: float) -> None:
        """Return early when new work may be due (an append here or, on PostgreSQL,
        a NOTIFY from another process), else after ``within`` seconds."""

    # -- operations
    async def retry_delivery(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        """A dead or expired delivery back to pending, due now, with a fresh lifetime."""

    async def expedite(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        """A pending delivery (waiting for its next retry) due now; False if it is not pending."""

    async def replay(
        self,
        now: float,
        *,
        subscription_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        tenant: str | None = None,
        limit: int = 100_000,
        call_id: str | None = None,
    ) -> int:
        """New pending deliveries of the events of finished deliveries (created in
        [since, until); of one call's events if ``call_id``), sent with the
        subscription's current configuration; returns how many."""


class DeliveryLog(Protocol):
    async def get_delivery(
        self, delivery_id: int, *, tenant: str | None = None
    ) -> tuple[Delivery, list[Attempt]] | None: ...
    async def list_deliveries(self, q: DeliveryQuery) -> Page[Delivery]: ...
    async def counts(self, *, subscription_id: str | None = None) -> Counts: ...
    async def subscription_stats(self, sub_id: str, since: float) -> SubscriptionStats: ...
    async def ledger(self, *, tenant: str | None = None, subscription_id: str | None = None) -> list[LedgerRow]:
        """One row per subscription that has deliveries (deleted ones included), by id."""
        ...


class Calls(Protocol):
    async def list_events(self, q: EventQuery) -> Page[Event]: ...
    async def call_events(self, call_id: str, *, tenant: str | None = None) -> list[Event]: ...

    # -- missed calls handled by hand
    async def put_missed_mark(self, mark: MissedMark) -> None:
        """Insert or replace the mark of (tenant, number)."""

    async def list_missed_marks(self, *, tenant: str | None = None) -> list[MissedMark]: ...


class Store(Subscriptions, Outbox, DeliveryLog, Calls, Protocol):
    """What the accepter, the dispatcher and the API need from storage."""

    async def open(self) -> None:
        """Connect and apply the migrations; returns inflight work to pending where
        no other process can hold it (SQLite, memory)."""

    async def close(self) -> None: ...


# ------------------------------------------------------------------ shared helpers
def public_subscription(sub: Subscription) -> Subscription:
    """The subscription as the API may show it: no secret, no password."""
    auth = BasicAuth(sub.auth.username, "") if sub.auth is not None else None
    masking = replace(sub.masking, key="") if sub.masking is not None else None
    return replace(sub, secret="", auth=auth, previous_secret="", masking=masking)


SUBSCRIPTION_COLUMNS = (
    "id",
    "tenant",
    "url",
    "dialect",
    "method",
    "events",
    "url_template",
    "auth_username",
    "auth_password",
    "headers",
    "secret",
    "filter_queue",
    "filter_extension",
    "filter_agent",
    "enabled",
    "description",
    "telphin_client",
    "telphin_agent_type",
    "telphin_agent_id",
    "get_data_header",
    "retry",
    # schema 8: masking, the filters' lists, the template, the rotation's previous secret
    "masking",
    "filters_more",
    "template",
    "previous_secret",
    "previous_secret_until",
    "ordering",
    "limit_concurrency",
    "limit_rps",
    "limit_burst",
)


def retry_to_text(o: RetryOverride | None, dumps: Any) -> str | None:
    """A subscription's retry override as stored (JSON text; NULL when it has none)."""
    if o is None or o.empty:
        return None
    return str(
        dumps(
            {
                "schedule": None if o.schedule is None else list(o.schedule),
                "client_error_attempts": o.client_error_attempts,
                "lifetimes": dict(o.lifetimes),
            }
        )
    )


def retry_from_text(text: str | None, loads: Any) -> RetryOverride | None:
    if not text:
        return None
    v = loads(text)
    schedule = v.get("schedule")
    return RetryOverride(
        schedule=None if schedule is None else tuple(float(d) for d in schedule),
        client_error_attempts=v.get("client_error_attempts"),
        lifetimes={k: float(x) for k, x in (v.get("lifetimes") or {}).items()},
    )


def subscription_row(sub: Subscription, dumps: Any) -> tuple[Any, ...]:
    """Values in SUBSCRIPTION_COLUMNS order; ``dumps`` encodes JSON to text."""
    return (
        sub.id,
        sub.tenant,
        sub.url,
        sub.dialect.value,
        sub.method,
        dumps(sorted(sub.events)),
        sub.url_template,
        sub.auth.username if sub.auth else None,
        sub.auth.password if sub.auth else None,
        dumps(dict(sub.headers)),
        sub.secret,
        sub.filters.queue,
        sub.filters.extension,
        sub.filters.agent,
        bool(sub.enabled),
        sub.description,
        sub.telphin_client,
        sub.telphin_agent_type,
        sub.telphin_agent_id,
        sub.get_data_header,
        retry_to_text(sub.retry, dumps),
        masking_to_text(sub.masking, dumps),
        filters_more_to_text(sub.filters, dumps),
        template_to_text(sub.template, dumps),
        sub.previous_secret,
        sub.previous_secret_until,
        sub.ordering,
        sub.limit_concurrency,
        sub.limit_rps,
        sub.limit_burst,
    )


def subscription_from_row(r: Mapping[str, Any], loads: Any, with_secrets: bool) -> Subscription:
    auth = None
    if r["auth_username"] is not None:
        auth = BasicAuth(r["auth_username"], (r["auth_password"] or "") if with_secrets else "")
    return Subscription(
        id=r["id"],
        url=r["url"],
        dialect=Dialect(r["dialect"]),
        method=r["method"],
        events=frozenset(loads(r["events"])),
        url_template=r["url_template"],
        auth=auth,
        headers=loads(r["headers"]),
        secret=r["secret"] if with_secrets else "",
        filters=Filters(
            r["filter_queue"],
            r["filter_extension"],
            r["filter_agent"],
            **{k: frozenset(v) for k, v in (loads(r["filters_more"]) if r["filters_more"] else {}).items()},
        ),
        tenant=r["tenant"],
        enabled=bool(r["enabled"]),
        description=r["description"],
        telphin_client=r["telphin_client"],
        telphin_agent_type=r["telphin_agent_type"],
        telphin_agent_id=r["telphin_agent_id"],
        get_data_header=r["get_data_header"],
        retry=retry_from_text(r["retry"], loads),
        masking=masking_from_text(r["masking"], loads, with_secrets),
        template=template_from_text(r["template"], loads),
        previous_secret=(r["previous_secret"] or "") if with_secrets else "",
        previous_secret_until=r["previous_secret_until"],
        ordering=r["ordering"],
        limit_concurrency=int(r["limit_concurrency"]),
        limit_rps=float(r["limit_rps"]),
        limit_burst=int(r["limit_burst"]),
    )


def percentile(sorted_values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending sequence (p in [0, 100])."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def stats_from_attempts(rows: Sequence[tuple[int | None, float, str, float]]) -> SubscriptionStats:
    """Stats from (status, duration_ms, error, at) rows of one window."""
    ok = sorted(d for s, d, _, _ in rows if s is not None and 200 <= s < 300)
    durations = sorted(d for _, d, _, _ in rows)
    failed = [(at, s, e) for s, _, e, at in rows if s is None or not 200 <= s < 300]
    last_error, last_at = "", None
    if failed:
        at, s, e = max(failed, key=lambda x: x[0])
        last_error, last_at = (e or f"HTTP {s}"), at
    return SubscriptionStats(
        attempts=len(rows),
        successes=len(ok),
        p50_ms=percentile(durations, 50),
        p99_ms=percentile(durations, 99),
        last_error=last_error,
        last_error_at=last_at,
    )


class Wakeup:
    """An in-process doorbell: the store rings it when work may have become due."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def ring(self) -> None:
        self._event.set()

    async def wait(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), within)
        self._event.clear()


def replay_expiry(created_at: float, expires_at: float | None, now: float) -> float | None:
    """A retried or replayed delivery gets the lifetime the original had, from now."""
    return None if expires_at is None else now + (expires_at - created_at)


DELIVERY_COLUMNS = (
    "id, event_id, subscription_id, tenant, order_key, status, attempts, next_at, expires_at, method, url, "
    "headers, body, created_at, last_error, last_status, finished_at, lease_id, replay_of"
)


_STATUS_OF = {s.value: s for s in Status}


def delivery_from_row(r: Sequence[Any], loads: Any, event: Event | None = None) -> Delivery:
    """A Delivery from a row in DELIVERY_COLUMNS order (headers as JSON text); its
    ``event`` is the one given, else a 20th column, when present, the event's
    stored body (handed out with it)."""
    if event is None and len(r) > 19 and r[19] is not None:
        body = r[19]
        event = event_from_dict(body if isinstance(body, dict) else loads(body))
    return Delivery(
        id=r[0],
        event_id=r[1],
        subscription_id=r[2],
        tenant=r[3],
        order_key=r[4],
        status=_STATUS_OF[r[5]],
        attempts=r[6],
        next_at=r[7],
        expires_at=r[8],
        request=Request(r[9], r[10], tuple(map(tuple, loads(r[11]))), bytes(r[12])),
        created_at=r[13],
        last_error=r[14],
        last_status=r[15],
        finished_at=r[16],
        lease_id=r[17] or "",
        replay_of=r[18],
        event=event,
    )


ATTEMPT_COLUMNS = "id, delivery_id, subscription_id, at, method, url, headers, status, body, duration_ms, error"


def attempt_row(a: Attempt, dumps: Any) -> tuple[Any, ...]:
    """Values for ATTEMPT_COLUMNS without the id."""
    return (
        a.delivery_id,
        a.subscription_id,
        a.at,
        a.method,
        a.url,
        dumps(a.headers),
        a.status,
        a.body,
        a.duration_ms,
        a.error,
    )


def attempt_from_row(r: Sequence[Any], loads: Any) -> Attempt:
    return Attempt(
        id=r[0],
        delivery_id=r[1],
        subscription_id=r[2],
        at=r[3],
        method=r[4],
        url=r[5],
        headers=tuple((k, v) for k, v in loads(r[6])),
        status=r[7],
        body=bytes(r[8]),
        duration_ms=r[9],
        error=r[10],
    )

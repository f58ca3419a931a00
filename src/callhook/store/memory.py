"""An in-memory store: the whole contract, no durability. For tests and demos.

Single-threaded (the event loop's thread); every method completes without yielding
except :meth:`wait_for_work`, so each one is atomic like a transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from callhook.core.events import Event
from callhook.core.subscription import Subscription
from callhook.store import outbox
from callhook.store.base import (
    ACTIVE,
    FINAL,
    Attempt,
    Counts,
    DeadReason,
    Delivery,
    DeliveryQuery,
    EventQuery,
    Feed,
    Finish,
    Lease,
    LedgerRow,
    MissedMark,
    NewEvent,
    Page,
    Recorded,
    Status,
    SubscriptionStats,
    Wakeup,
    public_subscription,
    replay_expiry,
    stats_from_attempts,
)
from callhook.store.ledger import fold

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Row:
    d: Delivery
    head: bool = False
    lease_until: float | None = None
    dead_reason: str = ""


class MemoryStore:
    def __init__(self) -> None:
        self._subs: dict[str, Subscription] = {}
        self._events: dict[str, Event] = {}
        self._rows: dict[int, _Row] = {}
        self._groups: dict[tuple[str, str], list[int]] = {}  # active ids per group, ascending
        self._attempts: list[Attempt] = []
        self._marks: dict[tuple[str, str], MissedMark] = {}
        self._next_id = 1
        self._wakeup = Wakeup()
        self._feed: Feed | None = None

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    # ------------------------------------------------------------ subscriptions
    async def put_subscription(self, sub: Subscription, now: float) -> None:
        self._subs[sub.id] = sub

    async def get_subscription(
        self, sub_id: str, *, tenant: str | None = None, with_secrets: bool = False
    ) -> Subscription | None:
        sub = self._subs.get(sub_id)
        if sub is None or (tenant is not None and sub.tenant != tenant):
            return None
        return sub if with_secrets else public_subscription(sub)

    async def list_subscriptions(self, *, tenant: str | None = None, with_secrets: bool = False) -> list[Subscription]:
        subs = [s for _, s in sorted(self._subs.items()) if tenant is None or s.tenant == tenant]
        return subs if with_secrets else [public_subscription(s) for s in subs]

    async def delete_subscription(self, sub_id: str, *, tenant: str | None = None, now: float | None = None) -> bool:
        sub = self._subs.get(sub_id)
        if sub is None or (tenant is not None and sub.tenant != tenant):
            return False
        del self._subs[sub_id]
        at = time.time() if now is None else now
        for row in list(self._rows.values()):
            if row.d.subscription_id == sub_id and row.d.status in ACTIVE:
                self._end(row)
                row.d = replace(
                    row.d, status=Status.DEAD, lease_id="", last_error="subscription deleted", finished_at=at
                )
                row.lease_until = None
                row.dead_reason = DeadReason.DELETED.value
        return True

    async def set_subscription_enabled(self, sub_id: str, enabled: bool, now: float) -> bool:
        sub = self._subs.get(sub_id)
        if sub is None:
            return False
        self._subs[sub_id] = replace(sub, enabled=enabled)
        return True

    # ------------------------------------------------------------ outbox
    def _add(self, d: Delivery) -> None:
        row = _Row(d)
        self._rows[d.id] = row
        if d.status in ACTIVE:
            group = self._groups.setdefault((d.subscription_id, d.order_key), [])
            row.head = not group
            group.append(d.id)
            group.sort()

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def attach(self, feed: Feed | None) -> None:
        self._feed = feed

    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        fresh = outbox.fresh_items(items, set(self._events))
        feed = self._feed
        room = feed.room() if feed is not None else 0
        lease = feed.lease(now) if feed is not None and room > 0 else None
        planned = outbox.plan(fresh, set(self._groups), now, room, lease)
        for item in fresh:
            self._events[item.event.id] = item.event
        fed = []
        for p in planned:
            d = outbox.to_delivery(p, self._new_id(), now)
            self._add(replace(d, event=None))
            if p.lease is not None:
                self._rows[d.id].lease_until = p.lease.until
                fed.append(d)
        if fed and feed is not None:
            feed.take(fed)
        if len(planned) > len(fed):
            self._wakeup.ring()
        return len(planned)

    def _lease(self, row: _Row, lease_id: str, until: float) -> Delivery:
        row.d = replace(row.d, status=Status.INFLIGHT, lease_id=lease_id)
        row.lease_until = until
        return replace(row.d, event=self._events.get(row.d.event_id))

    async def claim(self, now: float, limit: int, lease: float) -> list[Delivery]:
        due = [r for r in self._rows.values() if r.head and r.d.status == Status.PENDING and r.d.next_at <= now]
        due.sort(key=lambda r: (r.d.next_at, r.d.id))
        return [self._lease(r, f"m{r.d.id}.{r.d.attempts}.{now}", now + lease) for r in due[:limit]]

    def _end(self, row: _Row) -> _Row | None:
        """``row`` left its group: the next one (returned) becomes head."""
        group = self._groups[(row.d.subscription_id, row.d.order_key)]
        group.remove(row.d.id)
        row.head = False
        if group:
            nxt = self._rows[group[0]]
            nxt.head = True
            return nxt
        del self._groups[(row.d.subscription_id, row.d.order_key)]
        return None

    async def record(self, items: Sequence[Finish], now: float, lease: Lease | None = None) -> Recorded:
        applied = 0
        successors = []
        for f in items:
            if f.attempt is not None:
                self._attempts.append(replace(f.attempt, id=len(self._attempts) + 1))
            if f.disable_subscription:
                await self.set_subscription_enabled(f.disable_subscription, False, now)
        for o, f in zip(outbox.outcomes(items, now), _unique(items), strict=True):
            row = self._rows.get(o.id)
            if row is None or row.d.status != Status.INFLIGHT or row.d.lease_id != o.lease_id:
                continue
            applied += 1
            sent = f.sent or row.d.request
            row.d = replace(
                row.d,
                status=Status(o.status),
                attempts=row.d.attempts + o.attempts,
                next_at=o.next_at if o.next_at is not None else row.d.next_at,
                lease_id="",
                last_error=o.last_error,
                last_status=o.last_status,
                finished_at=o.finished_at,
                request=sent,
            )
            row.lease_until = None
            row.dead_reason = o.dead_reason
            if o.final:
                nxt = self._end(row)
                if nxt is None:
                    continue
                if lease is not None and nxt.d.status == Status.PENDING and nxt.d.next_at <= now:
                    successors.append(self._lease(nxt, lease.id, lease.until))
                else:
                    self._wakeup.ring()
        return Recorded(applied, successors)

    async def finish(self, items: Sequence[Finish], now: float) -> int:
        return (await self.record(items, now)).applied

    async def requeue_expired_leases(self, now: float) -> int:
        n = 0
        for r in self._rows.values():
            if r.d.status == Status.INFLIGHT and r.lease_until is not None and r.lease_until < now:
                r.d = replace(r.d, status=Status.PENDING, lease_id="")
                r.lease_until = None
                n += 1
        return n

    async def wait_for_work(self, within: float) -> None:
        await self._wakeup.wait(within)

    # ------------------------------------------------------------ operations
    async def retry_delivery(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        row = self._rows.get(delivery_id)
        if row is None or row.d.status not in (Status.DEAD, Status.EXPIRED):
            return False
        if tenant is not None and row.d.tenant != tenant:
            return False
        del self._rows[delivery_id]
        self._add(
            replace(
                row.d,
                status=Status.PENDING,
                attempts=0,
                next_at=now,
                finished_at=None,
                expires_at=replay_expiry(row.d.created_at, row.d.expires_at, now),
            )
        )
        self._wakeup.ring()
        return True

    async def expedite(self, delivery_id: int, now: float, *, tenant: str | None = None) -> bool:
        row = self._rows.get(delivery_id)
        if row is None or row.d.status != Status.PENDING or (tenant is not None and row.d.tenant != tenant):
            return False
        row.d = replace(row.d, next_at=min(row.d.next_at, now))
        self._wakeup.ring()
        return True

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
        chosen = [
            r.d
            for _, r in sorted(self._rows.items())
            if r.d.status in FINAL
            and _in_scope(r.d, subscription_id, tenant, since, until)
            and (call_id is None or self._events[r.d.event_id].call_id == call_id)
        ][:limit]
        for d in chosen:
            self._add(
                replace(
                    d,
                    id=self._new_id(),
                    status=Status.PENDING,
                    attempts=0,
                    next_at=now,
                    created_at=now,
                    expires_at=replay_expiry(d.created_at, d.expires_at, now),
                    last_error="",
                    last_status=None,
                    finished_at=None,
                    lease_id="",
                    replay_of=d.id,
                )
            )
        if chosen:
            self._wakeup.ring()
        return len(chosen)

    # ------------------------------------------------------------ queries
    async def get_delivery(
        self, delivery_id: int, *, tenant: str | None = None
    ) -> tuple[Delivery, list[Attempt]] | None:
        row = self._rows.get(delivery_id)
        if row is None or (tenant is not None and row.d.tenant != tenant):
            return None
        return row.d, [a for a in self._attempts if a.delivery_id == delivery_id]

    async def list_deliveries(self, q: DeliveryQuery) -> Page[Delivery]:
        out = []
        for did in sorted(self._rows, reverse=True):
            d = self._rows[did].d
            if q.before_id is not None and did >= q.before_id:
                continue
            if not _in_scope(d, q.subscription_id, q.tenant, q.since, q.until):
                continue
            if (q.status is not None and d.status != q.status) or (q.event_id is not None and d.event_id != q.event_id):
                continue
            if q.call_id is not None and self._events[d.event_id].call_id != q.call_id:
                continue
            out.append(d)
            if len(out) > q.limit:
                break
        more = len(out) > q.limit
        items = out[: q.limit]
        return Page(items, str(items[-1].id) if more else None)

    async def list_events(self, q: EventQuery) -> Page[Event]:
        out = []
        for eid in sorted(self._events, reverse=True):
            ev = self._events[eid]
            if q.before_id is not None and eid >= q.before_id:
                continue
            if (q.tenant is not None and ev.tenant != q.tenant) or (q.type is not None and ev.type != q.type):
                continue
            if q.call_id is not None and ev.call_id != q.call_id:
                continue
            ts = ev.ts.timestamp()
            if (q.since is not None and ts < q.since) or (q.until is not None and ts >= q.until):
                continue
            out.append(ev)
            if len(out) > q.limit:
                break
        more = len(out) > q.limit
        items = out[: q.limit]
        return Page(items, items[-1].id if more else None)

    async def call_events(self, call_id: str, *, tenant: str | None = None) -> list[Event]:
        evs = [e for e in self._events.values() if e.call_id == call_id and (tenant is None or e.tenant == tenant)]
        return sorted(evs, key=lambda e: (e.seq, e.id))

    async def counts(self, *, subscription_id: str | None = None) -> Counts:
        by: dict[str, int] = {}
        for r in self._rows.values():
            if subscription_id is None or r.d.subscription_id == subscription_id:
                by[r.d.status] = by.get(r.d.status, 0) + 1
        return Counts(by.get("pending", 0), by.get("inflight", 0), by.get("dead", 0), by.get("expired", 0))

    async def ledger(self, *, tenant: str | None = None, subscription_id: str | None = None) -> list[LedgerRow]:
        by: dict[tuple[str, str, str, str, bool], int] = {}
        for r in self._rows.values():
            d = r.d
            if (tenant is None or d.tenant == tenant) and (
                subscription_id is None or d.subscription_id == subscription_id
            ):
                key = (d.subscription_id, d.tenant, d.status.value, r.dead_reason, d.replay_of is not None)
                by[key] = by.get(key, 0) + 1
        return fold((*k, n) for k, n in by.items())

    async def subscription_stats(self, sub_id: str, since: float) -> SubscriptionStats:
        return stats_from_attempts(
            [
                (a.status, a.duration_ms, a.error, a.at)
                for a in self._attempts
                if a.subscription_id == sub_id and a.at >= since
            ]
        )

    # ------------------------------------------------------------ missed-call marks
    async def put_missed_mark(self, mark: MissedMark) -> None:
        self._marks[(mark.tenant, mark.number)] = mark

    async def list_missed_marks(self, *, tenant: str | None = None) -> list[MissedMark]:
        return [m for _, m in sorted(self._marks.items()) if tenant is None or m.tenant == tenant]


def _in_scope(d: Delivery, sub_id: str | None, tenant: str | None, since: float | None, until: float | None) -> bool:
    if sub_id is not None and d.subscription_id != sub_id:
        return False
    if tenant is not None and d.tenant != tenant:
        return False
    if since is not None and d.created_at < since:
        return False
    return until is None or d.created_at < until


def _unique(items: Sequence[Finish]) -> list[Finish]:
    """The finishes of a batch, a delivery's first only (as :func:`outbox.outcomes` keeps)."""
    seen: set[int] = set()
    out = []
    for f in items:
        if f.delivery_id not in seen:
            seen.add(f.delivery_id)
            out.append(f)
    return out

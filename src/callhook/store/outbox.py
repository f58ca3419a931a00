"""The outbox rules, in one place for every backend.

Theory of operation
-------------------
A delivery is one (event, subscription) pair to send. Deliveries of one *group*
(subscription, order key -- a call, an agent) are sent one at a time in acceptance
order (ascending id): only the group's **head**, its oldest pending or inflight
delivery, may be sent. Every backend keeps a ``head`` flag and these transitions::

    append     new delivery, group has no active row   -> head (pending, or
                                                          inflight leased to the feed)
               new delivery, group has an active row   -> pending, not head
    claim      due pending heads                       -> inflight under a lease
    record     outcome RETRY / deferral                -> pending head, later next_at
               outcome DONE / DEAD / EXPIRED           -> final; the group's next
                                                          active row becomes head
                                                          (inflight under the
                                                          caller's lease if due)
    lease over inflight                                -> pending (sent again)

Set-based: ``claim`` is one statement; ``record`` applies a whole batch of outcomes
(attempt rows, the finish of each delivery, the promotion of each group's next
delivery, 410 disables) in a constant number of statements whatever the batch size.

Steady state, without reading the queue back: the dispatcher is attached to its
store as a :class:`~callhook.store.base.Feed`. ``append`` inserts each new head that
is due directly as *inflight under the feed's lease* (as far as the feed has room)
and hands it over after the commit, with its event; ``record`` returns the promoted
successors leased the same way, so the task that sent a call's event goes on with
the call's next one without a claim. ``claim`` is then only the recovery and
retry path (rows whose lease ran out, retries coming due, rows the feed had no
room for). The store stays the log: every hand-over is a committed lease, so a
crash loses nothing -- the leases run out (or SQLite's open resets them) and the
rows are claimed again: at-least-once, in order.

Order across a crash: a successor is promoted only in the commit that records its
predecessor's final outcome, so a crash can at worst repeat the one delivery per
group whose outcome was not yet recorded (``1 2 3 3 4``, never ``1 3 2``).

The store keeps the events it appended last in memory (:class:`RecentEvents`,
bounded), so a successor handed out by ``record`` comes with its event without
reading it back; only older ones (after a restart, long retries) are read.

Send-time configuration: the row keeps the request as encoded at accept, but the
dispatcher encodes again from the event and the subscription's configuration at
the moment of sending (URL, method, auth, headers, template). When that differs
from the stored request, ``record`` stores what was sent (:attr:`Finish.sent`), so
the delivery and its attempt log show what really went out. Replays create new
rows of the same event, so they too are sent with the current configuration.

The loss ledger (:mod:`callhook.store.ledger`): rows are never removed, a dead row
keeps why it is dead (``dead_reason``: gave up, subscription disabled, subscription
deleted), and deleting a subscription closes its pending and inflight rows as dead,
reason deleted, in the delete's own commit -- so every routed delivery is counted
exactly once as delivered, pending, inflight, dead (by reason) or expired.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from callhook.core.events import Event
from callhook.store.base import FINAL, DeadReason, Delivery, Finish, Lease, NewDelivery, NewEvent, Status

__all__ = ["Outcome", "Planned", "RecentEvents", "fresh_items", "outcomes", "plan", "to_delivery"]


class RecentEvents:
    """The events appended last, by id (at most ``capacity``, oldest dropped first),
    so the successors a commit hands out need not be read back and decoded."""

    def __init__(self, capacity: int = 16384) -> None:
        self._cap = capacity
        self._by_id: dict[str, Event] = {}

    def add(self, events: Sequence[Event]) -> None:
        by_id = self._by_id
        for ev in events:
            by_id[ev.id] = ev
        over = len(by_id) - self._cap
        if over > 0:
            for key in list(itertools.islice(by_id, over)):  # dicts keep insertion order
                del by_id[key]

    def get(self, event_id: str) -> Event | None:
        return self._by_id.get(event_id)


@dataclass(frozen=True, slots=True)
class Planned:
    """A delivery row to insert: its status, whether it is its group's head, its lease."""

    event: Event
    new: NewDelivery
    status: Status
    head: bool
    lease: Lease | None


def fresh_items(items: Sequence[NewEvent], stored: set[str]) -> list[NewEvent]:
    """The items whose event is not stored yet (nor repeated earlier in ``items``)."""
    seen = set(stored)
    out = []
    for item in items:
        if item.event.id not in seen:
            seen.add(item.event.id)
            out.append(item)
    return out


def plan(
    fresh: Sequence[NewEvent], active: set[tuple[str, str]], now: float, room: int, lease: Lease | None
) -> list[Planned]:
    """Head and status of each new delivery. ``active``: the groups that already have a
    pending or inflight row; up to ``room`` due heads are leased to ``lease`` (the feed)."""
    taken = set(active)
    out = []
    for item in fresh:
        for d in item.deliveries:
            if d.status in FINAL:
                out.append(Planned(item.event, d, d.status, False, None))
                continue
            group = (d.subscription_id, d.order_key)
            head = group not in taken
            taken.add(group)
            if head and lease is not None and room > 0 and d.next_at <= now:
                room -= 1
                out.append(Planned(item.event, d, Status.INFLIGHT, True, lease))
            else:
                out.append(Planned(item.event, d, Status.PENDING, head, None))
    return out


def to_delivery(p: Planned, delivery_id: int, now: float) -> Delivery:
    """The Delivery a planned row became (what the feed is handed)."""
    d = p.new
    return Delivery(
        id=delivery_id,
        event_id=p.event.id,
        subscription_id=d.subscription_id,
        tenant=d.tenant,
        order_key=d.order_key,
        status=p.status,
        attempts=0,
        next_at=d.next_at,
        expires_at=d.expires_at,
        request=d.request,
        created_at=now,
        last_error=d.last_error,
        finished_at=now if p.status in FINAL else None,
        lease_id=p.lease.id if p.lease else "",
        event=p.event,
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One finish as the set-based UPDATE applies it (a row of its VALUES)."""

    id: int
    lease_id: str
    status: str
    head: bool
    attempts: int  # added to the count: 1 when a request was sent, 0 for a deferral
    next_at: float | None
    last_error: str
    last_status: int | None
    finished_at: float | None
    dead_reason: str = ""  # why, when status is dead (DeadReason), else ""

    @property
    def final(self) -> bool:
        return self.status in FINAL


def outcomes(items: Sequence[Finish], now: float) -> list[Outcome]:
    """The rows of a batch of finishes; a delivery finished twice in one batch keeps
    its first outcome (the second could no longer hold the lease)."""
    seen: set[int] = set()
    out = []
    for f in items:
        if f.delivery_id in seen:
            continue
        seen.add(f.delivery_id)
        final = f.status in FINAL
        out.append(
            Outcome(
                f.delivery_id,
                f.lease_id,
                f.status.value,
                not final,
                int(f.attempt is not None),
                f.next_at,
                f.last_error,
                f.last_status,
                now if final else None,
                (f.reason or DeadReason.GAVE_UP).value if f.status == Status.DEAD else "",
            )
        )
    return out

"""Disable notices: a ``webhook.disabled`` event for the admin's webhooks that ask for it.

The dispatcher calls :meth:`Notices.disabled` when it disables a webhook (a 410 Gone,
or no success for ``disable_after`` seconds of continuous failure). The event is
stored like any other, with one delivery to each admin webhook (tenant "") that lists
``webhook.disabled`` in its events (:func:`callhook.core.notices.wants_notice`), so it
is durable, ordered, retried and in the ledger like every delivery. The delivery-health
page shows the last notice of each disabled webhook (it reads the stored events).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from callhook.core.dialects.base import Request
from callhook.core.events import Event, new_event_id
from callhook.core.notices import disabled_event, wants_notice
from callhook.core.routing import order_key
from callhook.core.subscription import Subscription
from callhook.delivery.redact import redact_url
from callhook.store.base import NewDelivery, NewEvent, Store

__all__ = ["Notices"]

log = logging.getLogger(__name__)

Encoder = Callable[[Event, Subscription], Request | None]


class Notices:
    def __init__(self, store: Store, encode: Encoder | None) -> None:
        self._store, self._encode = store, encode

    async def disabled(self, sub: Subscription, reason: str, now: float, failing_since: float | None = None) -> int:
        """Store the notice for ``sub``; the number of webhooks it goes to."""
        at = datetime.fromtimestamp(now, UTC)
        since = None if failing_since is None else datetime.fromtimestamp(failing_since, UTC)
        ev = disabled_event(new_event_id(int(now * 1000)), sub, redact_url(sub.url), reason, at, since)
        deliveries = []
        for target in await self._store.list_subscriptions(tenant="", with_secrets=True):
            if not wants_notice(target, sub.id):
                continue
            req = self._encode(ev, target) if self._encode is not None else None
            if req is None:
                continue  # its dialect has no message for it
            deliveries.append(NewDelivery(target.id, "", order_key(ev), req, now))
        await self._store.append([NewEvent(ev, tuple(deliveries))], now)
        log.warning(
            "webhook %s disabled (%s): notice to %d webhook(s)",
            sub.id,
            reason,
            len(deliveries),
            extra={"subscription_id": sub.id},
        )
        return len(deliveries)

"""callhook's notices about itself, as canonical events (pure).

``webhook.disabled``: a webhook was disabled -- its receiver answered 410 Gone, or it
failed without a success for the configured time. The event's ``variables`` say
which and why::

    subscription_id      the disabled webhook's id
    subscription_tenant  its tenant ("" for the admin's)
    url                  its URL, credentials removed
    reason               "410 Gone" or "failing since <ISO time>"
    failing_since        ISO 8601 (only for the automatic disable)

It goes only to the admin's webhooks (tenant "") that ask for it by name in their
``events`` (a webhook with every event type gets no notice it did not ask for), and
never to the disabled webhook itself.
"""

from __future__ import annotations

from datetime import datetime

from callhook.core.events import Event, EventType
from callhook.core.subscription import Subscription

__all__ = ["disabled_event", "wants_notice"]

SOURCE = "callhook"


def wants_notice(sub: Subscription, disabled_id: str) -> bool:
    return sub.enabled and sub.tenant == "" and sub.id != disabled_id and EventType.WEBHOOK_DISABLED.value in sub.events


def disabled_event(
    event_id: str, sub: Subscription, url: str, reason: str, at: datetime, failing_since: datetime | None = None
) -> Event:
    """The ``webhook.disabled`` event for ``sub`` (``url`` already without credentials)."""
    variables = {
        "subscription_id": sub.id,
        "subscription_tenant": sub.tenant,
        "url": url,
        "reason": reason,
    }
    if failing_since is not None:
        variables["failing_since"] = failing_since.isoformat()
    return Event(id=event_id, type=EventType.WEBHOOK_DISABLED, ts=at, variables=variables, source=SOURCE)

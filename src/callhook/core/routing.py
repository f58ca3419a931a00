"""Which subscriptions an event goes to, and the key its order is kept under.

Pure. ``matches`` applies, in this order: the subscription is enabled; the tenant
(a subscription with tenant ``""`` sees every tenant); the event types (empty: all);
the filters (queue, extension, agent login); and the Telphin agent scope. The
dialect's own choice (an encoder returning None) comes later, in the encoder.

The order key groups the events that must arrive in order for one subscription:
a call's events (call and queue events) by the call key, an agent's events (the
wrap-up after a call too, which also carries that call's key and sequence) by the
agent, an extension's presence by the extension. Events with no key get a group of
their own (no order to keep).
"""

from __future__ import annotations

from callhook.core.events import Event
from callhook.core.subscription import Subscription

__all__ = ["matches", "order_key"]


def _extension_matches(want: str, event: Event) -> bool:
    if event.leg is not None and event.leg.number == want:
        return True
    if event.presence is not None and event.presence.number == want:
        return True
    return event.agent is not None and event.agent.number == want


def _agent_matches(want: str, event: Event) -> bool:
    if event.agent is not None and event.agent.login == want:
        return True
    return event.leg is not None and event.leg.login == want


def matches(sub: Subscription, event: Event) -> bool:
    if not sub.enabled:
        return False
    if sub.tenant and sub.tenant != event.tenant:
        return False
    if sub.events and event.type.value not in sub.events:
        return False
    f = sub.filters
    if f.queue and event.queue != f.queue:
        return False
    if f.extension and not _extension_matches(f.extension, event):
        return False
    if f.agent and not _agent_matches(f.agent, event):
        return False
    if sub.telphin_agent_id:
        # Telphin's routes scope a subscription to one agent: only that agent's events.
        if not event.type.is_agent or event.agent is None:
            return False
        if sub.telphin_agent_type and event.agent.agent_type != sub.telphin_agent_type:
            return False
        return (event.agent.agent_id or event.agent.number) == sub.telphin_agent_id
    return True


def order_key(event: Event) -> str:
    if event.type.is_agent:  # agent.wrapup too: the agent's state, ordered with its other changes
        who = event.agent.login or event.agent.number if event.agent is not None else ""
        return f"agent:{who}" if who else f"event:{event.id}"
    if event.presence is not None and event.presence.number:
        return f"extension:{event.presence.number}"
    return event.call_id or f"event:{event.id}"

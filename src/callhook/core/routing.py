"""Which subscriptions an event goes to, and the key its order is kept under.

Pure. ``matches`` applies, in this order: the subscription is enabled; the tenant
(a subscription with tenant ``""`` sees every tenant); the event types (empty: all);
the filters (queues, extensions, agent logins, numbers by list or prefix, directions,
tenants: each a set, a value in it matches); and the Telphin agent scope. Filters see
the real numbers; masking (:mod:`callhook.core.masking`) comes later, in the encoder. The
dialect's own choice (an encoder returning None) comes later, in the encoder.

The order key groups the events that must arrive in order for one subscription:
a call's events (call and queue events) by the call key, an agent's events (the
wrap-up after a call too, which also carries that call's key and sequence) by the
agent, an extension's presence by the extension. Events with no key get a group of
their own (no order to keep).
"""

from __future__ import annotations

from callhook.core.events import Event
from callhook.core.subscription import Filters, Subscription

__all__ = ["digits", "matches", "order_key"]


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


def digits(number: str) -> str:
    """A number as filters compare it: its digits only (``+7 (916) 12`` -> ``791612``)."""
    return "".join(c for c in number if c.isdigit())


def _number_matches(f: Filters, event: Event) -> bool:
    numbers = [n for n in (digits(event.party.caller_num), digits(event.party.called_num)) if n]
    if not numbers:
        return False
    want = {digits(n) for n in f.numbers}
    prefixes = tuple(digits(p) for p in f.number_prefixes)
    return any(n in want or (prefixes and n.startswith(prefixes)) for n in numbers)


def _filters_match(f: Filters, event: Event) -> bool:
    queues = f.all_of("queue")
    if queues and event.queue not in queues:
        return False
    extensions = f.all_of("extension")
    if extensions and not any(_extension_matches(x, event) for x in extensions):
        return False
    agents = f.all_of("agent")
    if agents and not any(_agent_matches(a, event) for a in agents):
        return False
    if (f.numbers or f.number_prefixes) and not _number_matches(f, event):
        return False
    if f.directions and (event.party.direction is None or event.party.direction.value not in f.directions):
        return False
    return not (f.tenants and event.tenant not in f.tenants)


def matches(sub: Subscription, event: Event) -> bool:
    if not sub.enabled:
        return False
    if sub.tenant and sub.tenant != event.tenant:
        return False
    if sub.events and event.type.value not in sub.events:
        return False
    if not _filters_match(sub.filters, event):
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

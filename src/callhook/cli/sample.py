"""A synthetic event for ``callhook webhooks test``: one that a given webhook will get.

callhook's API has no "send a test request" route, so the test goes the way real
events go: an event is POSTed to ``/ingest/callhook`` and delivered by the
dispatcher. :func:`sample_for` picks the first of a few candidate events that the
webhook's routing lets through (its event types, filters, tenant) and its dialect
has a message for; the caller number is the test marker ``000000000`` and the call
id starts with ``test-``. Every other webhook that matches the event gets it too:
:func:`also_matching` names them, so the command can say so.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from callhook.core import dialects
from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Leg, QueueCall, new_event_id
from callhook.core.routing import matches
from callhook.core.subscription import BasicAuth, Dialect, Filters, Subscription

__all__ = ["also_matching", "sample_for", "subscription_of"]

TEST_CALLER = "000000000"


def subscription_of(out: Mapping[str, Any]) -> Subscription:
    """A subscription as the API lists it (no secrets: enough for routing and encoding)."""
    f = out.get("filters") or {}
    auth = out.get("auth")
    return Subscription(
        id=str(out["id"]),
        url=str(out["url"]),
        dialect=Dialect(out["dialect"]),
        method=str(out.get("method", "POST")),
        events=frozenset(out.get("events") or ()),
        url_template=str(out.get("url_template", "")),
        auth=BasicAuth(str(auth["username"]), "") if isinstance(auth, Mapping) else None,
        headers=dict(out.get("headers") or {}),
        secret="x" if out.get("has_secret") else "",
        filters=Filters(str(f.get("queue", "")), str(f.get("extension", "")), str(f.get("agent", ""))),
        tenant=str(out.get("tenant", "")),
        enabled=bool(out.get("enabled", True)),
    )


def _candidates(sub: Subscription, now: datetime) -> Iterable[Event]:
    f = sub.filters
    marker = secrets.token_hex(6)  # a call and an agent of their own: no earlier delivery holds this one up
    exten, login, queue = f.extension or "20", f.agent or f"test-{marker}", f.queue
    call_id = f"test-{marker}"
    party = CallParty(
        caller_num=TEST_CALLER,
        caller_name="callhook test",
        called_num=exten,
        direction=Direction.INCOMING,
        caller_type="external",
    )
    leg = Leg(number=exten, name="callhook test", login=login, leg_id=f"{call_id}.1", channel=f"Test/{exten}")
    agent = AgentInfo(
        login=login,
        number=exten,
        name="callhook test",
        interface=f"Test/{exten}",
        extension_name=f"{exten}@test",
        agent_id=exten,
        event_source="api",
    )

    def ev(t: EventType, **kw: Any) -> Event:
        kw.setdefault("call_id", call_id)
        kw.setdefault("party", party)
        kw.setdefault("queue", queue)
        return Event(id=new_event_id(int(now.timestamp() * 1000)), type=t, ts=now, tenant=sub.tenant, seq=1, **kw)

    yield ev(EventType.CALL_NEW)
    yield ev(EventType.CALL_RINGING, leg=leg)
    yield ev(EventType.QUEUE_JOINED, queue=queue or "TEST", queue_call=QueueCall(member_channel_id=f"{call_id}.0"))
    yield ev(EventType.AGENT_LOGIN, call_id="", party=CallParty(), agent=agent)


def sample_for(sub: Subscription, now: datetime) -> Event | None:
    """An event ``sub`` gets a request for, or None when none of the candidates fits."""
    for event in _candidates(sub, now):
        if matches(sub, event) and dialects.encode(event, sub) is not None:
            return event
    return None


def also_matching(event: Event, subs: Iterable[Subscription], but: str) -> list[str]:
    """The ids of the other webhooks that get ``event`` too."""
    return [s.id for s in subs if s.id != but and matches(s, event) and dialects.encode(event, s) is not None]

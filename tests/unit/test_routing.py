"""Routing: which subscription sees which event, and the order key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from callhook.core.events import AgentInfo, Event, EventType, Leg
from callhook.core.routing import matches, order_key
from callhook.core.subscription import Dialect, Filters, Subscription

TS = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SUB = Subscription(id="s1", url="http://crm.example/hook", dialect=Dialect.CALLHOOK)


def ev(etype: EventType = EventType.CALL_RINGING, **kw: object) -> Event:
    base: dict[str, object] = {
        "id": "01HX0000000000000000000000",
        "type": etype,
        "ts": TS,
        "tenant": "acme",
        "call_id": "1714564800.1",
        "seq": 1,
    }
    base.update(kw)
    return Event(**base)  # type: ignore[arg-type]


RINGING_101 = ev(leg=Leg(number="101", login="alice"), queue="sales")
AGENT_LOGIN = ev(EventType.AGENT_LOGIN, call_id="", agent=AgentInfo(login="bob", number="102"))


@pytest.mark.parametrize(
    ("sub", "event", "expected"),
    [
        (SUB, RINGING_101, True),
        (replace(SUB, enabled=False), RINGING_101, False),
        (replace(SUB, tenant="acme"), RINGING_101, True),
        (replace(SUB, tenant="other"), RINGING_101, False),
        (replace(SUB, events=frozenset({"call.ringing"})), RINGING_101, True),
        (replace(SUB, events=frozenset({"call.hangup"})), RINGING_101, False),
        (replace(SUB, filters=Filters(queue="sales")), RINGING_101, True),
        (replace(SUB, filters=Filters(queue="support")), RINGING_101, False),
        (replace(SUB, filters=Filters(queue="sales")), AGENT_LOGIN, False),
        (replace(SUB, filters=Filters(extension="101")), RINGING_101, True),
        (replace(SUB, filters=Filters(extension="102")), RINGING_101, False),
        (replace(SUB, filters=Filters(extension="102")), AGENT_LOGIN, True),  # the agent's number
        (replace(SUB, filters=Filters(agent="alice")), RINGING_101, True),  # the leg's login
        (replace(SUB, filters=Filters(agent="bob")), AGENT_LOGIN, True),
        (replace(SUB, filters=Filters(agent="bob")), RINGING_101, False),
        (replace(SUB, filters=Filters(queue="sales", extension="101", agent="alice")), RINGING_101, True),
        (replace(SUB, filters=Filters(queue="sales", extension="101", agent="carol")), RINGING_101, False),
        (replace(SUB, telphin_agent_id="102"), AGENT_LOGIN, True),
        (replace(SUB, telphin_agent_id="103"), AGENT_LOGIN, False),
        (replace(SUB, telphin_agent_id="101"), RINGING_101, False),  # Telphin scope: agent events only
    ],
)
def test_matches(sub: Subscription, event: Event, expected: bool) -> None:
    assert matches(sub, event) is expected


@pytest.mark.parametrize(
    ("event", "key"),
    [
        (RINGING_101, "1714564800.1"),
        (ev(EventType.QUEUE_JOINED, call_id="c9"), "c9"),
        (AGENT_LOGIN, "agent:bob"),
        (ev(EventType.AGENT_PAUSED, call_id="", agent=AgentInfo(number="555")), "agent:555"),
        (ev(EventType.AGENT_PAUSED, call_id="", agent=AgentInfo()), "event:01HX0000000000000000000000"),
        (ev(EventType.CALL_NEW, call_id=""), "event:01HX0000000000000000000000"),
    ],
)
def test_order_key(event: Event, key: str) -> None:
    assert order_key(event) == key


def test_number_direction_and_tenant_filters() -> None:
    from callhook.core.events import CallParty, Direction

    party = CallParty(caller_num="+7 916 123-45-67", called_num="84957654321", direction=Direction.INCOMING)
    call = ev(EventType.CALL_NEW, party=party, tenant="acme")

    def sub(**kw: object) -> Subscription:
        return replace(SUB, filters=Filters(**kw))  # type: ignore[arg-type]

    assert matches(sub(numbers=frozenset({"79161234567"})), call)  # digits only, either side
    assert matches(sub(numbers=frozenset({"8 (495) 765-43-21"})), call)  # the called number (DID)
    assert not matches(sub(numbers=frozenset({"7916123456"})), call)  # a list is exact
    assert matches(sub(number_prefixes=frozenset({"+7916"})), call)
    assert matches(sub(number_prefixes=frozenset({"1", "8495"})), call)
    assert not matches(sub(number_prefixes=frozenset({"7495"})), call)
    assert matches(sub(directions=frozenset({"incoming", "outgoing"})), call)
    assert not matches(sub(directions=frozenset({"outgoing"})), call)
    assert not matches(sub(directions=frozenset({"incoming"})), ev(EventType.CALL_NEW))  # no direction
    assert not matches(sub(numbers=frozenset({"20"})), ev(EventType.AGENT_LOGIN))  # no numbers at all
    assert matches(sub(tenants=frozenset({"acme", "b"})), call)
    assert not matches(sub(tenants=frozenset({"b"})), call)
    # several filters: all must match
    assert not matches(sub(number_prefixes=frozenset({"7916"}), directions=frozenset({"outgoing"})), call)
    # the single values and the sets add up
    q = ev(EventType.QUEUE_JOINED, queue="support")
    assert matches(sub(queue="sales", queues=frozenset({"support"})), q)
    assert not matches(sub(queue="sales", queues=frozenset({"billing"})), q)

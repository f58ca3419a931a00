"""The dialect registry, the native (callhook) dialect and the shared request rules."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest

from callhook import templating
from callhook.core import dialects
from callhook.core.dialects import DecodeError
from callhook.core.events import (
    AgentInfo,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    new_event_id,
)
from callhook.core.serialize import event_to_dict
from callhook.core.subscription import BasicAuth, Dialect, Subscription

T = EventType
TS = datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC)
EVENT = Event(
    id=new_event_id(1_715_000_000_000, bytes(10)),
    type=T.CALL_RECORD,
    ts=TS,
    tenant="lab",
    call_id="1.2",
    seq=7,
    party=CallParty(caller_num="777888999", called_num="222333444", direction=Direction.INCOMING),
    record=CallRecord(start=TS, end=TS, disposition="NO ANSWER"),
    variables={"crm": "Oběd"},
)


def test_canonical_types() -> None:
    assert dialects.canonical_types("voipex", ["Ringing", "call.hangup"]) == {T.CALL_RINGING, T.CALL_HANGUP}
    assert dialects.canonical_types(Dialect.VOIPEX, ["Answered"]) == {T.CALL_ANSWERED, T.CALL_PICKUP}
    assert dialects.canonical_types("voipex", ["agentpaused"]) == {T.AGENT_PAUSED}
    assert dialects.canonical_types("pbx2is", ["dial"]) == {T.CALL_NEW, T.CALL_TRANSFER_BLIND, T.CALL_TRANSFER_ATTENDED}
    assert dialects.canonical_types("telphin", ["agent-login"]) == {T.AGENT_LOGIN}
    assert dialects.canonical_types("webitel", ["Offering", "agent.wrapup"]) == {T.QUEUE_OFFERED, T.AGENT_WRAPUP}
    assert dialects.canonical_types("callhook", [t.value for t in T]) == set(T)
    assert dialects.canonical_types("callhook", []) == frozenset()
    with pytest.raises(ValueError, match="'Rining'"):
        dialects.canonical_types("voipex", ["Ringing", "Rining"])
    with pytest.raises(ValueError, match=re.escape("'queue.joined'")):
        dialects.canonical_types("voipex", ["queue.joined"])
    with pytest.raises(ValueError, match=re.escape("'call.transfer.blind'")):
        dialects.canonical_types("voipex", ["call.transfer.blind"])
    with pytest.raises(ValueError, match="unknown dialect"):
        dialects.canonical_types("sip", ["x"])


CARRIED = {
    Dialect.VOIPEX: set(T)
    - {T.CALL_ENDED, T.CALL_TRANSFER_BLIND, T.AGENT_WRAPUP, T.CALL_HOLD, T.CALL_UNHOLD, T.EXTENSION_PRESENCE}
    - {t for t in T if t.is_queue}
    - {T.WEBHOOK_DISABLED, T.CALL_RECORDING},  # callhook's own notice, a recording: no VOIPEX message
    Dialect.PBX2IS: {
        T.CALL_NEW,
        T.CALL_ANSWERED,
        T.CALL_PICKUP,
        T.CALL_HANGUP,
        T.CALL_ENDED,
        T.CALL_TRANSFER_BLIND,
        T.CALL_TRANSFER_ATTENDED,
    },
    Dialect.TELPHIN: {T.AGENT_LOGIN, T.AGENT_LOGOUT},
    Dialect.WEBITEL: {T.QUEUE_JOINED, T.QUEUE_OFFERED, T.QUEUE_BRIDGED, T.QUEUE_MISSED, T.QUEUE_LEFT, T.AGENT_WRAPUP},
    Dialect.CALLHOOK: set(T),
    Dialect.TEMPLATE: set(T),
}


@pytest.mark.parametrize("dialect", list(Dialect))
def test_carries_and_encode_agree(dialect: Dialect) -> None:
    sub = Subscription(id="s", url="http://h/", dialect=dialect, method="GET" if dialect == "pbx2is" else "POST")
    if dialect is Dialect.TEMPLATE:
        sub = dataclasses.replace(sub, template=templating.build(body="{{ type }}"))
    for etype in T:
        assert dialects.carries(dialect, etype) == (etype in CARRIED[dialect]), etype
        event = Event(
            id="x",
            type=etype,
            ts=TS,
            call_id="1.2",
            leg=Leg(number="20"),
            agent=AgentInfo(number="20"),
            hangup=Hangup("Normal Clearing", 16, answered=True),
        )
        assert (dialects.encode(event, sub) is not None) == (etype in CARRIED[dialect]), etype


def test_native_is_event_to_dict() -> None:
    sub = Subscription(id="s", url="http://h/", dialect=Dialect.CALLHOOK)
    req = dialects.encode(EVENT, sub)
    assert req is not None
    assert json.loads(req.body) == event_to_dict(EVENT)
    assert '"crm":"Oběd"'.encode() in req.body
    back = dialects.decode("callhook", req.body, now=TS, new_id=lambda _: "unused", tenant="")
    assert back == dataclasses.replace(EVENT, source="ingest:callhook")
    assert dialects.decode("callhook", req.body, now=TS, new_id=str, tenant="other").tenant == "other"


def test_native_decode() -> None:
    new = dialects.decode(
        "callhook",
        b'{"type":"call.new","ts":"2024-05-06T10:11:12Z"}',
        now=TS,
        new_id=lambda now: new_event_id(int(now.timestamp() * 1000), bytes(10)),
    )
    assert new.id == new_event_id(int(TS.timestamp() * 1000), bytes(10))
    for body, field in [
        (b'{"type":"call.new","ts":"2024-05-06T10:11:12Z","id":"x"}', "id"),
        (b'{"type":"call.nothing","ts":"2024-05-06T10:11:12Z"}', "type"),
        (b'{"type":"call.new","ts":"noon"}', "ts"),
        (b'{"type":"call.new","ts":"2024-05-06T10:11:12Z","party":{"direction":"up"}}', "party.direction"),
        (b'{"type":"call.new","ts":"2024-05-06T10:11:12Z","seq":"1"}', "seq"),
        (b"[]", "body"),
    ]:
        with pytest.raises(DecodeError) as info:
            dialects.decode("callhook", body, now=TS, new_id=lambda _: new_event_id(0, bytes(10)))
        assert info.value.field == field, body


def test_decode_unknown_dialect_is_a_decode_error() -> None:
    with pytest.raises(DecodeError) as info:
        dialects.decode("asterisk", b"{}", now=TS, new_id=str)
    assert info.value.field == "dialect"


@pytest.mark.parametrize("dialect", list(Dialect))
def test_auth_and_custom_headers(dialect: Dialect) -> None:
    sub = Subscription(
        id="s",
        url="http://h/",
        dialect=dialect,
        method="POST",
        auth=BasicAuth("crm", "secret"),
        headers={
            "X-Tenant": "lab",
            "content-type": "text/plain",
            "authorization": "Bearer t",
            "Bad\n": "x",
            "X-Evil": "a\r\nInjected: 1",
        },
    )
    if dialect is Dialect.TEMPLATE:  # its Content-Type is the template's own
        t = templating.build(body="{{ type }}", headers={"Content-Type": "application/json"})
        sub = dataclasses.replace(sub, template=t)
    etype = min(CARRIED[dialect])  # deterministic: a set iterates in hash order
    req = dialects.encode(Event(id="x", type=etype, ts=TS, call_id="1.2", leg=Leg(number="20")), sub)
    assert req is not None
    names = [k.lower() for k, _ in req.headers]
    assert names == ["content-type", "authorization", "x-tenant"]
    assert req.header("Authorization") == "Basic Y3JtOnNlY3JldA=="
    assert req.header("X-Tenant") == "lab"


def test_custom_headers_fill_what_the_dialect_leaves_open() -> None:
    sub = Subscription(
        id="s", url="http://h/", dialect=Dialect.PBX2IS, method="GET", headers={"Authorization": "Bearer t"}
    )
    req = dialects.encode(Event(id="x", type=T.CALL_NEW, ts=TS, call_id="1.2"), sub)
    assert req is not None
    assert req.headers == (("Authorization", "Bearer t"),)


def test_template_header_values_cannot_add_a_header() -> None:
    tpl = templating.build(body="x", headers={"X-Name": "{{ party.caller_name }}"})
    sub = Subscription(id="s", url="http://h/", dialect=Dialect.TEMPLATE, template=tpl)
    party = CallParty(caller_name="Eve\r\nX-Injected: 1")
    req = dialects.encode(Event(id="x", type=T.CALL_NEW, ts=TS, party=party), sub)
    assert req is not None
    assert req.headers == (("X-Name", "Eve  X-Injected: 1"),)

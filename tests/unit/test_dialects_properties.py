"""Properties of every dialect, with Hypothesis.

1. Round trip: for every event type a dialect carries, ``decode(encode(e))`` keeps
   every field the dialect carries. Stated exactly: encoding the decoded event
   gives the same request again (same URL, headers and body), and the fields that
   identify the event (type family, call id, time where carried) come back.
2. Robustness: encoders never raise on any event and subscription; decoders raise
   nothing but DecodeError on any input (random bytes, random JSON objects over
   the dialect's own keys, random form pairs).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook import templating
from callhook.core import dialects
from callhook.core.dialects import DecodeError, Payload, Request, native, pbx2is, telphin, voipex, webitel
from callhook.core.events import (
    AgentInfo,
    CallOutcome,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    QueueCall,
    Transfer,
    new_event_id,
)
from callhook.core.subscription import MASK_FIELDS, MASK_MODES, BasicAuth, Dialect, Masking, Subscription

T = EventType
NOW = datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------- strategies
SPECIAL = ["", "Oběd", "Příliš žluťoučký kůň", "Звонок", "a&b=c?d#e%f+g h", "x" * 3000, "1412256225.1941"]
#: text a real event holds; ``wild`` adds a lone surrogate (not encodable as UTF-8)
texts = st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL))
wild = st.one_of(texts, st.just("\ud800"), st.text(st.characters(categories=["Cs", "Lu", "Cc"]), max_size=4))
offsets = st.one_of(st.just(UTC), st.integers(-23 * 60 + 1, 23 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m))))
aware = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets)
seconds = st.floats(min_value=0, max_value=1e7, allow_nan=False)
ids = st.builds(new_event_id, st.integers(0, 2**48 - 1), st.binary(min_size=10, max_size=10))


def events(
    types: list[EventType],
    *,
    ts: st.SearchStrategy[datetime] = aware,
    text: st.SearchStrategy[str] = texts,
) -> st.SearchStrategy[Event]:
    """Events of ``types`` with every optional group present or not, and any text."""
    parties = st.builds(
        CallParty,
        caller_num=text | st.sampled_from(["20", "777888999"]),
        caller_name=text,
        called_num=text | st.sampled_from(["20", "777888999"]),
        direction=st.none() | st.sampled_from(Direction),
        caller_type=st.sampled_from(["", "internal", "external", "originate"]),
        record_name=text,
    )
    agents = st.builds(
        AgentInfo,
        login=text,
        number=text | st.integers(0, 10**20).map(str),
        name=text,
        email=text,
        interface=text,
        agent_type=st.sampled_from(["local", "remote", "", "other"]),
        extension_name=text,
        pause_reason=text,
        event_source=st.sampled_from(["api", "phone", "", "other"]),
        agent_id=text | st.integers(-(10**16), 10**16).map(str),
    )
    records = st.builds(
        CallRecord,
        start=aware,
        end=aware,
        answer=st.none() | aware,
        duration=st.integers(0, 10**9),
        billsec=st.integers(0, 10**9),
        disposition=text,
        answered_by=text,
        source=text,
        destination=text,
    )
    queue_calls = st.builds(
        QueueCall,
        member_channel_id=text,
        agent_channel_id=text,
        attempt_seq=st.integers(0, 2**40),
        position=st.integers(0, 100),
        wait=seconds,
        call_duration=seconds,
        call_bill_sec=seconds,
        call_voice_sec=seconds,
        cc_result=st.sampled_from(["", "success", "sucess", "abandoned", "cancel"]),
        call_cause=text,
        call_sip_code=st.none() | st.integers(100, 699),
        use_processing=st.booleans(),
    )
    return st.builds(
        Event,
        id=ids,
        type=st.sampled_from(types),
        ts=ts,
        tenant=text,
        call_id=text.filter(bool),
        seq=st.integers(0, 1000),
        party=parties,
        leg=st.none()
        | st.builds(
            Leg,
            number=text | st.sampled_from(["20", "777888999"]),
            name=text,
            login=text,
            email=text,
            leg_id=text,
            channel=text,
            external=st.booleans(),
        ),
        hangup=st.none()
        | st.builds(Hangup, reason=text, cause=st.none() | st.integers(0, 127), answered=st.booleans()),
        queue=text.filter(bool),
        custom_field=text,
        transfer=st.none() | st.builds(Transfer, transferer=text, target=text, kind=text),
        outcome=st.none()
        | st.builds(
            CallOutcome,
            answered=st.booleans(),
            answering_exten=text,
            last_dial_answered=st.booleans(),
            last_dialed_exten=text,
            missed=st.booleans(),
        ),
        record=st.none() | records,
        queue_call=st.none() | queue_calls,
        agent=st.none() | agents,
        variables=st.dictionaries(text, text, max_size=4),
        source=st.just("ami"),
    )


def carried(dialect: Dialect) -> list[EventType]:
    return [t for t in T if dialects.carries(dialect, t)]


def sub_for(dialect: Dialect, method: str) -> Subscription:
    return Subscription(
        id="s",
        url="https://is.example/hook?k=1",
        dialect=dialect,
        method=method,
        auth=BasicAuth("crm", "tajné"),
        headers={"X-Tenant": "lab"},
    )


def payload_of(req: Request, dialect: Dialect) -> Payload:
    if dialect in (Dialect.PBX2IS, Dialect.TELPHIN):
        text = req.url.partition("?")[2] if req.method == "GET" else req.body.decode("ascii")
        return parse_qsl(text, keep_blank_values=True)
    return req.body


def round_trip(dialect: Dialect, event: Event, method: str) -> Event | None:
    sub = sub_for(dialect, method)
    req = dialects.encode(event, sub)
    if req is None:
        return None
    back = dialects.decode(dialect, payload_of(req, dialect), now=NOW, new_id=lambda _: "NEWID", tenant="t")
    assert dialects.encode(back, sub) == req  # the very same request: nothing the dialect carries was lost
    assert back.source == f"ingest:{dialect.value}"
    names = dialects.event_names(dialect)
    assert any(event.type in types and back.type in types for types in names.values())
    return back


# --------------------------------------------------------------- 1. round trip
@SETTINGS
@given(events(carried(Dialect.VOIPEX)))
def test_voipex_round_trip(event: Event) -> None:
    back = round_trip(Dialect.VOIPEX, event, "POST")
    assert back is not None
    assert (back.ts, back.tenant, back.id) == (NOW, "t", "NEWID")  # VOIPEX sends no time
    if event.type.is_agent:
        assert back.queue == event.queue
    else:
        assert back.call_id == event.call_id
        assert back.party.direction == event.party.direction


@SETTINGS
@given(events(carried(Dialect.PBX2IS)), st.sampled_from(["GET", "POST"]))
def test_pbx2is_round_trip(event: Event, method: str) -> None:
    back = round_trip(Dialect.PBX2IS, event, method)
    if back is not None:
        assert back.ts == event.ts
        assert back.ts.utcoffset() == event.ts.utcoffset()
        assert back.call_id == event.call_id
        if event.type is T.CALL_NEW:  # dial carries every party field but the caller's name
            assert back.party == dataclasses.replace(event.party, caller_name="", direction=None)


def with_agent(event: Event) -> Event:
    """Telphin requires an agent id: every agent the tracker reports has a number."""
    agent = event.agent or AgentInfo()
    if not (agent.agent_id or agent.number):
        agent = dataclasses.replace(agent, number="163")
    return dataclasses.replace(event, agent=agent)


@SETTINGS
@given(
    events(carried(Dialect.TELPHIN)).map(with_agent),
    st.sampled_from(["GET", "POST"]),
)
def test_telphin_round_trip(event: Event, method: str) -> None:
    back = round_trip(Dialect.TELPHIN, event, method)
    assert back is not None
    assert back.type == event.type
    assert back.agent is not None
    assert event.agent is not None
    assert back.agent.agent_id == (event.agent.agent_id or event.agent.number)


@SETTINGS
@given(events(carried(Dialect.WEBITEL)))
def test_webitel_round_trip(event: Event) -> None:
    back = round_trip(Dialect.WEBITEL, event, "POST")
    assert back is not None
    assert back.type == event.type
    assert back.queue == event.queue
    assert back.party.caller_num == event.party.caller_num


@SETTINGS
@given(events(list(T)))
def test_native_round_trip(event: Event) -> None:
    req = native.encode(event, sub_for(Dialect.CALLHOOK, "POST"))
    back = dialects.decode("callhook", req.body, now=NOW, new_id=lambda _: "unused")
    assert back == dataclasses.replace(event, source="ingest:callhook")


# --------------------------------------------------------------- 2. robustness
naive_or_aware = st.datetimes(timezones=st.none() | offsets)
subs = st.builds(
    Subscription,
    id=st.just("s"),
    url=wild,
    dialect=st.sampled_from(Dialect),
    method=st.sampled_from(["GET", "POST", "PUT", "", "get"]),
    url_template=st.sampled_from(["", "http://x/{event}/{call_id}?a={ts}&b={nope}", "{exten_num}{{x}}"]),
    auth=st.none() | st.builds(BasicAuth, wild, wild),
    headers=st.dictionaries(wild, wild, max_size=3),
    # the template dialect's template (the others ignore it) and masking, in every dialect
    template=st.just(
        templating.build(body="{{ event|tojson }}", headers={"X-Call": "{{ call_id }} {{ party.caller_num }}"})
    ),
    masking=st.none()
    | st.builds(
        Masking, st.frozensets(st.sampled_from(MASK_FIELDS)), st.sampled_from(MASK_MODES), st.integers(0, 12), wild
    ),
)


@SETTINGS
@given(events(list(T), ts=naive_or_aware, text=wild), subs)
def test_encoders_never_raise(event: Event, sub: Subscription) -> None:
    req = dialects.encode(event, sub)
    assert (req is None) == (not dialects.carries(sub.dialect, event.type)) or sub.dialect == Dialect.PBX2IS
    if req is not None and sub.dialect in (Dialect.VOIPEX, Dialect.WEBITEL, Dialect.CALLHOOK, Dialect.TEMPLATE):
        assert isinstance(json.loads(req.body), dict)
        req.body.decode("utf-8")  # always valid UTF-8


KEYS = sorted(
    {"EventName", "event", "agent_status", "type", "ts", "id", "party", "record", "queue_call", "variables"}
    | {k for m in (voipex, webitel) for k in m.EVENT_NAMES}
    | set(webitel.RESERVED)
    | set(pbx2is.TEMPLATE_NAMES)
    | {
        "From",
        "To",
        "Line",
        "Email",
        "Login",
        "UniqueId",
        "Direction",
        "Reason",
        "CustomField",
        "Queue",
        "PauseName",
        "Start",
        "End",
        "Answer",
        "Duration",
        "Billsec",
        "Disposition",
    }
    | {"agent_id", "agent_type", "agent_number", "extension_name", "event_source"}
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | wild
    | st.sampled_from(sorted({*voipex.EVENT_NAMES, *webitel.EVENT_NAMES, "2024-05-06T10:11:12+02:00", "t"})),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS) | texts, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.sampled_from(KEYS) | wild, json_values, max_size=12)
NAMES = sorted({*pbx2is.EVENT_NAMES, "available", "logged_out", "local", "remote", "api", "t", "f"})
form_values = wild | st.sampled_from([*NAMES, "2016-01-21T13:09:25.95104+01:00", "2016-01-21"])
form_pairs = st.lists(st.tuples(st.sampled_from(KEYS) | wild, form_values), max_size=12)
DECODERS: list[Callable[..., Event]] = [voipex.decode, webitel.decode, native.decode, pbx2is.decode, telphin.decode]


def survives(decode: Callable[..., Event], payload: object) -> None:
    try:
        event: Event | str = decode(payload, now=NOW, new_id=lambda _: new_event_id(0, bytes(10)), tenant="t")
    except DecodeError as exc:
        event = exc.field  # which field is wrong: never empty
    assert isinstance(event, Event) or event


@SETTINGS
@given(st.sampled_from(DECODERS), st.binary(max_size=200) | st.text(max_size=200))
def test_decoders_on_random_bytes(decode: Callable[..., Event], payload: bytes | str) -> None:
    survives(decode, payload)


@SETTINGS
@given(st.sampled_from(DECODERS), json_objects)
def test_decoders_on_random_json(decode: Callable[..., Event], obj: dict[str, Any]) -> None:
    survives(decode, json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.sampled_from(DECODERS), form_pairs | st.lists(st.lists(wild, max_size=3), max_size=3) | st.integers())
def test_decoders_on_random_pairs(decode: Callable[..., Event], pairs: object) -> None:
    survives(decode, pairs)

"""pbx2is: seed 003's two example URLs byte for byte, and the other messages."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qsl

import pytest

from callhook.core.dialects import DecodeError, Payload, pbx2is
from callhook.core.events import CallOutcome, CallParty, Event, EventType, Hangup, Leg, Transfer
from callhook.core.subscription import Dialect, Subscription

T = EventType
CET = timezone(timedelta(hours=1))
GET = Subscription(id="p", url="http://10.1.2.3:8085/", dialect=Dialect.PBX2IS, method="GET")
POST = Subscription(id="p", url="http://10.1.2.3:8085/", dialect=Dialect.PBX2IS, method="POST")

# Seed 003 prints each URL over two or three lines; joined here without the breaks.
SEED_DIAL = (
    "http://10.1.2.3:8085/?event=dial&ts=2016-01-21T13%3A09%3A25.95104%2B01%3A00&call_id=1453378165.749958"
    "&caller_type=internal&caller_num=758&called_num=800123456&transfering_exten="
    "&record_name=20160121-130925-758-800123456"
)
SEED_ENDCALL = (
    "http://10.1.2.3:8085/?event=endcall&ts=2016-01-21T13%3A03%3A22.403343%2B01%3A00&call_id=1453378751.749706"
    "&caller_type=internal&caller_num=546&called_num=80123456&call_answered=t&answering_exten="
    "&last_dial_answered=f&last_dialed_exten=&record_name=20160121-130007-546-800123456"
)

DIAL = Event(
    id="01HX0000000000000000000000",
    type=T.CALL_NEW,
    ts=datetime(2016, 1, 21, 13, 9, 25, 951040, tzinfo=CET),
    call_id="1453378165.749958",
    party=CallParty(
        caller_num="758", called_num="800123456", caller_type="internal", record_name="20160121-130925-758-800123456"
    ),
)
ENDCALL = Event(
    id="01HX0000000000000000000001",
    type=T.CALL_ENDED,
    ts=datetime(2016, 1, 21, 13, 3, 22, 403343, tzinfo=CET),
    call_id="1453378751.749706",
    party=CallParty(
        caller_num="546", called_num="80123456", caller_type="internal", record_name="20160121-130007-546-800123456"
    ),
    outcome=CallOutcome(answered=True, answering_exten="", last_dial_answered=False, last_dialed_exten=""),
)


@pytest.mark.parametrize(("event", "url"), [(DIAL, SEED_DIAL), (ENDCALL, SEED_ENDCALL)])
def test_seed_urls_byte_for_byte(event: Event, url: str) -> None:
    req = pbx2is.encode(event, GET)
    assert req is not None
    assert (req.method, req.url, req.body) == ("GET", url, b"")
    assert req.header("Content-Type") is None


def test_post_sends_the_same_form_as_body() -> None:
    req = pbx2is.encode(DIAL, POST)
    assert req is not None
    assert req.method == "POST"
    assert req.url == "http://10.1.2.3:8085/"
    assert req.header("content-type") == "application/x-www-form-urlencoded"
    assert req.body == SEED_DIAL.partition("?")[2].encode()


def test_query_is_appended_with_ampersand_when_the_url_has_one() -> None:
    sub = Subscription(id="p", url="http://is.example/pbx?key=abc", dialect=Dialect.PBX2IS, method="GET")
    req = pbx2is.encode(DIAL, sub)
    assert req is not None
    assert req.url.startswith("http://is.example/pbx?key=abc&event=dial&ts=")


@pytest.mark.parametrize(
    ("ts", "text"),
    [
        (datetime(2016, 1, 21, 13, 9, 25, 951040, tzinfo=CET), "2016-01-21T13:09:25.95104+01:00"),
        (datetime(2016, 1, 21, 13, 9, 25, 0, tzinfo=CET), "2016-01-21T13:09:25+01:00"),
        (datetime(2016, 1, 21, 13, 9, 25, 500000, tzinfo=UTC), "2016-01-21T13:09:25.5+00:00"),
        (
            datetime(2016, 1, 21, 13, 9, 25, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
            "2016-01-21T13:09:25.000001-05:30",
        ),
    ],
)
def test_ts_as_postgresql_prints_it(ts: datetime, text: str) -> None:
    assert pbx2is.format_ts(ts) == text


def pairs(event: Event) -> dict[str, str]:
    req = pbx2is.encode(event, GET)
    assert req is not None
    items = parse_qsl(req.url.partition("?")[2], keep_blank_values=True)
    return dict(items)


PARTY = CallParty(
    caller_num="777888999",
    caller_name="Zákazník",
    called_num="222333444",
    caller_type="external",
    record_name="20240506-101112-777888999-222333444",
)
TS = datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC)


def call(etype: EventType, **kw: object) -> Event:
    return Event(id="01HX0000000000000000000000", type=etype, ts=TS, call_id="1.2", party=PARTY, **kw)  # type: ignore[arg-type]


def test_parameter_names_and_order() -> None:
    req = pbx2is.encode(call(T.CALL_ANSWERED, leg=Leg(number="21", name="Petr Svoboda")), GET)
    assert req is not None
    names = [k for k, _ in parse_qsl(req.url.partition("?")[2], keep_blank_values=True)]
    assert names == ["event", "ts", "call_id", "exten_num", "exten_name", "caller_num", "caller_type", "record_name"]


def test_answer_internal_external_pickup_hangup() -> None:
    assert pairs(call(T.CALL_ANSWERED, leg=Leg(number="21", name="Petr Svoboda"))) == {
        "event": "answer_internal",
        "ts": "2024-05-06T10:11:12+00:00",
        "call_id": "1.2",
        "exten_num": "21",
        "exten_name": "Petr Svoboda",
        "caller_num": "777888999",
        "caller_type": "external",
        "record_name": "20240506-101112-777888999-222333444",
    }
    # the outside party of an outgoing call answers: the tracker's leg names the calling extension
    outgoing = pairs(call(T.CALL_ANSWERED, leg=Leg(number="20", name="Jana Novakova", external=True)))
    assert outgoing["event"] == "answer_external"
    external = pairs(call(T.CALL_ANSWERED, leg=Leg(channel="IAX2/trunk-7", external=True)))
    assert external["event"] == "answer_external"
    assert (external["called_num"], external["caller_name"]) == ("222333444", "Zákazník")
    assert "exten_num" not in external
    assert pairs(call(T.CALL_ANSWERED))["event"] == "answer_external"
    assert pairs(call(T.CALL_PICKUP, leg=Leg(number="22")))["event"] == "call_pickup"
    talked = Hangup("Normal Clearing", 16, answered=True)
    assert pairs(call(T.CALL_HANGUP, leg=Leg(number="21", name="Petr Svoboda"), hangup=talked)) == {
        "event": "hangup_internal",
        "ts": "2024-05-06T10:11:12+00:00",
        "call_id": "1.2",
        "exten_num": "21",
        "exten_name": "Petr Svoboda",
        "record_name": "20240506-101112-777888999-222333444",
    }
    # only a leg that had answered had a part in the call: not a ring-all loser, not a busy phone
    assert (
        pbx2is.encode(call(T.CALL_HANGUP, leg=Leg(number="20"), hangup=Hangup("Answered elsewhere", 26)), GET) is None
    )
    assert pbx2is.encode(call(T.CALL_HANGUP, leg=Leg(number="20")), GET) is None
    assert pbx2is.encode(call(T.CALL_HANGUP, hangup=talked), GET) is None
    assert pbx2is.encode(call(T.CALL_HANGUP, leg=Leg(channel="IAX2/trunk-7"), hangup=talked), GET) is None
    assert pbx2is.encode(call(T.CALL_HANGUP, leg=Leg(number="20", external=True), hangup=talked), GET) is None


@pytest.mark.parametrize("etype", [T.CALL_TRANSFER_BLIND, T.CALL_TRANSFER_ATTENDED])
def test_transfer_is_a_dial_with_transfering_exten(etype: EventType) -> None:
    got = pairs(call(etype, transfer=Transfer(transferer="20", target="22")))
    assert (got["event"], got["caller_num"], got["called_num"], got["transfering_exten"]) == (
        "dial",
        "777888999",
        "22",
        "20",
    )


@pytest.mark.parametrize(
    "etype", [T.CALL_RINGING, T.CALL_TRANSFER_CANCELLED, T.CALL_RECORD, T.QUEUE_JOINED, T.AGENT_LOGIN]
)
def test_no_message(etype: EventType) -> None:
    assert pbx2is.encode(call(etype, leg=Leg(number="20")), GET) is None


def test_url_template() -> None:
    sub = Subscription(
        id="p",
        url="http://ignored/",
        dialect=Dialect.PBX2IS,
        method="GET",
        url_template="http://is.example/{event}/{call_id}?ts={ts}&who={caller_name}&x={exten_num}&y={nonsense}",
    )
    req = pbx2is.encode(call(T.CALL_NEW), sub)
    assert req is not None
    assert req.url == "http://is.example/dial/1.2?ts=2024-05-06T10%3A11%3A12%2B00%3A00&who=&x=&y="
    answered = pbx2is.encode(call(T.CALL_ANSWERED, leg=Leg(number="21", name="Jan Nový")), sub)
    assert answered is not None
    assert answered.url == "http://is.example/answer_internal/1.2?ts=2024-05-06T10%3A11%3A12%2B00%3A00&who=&x=21&y="
    posted = pbx2is.encode(call(T.CALL_NEW), dataclasses.replace(sub, method="POST"))
    assert posted is not None
    assert posted.url.startswith("http://is.example/dial/1.2?ts=")
    assert posted.body.startswith(b"event=dial&ts=")


def decode(payload: Payload) -> Event:
    return pbx2is.decode(payload, now=TS, new_id=lambda _: "NEWID", tenant="lab")


def test_decode_seed_urls() -> None:
    dial = decode(parse_qsl(SEED_DIAL.partition("?")[2], keep_blank_values=True))
    assert (dial.type, dial.ts, dial.call_id, dial.party, dial.source) == (
        DIAL.type,
        DIAL.ts,
        DIAL.call_id,
        DIAL.party,
        "ingest:pbx2is",
    )
    assert dial.ts.utcoffset() == timedelta(hours=1)
    end = decode(SEED_ENDCALL.partition("?")[2].encode())  # the raw query string works too
    assert end.outcome == ENDCALL.outcome
    assert end.ts == ENDCALL.ts


def test_decode_transfer_dial() -> None:
    e = decode(
        [
            ("event", "dial"),
            ("ts", "2024-05-06T10:11:12Z"),
            ("call_id", "1.2"),
            ("caller_num", "7"),
            ("called_num", "22"),
            ("transfering_exten", "20"),
        ]
    )
    assert e.type is T.CALL_TRANSFER_BLIND
    assert e.transfer == Transfer(transferer="20", target="22", kind="blind")


def test_first_occurrence_wins() -> None:
    e = decode([("event", "endcall"), ("ts", "2024-05-06T10:11:12Z"), ("call_id", "1.2"), ("event", "dial")])
    assert e.type is T.CALL_ENDED


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "event"),
        ([("event", "ring")], "event"),
        ([("event", "dial"), ("call_id", "1.2")], "ts"),
        ([("event", "dial"), ("ts", "yesterday"), ("call_id", "1.2")], "ts"),
        ([("event", "dial"), ("ts", "2016-01-21T13:09:25"), ("call_id", "1.2")], "ts"),
        ([("event", "dial"), ("ts", "2016-01-21T13:09:25Z")], "call_id"),
        (
            [("event", "dial"), ("ts", "2016-01-21T13:09:25Z"), ("call_id", "1"), ("caller_type", "alien")],
            "caller_type",
        ),
        (
            [("event", "endcall"), ("ts", "2016-01-21T13:09:25Z"), ("call_id", "1"), ("call_answered", "yes")],
            "call_answered",
        ),
        ([("event", "answer_internal"), ("ts", "2016-01-21T13:09:25Z"), ("call_id", "1")], "exten_num"),
        ([("event",)], "body"),
        ([("event", 1)], "body"),
        (b"event=%FF", "body"),
        (b"\xff", "body"),
        (12, "body"),
    ],
)
def test_decode_errors_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(payload)  # type: ignore[arg-type]
    assert info.value.field == field

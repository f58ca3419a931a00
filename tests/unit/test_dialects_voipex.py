"""voipex: the JSON examples of spec/dialects.md section 1 and seed 000, key for key.

Each expected object is copied from the spec (or the seed), never from the
encoder's output; the event is the one the example describes.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from callhook.core.dialects import DecodeError, voipex
from callhook.core.events import (
    AgentInfo,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
    Leg,
    Transfer,
)
from callhook.core.subscription import BasicAuth, Dialect, Subscription

T = EventType
TS = datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC)
SUB = Subscription(id="s1", url="https://crm.example/hook", dialect=Dialect.VOIPEX, auth=BasicAuth("crm", "secret"))


def ev(etype: EventType, **kw: object) -> Event:
    return Event(id="01HX0000000000000000000000", type=etype, ts=TS, **kw)  # type: ignore[arg-type]


def body_of(event: Event) -> dict[str, object]:
    req = voipex.encode(event, SUB)
    assert req is not None
    return json.loads(req.body)  # type: ignore[no-any-return]


JANECEK = AgentInfo(login="janecek", number="163", email="nejaky@email.cz", name="Jan Janecek")

# (event, the example as printed in spec/dialects.md section 1 or seed 000)
GOLDEN = [
    pytest.param(
        ev(
            T.CALL_HANGUP,
            call_id="1412256225.1941",
            party=CallParty(caller_num="777888999", called_num="222333444"),
            hangup=Hangup("No user response", 18),
        ),
        """{ "EventName": "Hangup", "From": "777888999", "To": "222333444", "Line": "",
  "Email": "", "Login": "", "UniqueId": "1412256225.1941", "Reason": "No user response" }""",
        id="missed-hangup",
    ),
    pytest.param(
        ev(
            T.CALL_RINGING,
            call_id="1412256225.1941",
            party=CallParty(caller_num="20", called_num="777888999", direction=Direction.OUTGOING),
            leg=Leg(number="20"),
        ),
        """{ "EventName": "Ringing", "From": "20", "To": "777888999", "Line": "20", "Email": "",
  "Login": "", "UniqueId": "1412256225.1941", "Direction": "outgoing" }""",
        id="outgoing-ringing",
    ),
    pytest.param(
        ev(
            T.CALL_HANGUP,
            call_id="1496998975.9137",
            party=CallParty(caller_num="777888999", called_num="222333444"),
            leg=Leg(number="20"),
            hangup=Hangup("Answered elsewhere", 26),
        ),
        """{ "EventName": "Hangup", "From": "777888999", "To": "20", "Line": "20",
  "UniqueId": "1496998975.9137", "Email": "", "Login": "", "Reason": "Answered elsewhere" }""",
        id="ringall-hangup",
    ),
    pytest.param(
        ev(
            T.CALL_NEW,
            call_id="1501759556.366",
            party=CallParty(caller_num="604198497", called_num="910104219", direction=Direction.INCOMING),
        ),
        """{ "Line": null, "UniqueId": "1501759556.366", "EventName": "NewCall",
  "From": "604198497", "To": "910104219", "Direction": "incoming" }""",
        id="newcall",
    ),
    pytest.param(
        ev(
            T.CALL_RINGING,
            call_id="1412256225.1941",
            party=CallParty(caller_num="777888999", called_num="222333446", direction=Direction.INCOMING),
            leg=Leg(number="20"),
            custom_field="987654",
        ),
        """{ "EventName": "Ringing", "From": "777888999", "To": "20", "Line": "20", "Email": "",
  "Login": "", "CustomField": "987654", "UniqueId": "1412256225.1941", "Direction": "incoming" }""",
        id="custom-field",
    ),
    pytest.param(
        ev(T.AGENT_PAUSED, queue="NOC", agent=dataclasses.replace(JANECEK, pause_reason="Oběd")),
        """{ "EventName": "AgentPaused", "Queue": "NOC", "Login": "janecek", "Line": "163",
  "Email": "nejaky@email.cz", "PauseName": "Oběd" }""",
        id="agent-paused",
    ),
    pytest.param(
        ev(T.AGENT_LOGIN, queue="NOC", agent=JANECEK),
        """{ "EventName":"AgentLogin", "Queue":"NOC", "Login":"janecek", "Line":"163", "Email":"nejaky@email.cz" }""",
        id="seed-agent-login",
    ),
    pytest.param(
        ev(T.AGENT_LOGOUT, queue="NOC", agent=JANECEK),
        """{ "EventName":"AgentLogout", "Queue":"NOC", "Login":"janecek", "Line":"163", "Email":"nejaky@email.cz" }""",
        id="seed-agent-logout",
    ),
    pytest.param(
        ev(T.AGENT_UNPAUSED, queue="NOC", agent=JANECEK),
        """{ "EventName":"AgentUnPaused", "Queue":"NOC", "Login":"janecek", "Line":"163",
 "Email":"nejaky@email.cz" }""",
        id="seed-agent-unpaused",
    ),
]


@pytest.mark.parametrize(("event", "example"), GOLDEN)
def test_reproduces_vendor_example(event: Event, example: str) -> None:
    assert body_of(event) == json.loads(example)


def test_pause_name_is_raw_utf8_and_request_is_basic_auth_json() -> None:
    req = voipex.encode(ev(T.AGENT_PAUSED, queue="NOC", agent=AgentInfo(pause_reason="Oběd")), SUB)
    assert req is not None
    assert '"PauseName":"Oběd"'.encode() in req.body
    assert b"\\u" not in req.body
    assert req.method == "POST"
    assert req.url == "https://crm.example/hook"
    assert req.header("content-type") == "application/json"
    assert req.header("Authorization") == "Basic Y3JtOnNlY3JldA=="  # base64("crm:secret")


def test_custom_field_only_on_ringing() -> None:
    party = CallParty(caller_num="777888999", called_num="222333446", direction=Direction.INCOMING)
    for etype in (T.CALL_ANSWERED, T.CALL_HANGUP, T.CALL_NEW):
        assert "CustomField" not in body_of(
            ev(etype, call_id="1.2", party=party, leg=Leg(number="20"), custom_field="9")
        )
    assert "CustomField" not in body_of(ev(T.CALL_RINGING, call_id="1.2", party=party, leg=Leg(number="20")))


def test_outside_party_leg_of_an_outgoing_call() -> None:
    """The tracker's leg for the callee of an outgoing call names the calling extension."""
    party = CallParty(caller_num="20", called_num="777888999", direction=Direction.OUTGOING)
    leg = Leg(number="20", login="novakova", email="novakova@example.cz", external=True)
    got = body_of(ev(T.CALL_RINGING, call_id="1.2", party=party, leg=leg))
    assert (got["From"], got["To"], got["Line"], got["Login"]) == ("20", "777888999", "20", "novakova")
    # caller ID rewritten to a company number: still To = the number dialled, never the Line
    rewritten = ev(
        T.CALL_ANSWERED, call_id="1.2", party=CallParty(caller_num="222333444", called_num="777888999"), leg=leg
    )
    assert body_of(rewritten)["To"] == "777888999"
    back = decode(voipex.encode(rewritten, SUB).body)  # type: ignore[union-attr]
    assert back.leg is not None
    assert back.leg.external


def test_pickup_is_answered_and_uses_the_leg() -> None:
    event = ev(
        T.CALL_PICKUP,
        call_id="1.2",
        party=CallParty(caller_num="777888999", called_num="910104219", direction=Direction.INCOMING),
        leg=Leg(number="22", login="dvorak", email="dvorak@example.cz"),
    )
    assert body_of(event) == {
        "EventName": "Answered",
        "From": "777888999",
        "To": "22",
        "Line": "22",
        "Email": "dvorak@example.cz",
        "Login": "dvorak",
        "UniqueId": "1.2",
        "Direction": "incoming",
    }


def test_attended_transfer_fields() -> None:
    event = ev(
        T.CALL_TRANSFER_ATTENDED,
        call_id="1.2",
        party=CallParty(caller_num="604198497", called_num="910104219", direction=Direction.INCOMING),
        leg=Leg(number="20", login="novakova", email="novakova@example.cz"),
        transfer=Transfer(transferer="20", target="21", kind="attended"),
    )
    assert body_of(event) == {
        "EventName": "AttendedTransfer",
        "From": "604198497",
        "To": "21",
        "Line": "20",
        "Email": "novakova@example.cz",
        "Login": "novakova",
        "UniqueId": "1.2",
        "Direction": "incoming",
    }
    assert body_of(ev(T.CALL_TRANSFER_CANCELLED, call_id="1.2", transfer=Transfer("20", "21")))["EventName"] == (
        "CancelAttendedTransfer"
    )


def test_cdr_fields() -> None:
    cet = timezone(timedelta(hours=2))
    rec = CallRecord(
        start=datetime(2024, 5, 6, 10, 0, 0, tzinfo=cet),
        answer=datetime(2024, 5, 6, 10, 0, 5, tzinfo=cet),
        end=datetime(2024, 5, 6, 10, 1, 5, 250000, tzinfo=cet),
        duration=65,
        billsec=60,
        disposition="ANSWERED",
        answered_by="21",
    )
    party = CallParty(caller_num="777888999", called_num="222333444", direction=Direction.INCOMING)
    assert body_of(ev(T.CALL_RECORD, call_id="1.2", party=party, record=rec)) == {
        "EventName": "CDR",
        "From": "777888999",
        "To": "222333444",
        "Line": "21",
        "UniqueId": "1.2",
        "Direction": "incoming",
        "Start": "2024-05-06T10:00:00+02:00",
        "Answer": "2024-05-06T10:00:05+02:00",
        "End": "2024-05-06T10:01:05.250000+02:00",
        "Duration": "65",
        "Billsec": "60",
        "Disposition": "ANSWERED",
    }


@pytest.mark.parametrize(
    "etype",
    [T.CALL_ENDED, T.CALL_TRANSFER_BLIND, T.QUEUE_JOINED, T.QUEUE_LEFT, T.AGENT_WRAPUP],
)
def test_no_message(etype: EventType) -> None:
    assert voipex.encode(ev(etype, call_id="1.2"), SUB) is None


def decode(body: bytes) -> Event:
    return voipex.decode(body, now=TS, new_id=lambda _: "NEWID", tenant="lab")


def test_decode_seed_examples() -> None:
    e = decode(
        b'{ "EventName": "Ringing", "From": "777888999", "To": "20", "Line": "20", "Email": "", "Login": "",'
        b' "CustomField": "987654", "UniqueId": "1412256225.1941", "Direction": "incoming" }'
    )
    assert (e.type, e.call_id, e.id, e.ts, e.tenant, e.source) == (
        T.CALL_RINGING,
        "1412256225.1941",
        "NEWID",
        TS,
        "lab",
        "ingest:voipex",
    )
    assert e.party == CallParty(caller_num="777888999", called_num="20", direction=Direction.INCOMING)
    assert e.leg == Leg(number="20")
    assert e.custom_field == "987654"
    paused = decode(
        '{"EventName":"AgentPaused","Queue":"NOC","Login":"janecek","Line":"163","Email":"nejaky@email.cz",'
        '"PauseName":"Oběd"}'.encode()
    )
    assert paused.agent == AgentInfo(login="janecek", number="163", email="nejaky@email.cz", pause_reason="Oběd")
    assert paused.queue == "NOC"
    missed = decode(
        b'{"EventName":"Hangup","From":"7","To":"2","Line":"","UniqueId":"1.2","Reason":"No user response"}'
    )
    assert missed.leg is None
    assert missed.hangup == Hangup("No user response")


def test_decode_accepts_integer_numbers_like_the_seed_schema() -> None:
    assert decode(b'{"EventName":"NewCall","From":777888999,"UniqueId":"1.2"}').party.caller_num == "777888999"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (b"\xff\xfe\x00", "body"),
        (b"{}", "EventName"),
        (b'{"EventName": "Bogus"}', "EventName"),
        (b'{"EventName": 1.5}', "EventName"),
        (b'{"EventName": "Ringing"}', "UniqueId"),
        (b'{"EventName": "Ringing", "UniqueId": ""}', "UniqueId"),
        (b'{"EventName": "Ringing", "UniqueId": "1.2", "From": true}', "From"),
        (b'{"EventName": "Ringing", "UniqueId": "1.2", "Line": {"a": 1}}', "Line"),
        (b'{"EventName": "Ringing", "UniqueId": "1.2", "Direction": "sideways"}', "Direction"),
        (b'{"EventName": "AgentLogin", "Login": "x"}', "Queue"),
        (b'{"EventName": "CDR", "UniqueId": "1.2", "Start": "yesterday", "End": "today"}', "Start"),
        (b'{"EventName": "CDR", "UniqueId": "1.2", "Start": "2024-01-01T10:00:00", "End": "x"}', "Start"),
        (b'{"EventName": "CDR", "UniqueId": "1.2", "Start": "2024-01-01T10:00:00Z"}', "End"),
        (
            b'{"EventName":"CDR","UniqueId":"1.2","Start":"2024-01-01T10:00:00Z","End":"2024-01-01T10:00:00Z",'
            b'"Duration":"-3"}',
            "Duration",
        ),
    ],
)
def test_decode_errors_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert info.value.field == field

"""webitel: fields per event as spec/dialects.md section 4 lists them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from callhook.core.dialects import DecodeError, webitel
from callhook.core.events import AgentInfo, CallParty, Event, EventType, Leg, QueueCall
from callhook.core.subscription import Dialect, Subscription

T = EventType
TS = datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC)
SUB = Subscription(id="w", url="https://cc.example/hook", dialect=Dialect.WEBITEL)

BASE = {
    "event",
    "queue",
    "channel",
    "attempt_id",
    "destination",
    "use_processing",
    "agent_channel_id",
    "member_channel_id",
}
AGENT = {
    "agent_name",
    "agent_id",
    "user_id",
    "agent_extension",
    "member_name",
    "member_id",
    "cc_attempt_seq",
    "call_bill_sec",
    "call_duration",
    "amd_result",
}
QC = QueueCall(
    member_channel_id="1714990272.17",
    agent_channel_id="1714990274.19",
    attempt_seq=2,
    call_duration=12.5,
    call_bill_sec=7.0,
    call_voice_sec=6.5,
    cc_result="sucess",
    call_cause="NORMAL_CLEARING",
    call_sip_code=200,
    use_processing=True,
)
SVOBODA = AgentInfo(login="svoboda", number="21", name="Petr Svoboda", email="svoboda@example.cz")


def ev(etype: EventType, **kw: object) -> Event:
    base: dict[str, object] = {
        "call_id": "1714990272.17",
        "queue": "NOC",
        "party": CallParty(caller_num="777888999", caller_name="Karel Zákazník"),
        "queue_call": QC,
        "agent": SVOBODA,
    }
    base.update(kw)
    return Event(id="01HX0000000000000000000000", type=etype, ts=TS, **base)  # type: ignore[arg-type]


def body_of(event: Event) -> dict[str, object]:
    req = webitel.encode(event, SUB)
    assert req is not None
    assert (req.method, req.url, req.header("content-type")) == ("POST", SUB.url, "application/json")
    return json.loads(req.body)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("etype", "name", "keys"),
    [
        (T.QUEUE_JOINED, "Joined", BASE),
        (T.QUEUE_OFFERED, "Offering", BASE | AGENT | {"call_voice_sec"}),
        (T.QUEUE_BRIDGED, "Bridged", BASE | AGENT | {"call_voice_sec"}),
        (T.QUEUE_MISSED, "Missed", BASE | AGENT),
        (T.QUEUE_LEFT, "Leaving", BASE | AGENT | {"call_voice_sec", "cc_result", "call_cause", "call_sip_code"}),
        (T.AGENT_WRAPUP, "Processing", BASE | AGENT | {"call_voice_sec", "call_cause", "call_sip_code"}),
    ],
)
def test_fields_per_event(etype: EventType, name: str, keys: set[str]) -> None:
    body = body_of(ev(etype))
    assert body["event"] == name
    assert set(body) == keys


def test_values_and_types() -> None:
    body = body_of(ev(T.QUEUE_LEFT))
    assert body["queue"] == "NOC"
    assert body["channel"] == "call"
    assert body["destination"] == "777888999"
    assert body["member_name"] == "Karel Zákazník"
    assert body["use_processing"] is True
    assert (body["member_channel_id"], body["agent_channel_id"]) == ("1714990272.17", "1714990274.19")
    assert (body["agent_name"], body["agent_extension"]) == ("Petr Svoboda", "21")
    assert body["agent_id"] == 21
    assert body["user_id"] == 21
    assert body["cc_attempt_seq"] == 2
    assert (body["call_duration"], body["call_bill_sec"], body["call_voice_sec"]) == (12.5, 7.0, 6.5)
    assert body["cc_result"] == "success"  # the seed's "sucess", corrected
    assert (body["call_cause"], body["call_sip_code"]) == ("NORMAL_CLEARING", 200)
    for key in ("attempt_id", "member_id"):
        assert type(body[key]) is int
        assert 0 <= body[key] < 2**48  # type: ignore[operator]
    assert body["amd_result"] == ""  # no AMD ran


def test_amd_result_when_the_dial_plan_ran_amd() -> None:
    body = body_of(ev(T.QUEUE_BRIDGED, queue_call=QueueCall(member_channel_id="1.2", amd_result="HUMAN")))
    assert body["amd_result"] == "HUMAN"


def test_ids_are_deterministic_and_distinct() -> None:
    one, two = body_of(ev(T.QUEUE_OFFERED)), body_of(ev(T.QUEUE_BRIDGED))
    assert (one["attempt_id"], one["member_id"]) == (two["attempt_id"], two["member_id"])
    assert one["attempt_id"] != one["member_id"]
    other = body_of(ev(T.QUEUE_OFFERED, queue_call=QueueCall(member_channel_id="1714990272.18")))
    assert other["member_id"] != one["member_id"]
    assert webitel.stable_id("1714990272.17") == one["member_id"]


def test_agent_id_for_a_non_numeric_agent_and_from_the_leg() -> None:
    login_only = body_of(ev(T.QUEUE_OFFERED, agent=AgentInfo(login="svoboda", number="SIP/svoboda")))
    assert login_only["agent_id"] == webitel.stable_id("agent:svoboda")
    from_leg = body_of(ev(T.QUEUE_OFFERED, agent=None, leg=Leg(number="22", name="Martin Dvorak")))
    assert (from_leg["agent_id"], from_leg["agent_extension"], from_leg["agent_name"]) == (22, "22", "Martin Dvorak")
    nobody = body_of(ev(T.QUEUE_LEFT, agent=None, queue_call=QueueCall()))
    assert (nobody["agent_id"], nobody["user_id"], nobody["member_id"], nobody["attempt_id"]) == (None,) * 4
    assert nobody["call_sip_code"] is None


def test_variables_are_top_level_without_prefix_and_never_overwrite() -> None:
    body = body_of(
        ev(
            T.QUEUE_BRIDGED,
            variables={
                "__ipbx_custom_field": "987654",
                "queue": "evil",
                "_cc_result": "x",
                "event": "Bogus",
                "CRM_ID": "Oběd",
            },
        )
    )
    assert body["ipbx_custom_field"] == "987654"
    assert body["CRM_ID"] == "Oběd"
    assert (body["queue"], body["event"]) == ("NOC", "Bridged")
    assert "cc_result" not in body  # documented for Leaving only, and never a variable
    assert body_of(ev(T.QUEUE_JOINED, custom_field="4711"))["ipbx_custom_field"] == "4711"


@pytest.mark.parametrize("etype", [T.CALL_RINGING, T.CALL_ANSWERED, T.AGENT_LOGIN, T.CALL_RECORD])
def test_no_message(etype: EventType) -> None:
    assert webitel.encode(ev(etype), SUB) is None


def decode(body: bytes) -> Event:
    return webitel.decode(body, now=TS, new_id=lambda _: "NEWID", tenant="lab")


def test_decode() -> None:
    e = decode(
        b'{"event":"leaving","queue":"NOC","channel":"call","attempt_id":5,"destination":"777888999",'
        b'"use_processing":false,"agent_channel_id":"a","member_channel_id":"1.2","agent_name":"Petr",'
        b'"agent_id":21,"user_id":4,"agent_extension":"21","member_name":"K","member_id":9,"cc_attempt_seq":1,'
        b'"call_bill_sec":3,"call_duration":4.5,"amd_result":"MASHINE","call_voice_sec":2,"cc_result":"sucess",'
        b'"call_cause":"NORMAL_CLEARING","call_sip_code":200,"ipbx_custom_field":"987654","n":1}'
    )
    assert (e.type, e.call_id, e.queue, e.source, e.ts, e.tenant) == (
        T.QUEUE_LEFT,
        "1.2",
        "NOC",
        "ingest:webitel",
        TS,
        "lab",
    )
    assert e.party == CallParty(caller_num="777888999", caller_name="K")
    assert e.agent == AgentInfo(agent_id="21", name="Petr", number="21")
    assert e.queue_call == QueueCall(
        member_channel_id="1.2",
        agent_channel_id="a",
        attempt_seq=1,
        call_duration=4.5,
        call_bill_sec=3.0,
        call_voice_sec=2.0,
        cc_result="success",
        call_cause="NORMAL_CLEARING",
        call_sip_code=200,
        amd_result="MACHINE",  # the seed's MASHINE, corrected (spec/dialects.md section 4)
    )
    assert e.variables == {"ipbx_custom_field": "987654"}
    assert e.custom_field == "987654"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b'"Joined"', "body"),
        (b"{}", "event"),
        (b'{"event":"Active"}', "event"),
        (b'{"event":"Joined","attempt_id":"5"}', "attempt_id"),
        (b'{"event":"Joined","use_processing":"yes"}', "use_processing"),
        (b'{"event":"Joined","call_duration":"long"}', "call_duration"),
        (b'{"event":"Joined","call_duration":1e999}', "call_duration"),
        (b'{"event":"Joined","call_sip_code":true}', "call_sip_code"),
        (b'{"event":"Joined","destination":[1]}', "destination"),
        (b'{"event":"Joined","agent_id":1.5}', "agent_id"),
    ],
)
def test_decode_errors_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(body)
    assert info.value.field == field

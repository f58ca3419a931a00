"""``/ingest/{dialect}``: each vendor's payload as it sends it (spec/dialects.md, seeds
000 and 003), good and malformed; durable before the answer; translated into the
other dialects."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest
from test_api_support import ADMIN, TOKEN_A, TOKEN_B, Api, api, mapi  # noqa: F401

from callhook.store.base import EventQuery

SEED_000 = [
    {
        "EventName": "Hangup",
        "From": "777888999",
        "To": "222333444",
        "Line": "",
        "Email": "",
        "Login": "",
        "UniqueId": "1412256225.1941",
        "Reason": "No user response",
    },
    {
        "EventName": "Ringing",
        "From": "20",
        "To": "777888999",
        "Line": "20",
        "Email": "",
        "Login": "",
        "UniqueId": "1412256225.1941",
        "Direction": "outgoing",
    },
    {
        "Line": None,
        "UniqueId": "1501759556.366",
        "EventName": "NewCall",
        "From": "604198497",
        "To": "910104219",
        "Direction": "incoming",
    },
    {
        "EventName": "Ringing",
        "From": "777888999",
        "To": "20",
        "Line": "20",
        "Email": "",
        "Login": "",
        "CustomField": "987654",
        "UniqueId": "1412256225.1941",
        "Direction": "incoming",
    },
    {
        "EventName": "AgentPaused",
        "Queue": "NOC",
        "Login": "janecek",
        "Line": "163",
        "Email": "nejaky@email.cz",
        "PauseName": "Oběd",
    },
]
SEED_003_DIAL = (
    "event=dial&ts=2016-01-21T13%3A09%3A25.95104%2B01%3A00&call_id=1453378165.749958"
    "&caller_type=internal&caller_num=758&called_num=800123456&transfering_exten="
    "&record_name=20160121-130925-758-800123456"
)
SEED_003_ENDCALL = (
    "event=endcall&ts=2016-01-21T13%3A03%3A22.403343%2B01%3A00&call_id=1453378751.749706"
    "&caller_type=internal&caller_num=546&called_num=80123456&call_answered=t&answering_exten="
    "&last_dial_answered=f&last_dialed_exten=&record_name=20160121-130007-546-800123456"
)
TELPHIN_LOGIN = (
    "agent_id=136&agent_status=available&agent_type=local&extension_name=000%2A094%40ringme.ru&event_source=api"
)
WEBITEL_BRIDGED = {
    "event": "Bridged",
    "channel": "call",
    "attempt_id": 17,
    "destination": "777888999",
    "use_processing": False,
    "agent_channel_id": "a-1",
    "member_channel_id": "m-1",
    "agent_name": "Jana",
    "agent_id": 5,
    "user_id": 9,
    "agent_extension": "20",
    "member_name": "X",
    "member_id": 3,
    "cc_attempt_seq": 1,
    "call_bill_sec": 4.5,
    "call_duration": 12.0,
    "call_voice_sec": 4.5,
    "amd_result": "HUMAN",
    "queue": "NOC",
    "ipbx_custom_field": "987654",
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _stored(api: Api, event_id: str) -> list[str]:
    page = api.run(api.hub.store.list_events(EventQuery(limit=1000)))
    return [e.id for e in page.items if e.id == event_id]


@pytest.mark.parametrize("payload", SEED_000)
def test_voipex_seed_examples(api: Api, payload: dict[str, object]) -> None:
    r = api.post("/ingest/voipex", json=payload)
    assert r.status_code == 200, r.text
    assert _stored(api, r.json()["id"]) == [r.json()["id"]]


def test_pbx2is_get_and_post(api: Api) -> None:
    r = api.get("/ingest/pbx2is?" + SEED_003_DIAL)
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["call_id"]) == ("call.new", "1453378165.749958")
    r = api.client.post(
        "/ingest/pbx2is", content=SEED_003_ENDCALL, headers={**FORM, "Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "call.ended"
    events = api.run(api.hub.store.call_events("1453378751.749706"))
    # the call's first event: the model adds the call.new a PBX2IS endcall alone implies, and its CDR
    assert [e.type.value for e in events] == ["call.new", "call.ended", "call.record"]
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].outcome.answered is True
    assert events[1].ts.isoformat() == "2016-01-21T13:03:22.403343+01:00"


def test_telphin_form_and_webitel_json_with_basic_auth(api: Api) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"telphin:{TOKEN_A}".encode()).decode()}
    r = api.client.post("/ingest/telphin", content=TELPHIN_LOGIN, headers={**FORM, **basic})
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["tenant"]) == ("agent.login", "acme")
    r = api.client.get("/ingest/telphin?" + TELPHIN_LOGIN.replace("available", "logged_out"), headers=basic)
    assert r.json()["type"] == "agent.logout"
    r = api.client.post("/ingest/webitel", json=WEBITEL_BRIDGED, headers=basic)
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["call_id"]) == ("queue.bridged", "m-1")


def test_native_json(mapi: Api) -> None:
    body = {
        "id": "01HXAMPQE0000000000000000A",
        "type": "call.new",
        "ts": "2024-05-06T09:00:00+00:00",
        "call_id": "n-1",
        "tenant": "globex",
        "party": {"caller_num": "777", "called_num": "20"},
    }
    r = mapi.post("/ingest/callhook", TOKEN_A, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "id": "01HXAMPQE0000000000000000A",
        "type": "call.new",
        "call_id": "n-1",
        "tenant": "acme",
        "seq": 1,  # the call's first event: numbered by the ingest call model
        "added": [],
    }
    body["id"] = "01HXAMPQE0000000000000000B"
    r = mapi.client.post(
        "/ingest/callhook", json=body, headers={"X-Callhook-Tenant": "initech", "Authorization": f"Bearer {ADMIN}"}
    )
    assert r.json()["tenant"] == "initech"  # the admin names the tenant
    r = mapi.client.post(
        "/ingest/callhook",
        json={**body, "id": "01HXAMPQE0000000000000000C"},
        headers={"X-Callhook-Tenant": "initech", "Authorization": f"Bearer {TOKEN_B}"},
    )
    assert r.json()["tenant"] == "globex"  # a tenant token cannot


@pytest.mark.parametrize(
    ("dialect", "kw", "field"),
    [
        ("voipex", {"content": b"{not json"}, "body"),
        ("voipex", {"json": [1, 2]}, "body"),
        ("voipex", {"json": {"EventName": "Exploded", "UniqueId": "1"}}, "EventName"),
        ("voipex", {"json": {"EventName": "Ringing"}}, "UniqueId"),
        ("voipex", {"json": {"EventName": "Ringing", "UniqueId": "1", "From": ["x"]}}, "From"),
        ("voipex", {"content": b""}, "body"),
        ("pbx2is", {"content": "event=dial&ts=yesterday&call_id=1", "headers": FORM}, "ts"),
        ("pbx2is", {"content": "event=explode&call_id=1", "headers": FORM}, "event"),
        ("pbx2is", {"content": b"event=dial&caller_num=\xff", "headers": FORM}, "body"),
        ("telphin", {"content": "agent_id=1&agent_status=sleeping", "headers": FORM}, "agent_status"),
        ("telphin", {"content": "agent_status=available", "headers": FORM}, "agent_id"),
        ("webitel", {"json": {"event": "Bridged", "attempt_id": "seventeen"}}, "attempt_id"),
        ("webitel", {"json": {"channel": "call"}}, "event"),
        ("callhook", {"json": {"type": "call.new"}}, "ts"),
    ],
)
def test_malformed_is_400_and_nothing_is_stored(api: Api, dialect: str, kw: dict[str, object], field: str) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}", **kw.pop("headers", {})}  # type: ignore[dict-item]
    r = api.client.post(f"/ingest/{dialect}", headers=headers, **kw)  # type: ignore[arg-type]
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert r.json()["error"]
    page = api.run(api.hub.store.list_events(EventQuery(limit=10)))
    assert page.items == []


def test_routes_refuse_what_they_cannot_take(mapi: Api) -> None:
    assert mapi.get("/ingest/voipex").status_code == 405
    assert mapi.post("/ingest/sip", json={}).status_code == 422
    assert mapi.client.post("/ingest/voipex", json=SEED_000[0]).status_code == 401
    assert (
        mapi.client.post("/ingest/voipex", json=SEED_000[0], headers={"Authorization": "Bearer nope"}).status_code
        == 401
    )


def test_translate_voipex_into_pbx2is_and_every_other_dialect(mapi: Api) -> None:
    for dialect, url in (
        ("pbx2is", "http://10.1.2.3:8085/"),
        ("callhook", "http://n.example/"),
        ("webitel", "http://w.example/"),
    ):
        assert mapi.post("/api/v1/webhooks", TOKEN_A, json={"url": url, "dialect": dialect}).status_code == 201
    r = mapi.post("/ingest/voipex", TOKEN_A, json=SEED_000[2])
    assert r.status_code == 200
    items = mapi.get("/api/v1/deliveries", params={"event_id": r.json()["id"]}).json()["items"]
    by_host = {urlsplit(d["request"]["url"]).hostname: d["request"] for d in items}
    assert set(by_host) == {"10.1.2.3", "n.example"}  # webitel has nothing to say about a new call
    q = dict(parse_qsl(urlsplit(by_host["10.1.2.3"]["url"]).query, keep_blank_values=True))
    assert (q["event"], q["call_id"], q["caller_num"], q["called_num"]) == (
        "dial",
        "1501759556.366",
        "604198497",
        "910104219",
    )
    native = json.loads(by_host["n.example"]["body"])
    assert (native["type"], native["source"], native["tenant"]) == ("call.new", "ingest:voipex", "acme")
    # another tenant's webhooks do not hear it
    assert mapi.get("/api/v1/deliveries", TOKEN_B).json()["items"] == []

"""Number masking and the list filters, through the API (issue 15, items 2 and 8).

A masked webhook's stored requests (what ``/api/v1/deliveries`` shows, in every
dialect) hold no unmasked number; the attempt log of a real send is covered in
test_api_rotation.py. Filters by number/DID, direction and tenant take several values;
the single-value filters of the first contract keep working.
"""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from test_api_support import TOKEN_A, Api, api, ended_call, ev, mapi  # noqa: F401

from callhook.core.events import AgentInfo, CallParty, Direction, EventType, QueueCall

CALLER, DID = "+79161234567", "+74957654321"
HIDDEN = ("9161234567", "4957654321")  # neither may appear in any masked request


def _hook(api: Api, **kw: Any) -> dict[str, Any]:
    body = {"url": "https://crm.example/hook", "dialect": "callhook", **kw}
    r = api.post("/api/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def _requests(api: Api, hook: str) -> list[dict[str, Any]]:
    items = api.get("/api/v1/deliveries", params={"subscription_id": hook}).json()["items"]
    return [d["request"] for d in items]


def _flat(req: dict[str, Any]) -> str:
    return " ".join([req["url"], req["body"], *(v for _, v in req["headers"])])


def _call_events() -> list[Any]:
    party = CallParty(caller_num=CALLER, caller_name=CALLER, called_num=DID, direction=Direction.INCOMING)
    queue = [
        ev(EventType.QUEUE_JOINED, "q1", queue="support", party=party, queue_call=QueueCall()),
        ev(EventType.QUEUE_LEFT, "q1", queue="support", party=party, queue_call=QueueCall(cc_result="abandoned")),
    ]
    return [*ended_call("c1", CALLER, DID, answered=True), *queue]


DIALECTS: dict[str, dict[str, Any]] = {
    "voipex": {},
    "pbx2is": {"method": "GET"},
    "webitel": {},
    "callhook": {},
    "template": {
        "template": {
            "body": '{"from": {{ party.caller_num|tojson }}, "to": {{ party.called_num|tojson }}, '
            '"cdr": {{ record.source|tojson }}}',
            "url": "https://crm.example/calls?phone={{ party.caller_num|urlencode }}",
            "headers": {"Content-Type": "application/json", "X-Caller": "{{ party.caller_num }}"},
        }
    },
}


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_last_digits_in_every_dialect(api: Api, dialect: str) -> None:
    masked = _hook(
        api, dialect=dialect, masking={"fields": ["both", "cdr"], "mode": "last_digits", "keep": 4}, **DIALECTS[dialect]
    )
    assert masked["masking"] == {"fields": ["called", "caller", "cdr"], "mode": "last_digits", "keep": 4}
    plain = _hook(api, dialect=dialect, **DIALECTS[dialect])
    api.accept(*_call_events())
    reqs = _requests(api, masked["id"])
    assert reqs, "the dialect carries some of these events"
    for req in reqs:
        text = _flat(req)
        assert not any(n in text for n in HIDDEN), text
    # the last four digits stay, the rest are stars (the + too stays: not a digit)
    assert any("*******4567" in _flat(r) or "%2A%2A%2A%2A%2A%2A%2A4567" in _flat(r) for r in reqs)
    # the same events without masking: the real numbers (so the check above can fail)
    assert any("9161234567" in _flat(r) for r in _requests(api, plain["id"]))


def test_hash_gives_one_token_per_number_and_webhook(api: Api) -> None:
    a = _hook(api, masking={"fields": ["caller"], "mode": "hash"})
    b = _hook(api, masking={"fields": ["caller"], "mode": "hash"})
    api.accept(*ended_call("c1", CALLER, DID, answered=True), *ended_call("c2", CALLER, "+74950000000", answered=False))

    def tokens(hook: str) -> set[str]:
        return {json.loads(r["body"])["party"]["caller_num"] for r in _requests(api, hook)}

    ta, tb = tokens(a["id"]), tokens(b["id"])
    assert len(ta) == 1
    assert len(tb) == 1
    assert ta != tb  # each webhook its own key
    [token] = ta
    assert token.startswith("n_")
    assert len(token) == 18
    # the called number is not masked (only "caller" was asked for)
    assert any(DID in r["body"] for r in _requests(api, a["id"]))
    # the key is write-only: never shown
    assert "key" not in api.get(f"/api/v1/webhooks/{a['id']}").json()["masking"]
    # the token is HMAC-SHA256 of the digits under that webhook's own key
    sub = api.run(api.hub.store.get_subscription(a["id"], with_secrets=True))
    want = "n_" + hmac.new(sub.masking.key.encode(), b"79161234567", hashlib.sha256).hexdigest()[:16]
    assert token == want


def test_patch_masking_and_its_validation(mapi: Api) -> None:
    hook = _hook(mapi)["id"]
    r = mapi.patch(f"/api/v1/webhooks/{hook}", json={"masking": {"fields": ["called"], "keep": 2}})
    assert r.status_code == 200, r.text
    assert r.json()["masking"] == {"fields": ["called"], "mode": "last_digits", "keep": 2}
    mapi.accept(*ended_call("c1", CALLER, DID, answered=True))
    assert all("*********21" in r["body"] for r in _requests(mapi, hook))
    assert mapi.patch(f"/api/v1/webhooks/{hook}", json={"masking": None}).json()["masking"] is None
    for bad in (
        {"fields": ["phone"]},
        {"fields": []},
        {"fields": ["caller"], "mode": "rot13"},
        {"fields": ["caller"], "keep": 13},
        {"fields": ["caller"], "salt": "x"},
    ):
        r = mapi.post("/api/v1/webhooks", json={"url": "https://x.example/", "dialect": "callhook", "masking": bad})
        assert r.status_code == 422, bad
        assert "masking" in r.text
    # the name of the first report stays refused: the field is "masking"
    r = mapi.post("/api/v1/webhooks", json={"url": "https://x.example/", "dialect": "callhook", "mask_numbers": True})
    assert r.status_code == 422


def test_the_webhook_test_route_masks_too(mapi: Api) -> None:
    hook = _hook(mapi, masking={"fields": ["caller"], "keep": 2})["id"]
    out = mapi.post(f"/api/v1/webhooks/{hook}/test", json={"wait": 0}).json()
    assert '"caller_num":"*******00"' in out["sent"]["body"]  # the test call is from 000000000


# ------------------------------------------------------------------ filters
def _calls(api: Api, hook: str, sent: list[Any]) -> set[str]:
    """The calls of the events ``hook`` got a delivery for."""
    call_of = {e.id: e.call_id for e in sent}
    items = api.get("/api/v1/deliveries", params={"subscription_id": hook, "limit": 100}).json()["items"]
    return {call_of[d["event_id"]] for d in items}


def test_number_prefix_and_list_filters(api: Api) -> None:
    did = _hook(api, filters={"numbers": ["+7 (495) 765-43-21"]})["id"]
    prefix = _hook(api, filters={"number_prefixes": ["7916", "+7903"]})["id"]
    none = _hook(api, filters={"numbers": ["+74990000000"]})["id"]
    sent = [
        *ended_call("c1", CALLER, DID, answered=True),
        *ended_call("c2", "+79031112233", "+74950000000", answered=False),
        *ended_call("c3", "+78120001122", "+74950000000", answered=False),
    ]
    api.accept(*sent)
    assert _calls(api, did, sent) == {"c1"}
    assert _calls(api, prefix, sent) == {"c1", "c2"}
    assert _calls(api, none, sent) == set()


def test_direction_tenant_and_several_queues(api: Api) -> None:
    inbound = _hook(api, filters={"directions": ["incoming"]})["id"]
    tenants = _hook(api, filters={"tenants": ["acme", "initech"]})["id"]
    queues = _hook(api, filters={"queue": "sales", "queues": ["support"]})["id"]
    sent = [
        *ended_call("c1", CALLER, DID, answered=True),
        *ended_call("c2", "20", CALLER, answered=True, direction=Direction.OUTGOING),
        *ended_call("c3", CALLER, DID, answered=True, tenant="globex"),
        ev(EventType.QUEUE_JOINED, "q1", queue="support", queue_call=QueueCall()),
        ev(EventType.QUEUE_JOINED, "q2", queue="sales", queue_call=QueueCall()),
        ev(EventType.QUEUE_JOINED, "q3", queue="billing", queue_call=QueueCall()),
    ]
    api.accept(*sent)
    assert _calls(api, inbound, sent) == {"c1", "c3"}
    assert _calls(api, tenants, sent) == {"c1", "c2", "q1", "q2", "q3"}
    assert _calls(api, queues, sent) == {"q1", "q2"}
    out = api.get(f"/api/v1/webhooks/{queues}").json()["filters"]
    assert (out["queue"], out["queues"]) == ("sales", ["support"])


def test_filter_validation(mapi: Api) -> None:
    for bad, word in (
        ({"numbers": ["abc-secret-1"]}, "phone number"),
        ({"number_prefixes": [""]}, "phone number"),
        ({"directions": ["sideways"]}, "direction"),
        ({"queues": [""]}, "empty"),
        ({"dids": ["1"]}, "extra"),
    ):
        r = mapi.post("/api/v1/webhooks", json={"url": "https://x.example/", "dialect": "callhook", "filters": bad})
        assert r.status_code == 422, bad
        assert word in r.text.lower(), r.text
        assert "secret-1" not in r.text  # the rejected value is not echoed
    hook = _hook(mapi)["id"]
    r = mapi.patch(f"/api/v1/webhooks/{hook}", json={"filters": {"directions": ["outgoing", "outgoingLocal"]}})
    assert r.status_code == 200
    assert r.json()["filters"]["directions"] == ["outgoing", "outgoingLocal"]
    assert mapi.get(f"/api/v1/webhooks/{hook}", TOKEN_A).status_code == 404  # an admin's webhook


def test_telphin_masks_a_remote_agents_phone(api: Api) -> None:
    masked = _hook(api, dialect="telphin", masking={"fields": ["agent"], "keep": 2})["id"]
    plain = _hook(api, dialect="telphin")["id"]
    agent = AgentInfo(login="anna", number="+79031112233", agent_type="remote", agent_id="7")
    api.accept(ev(EventType.AGENT_LOGIN, agent=agent))
    [req] = _requests(api, masked)
    assert "9031112233" not in _flat(req)
    assert "agent_number=%2B%2A%2A%2A%2A%2A%2A%2A%2A%2A33" in req["body"]
    [raw] = _requests(api, plain)
    assert "agent_number=%2B79031112233" in raw["body"]

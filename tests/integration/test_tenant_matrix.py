"""The tenant matrix over every route of the OpenAPI document (issue 13): tenant A's token
against tenant B's objects (read, change, delete, subscribe to, act on) never reaches them,
and the directory takeover of the issue (A claiming B's device ``IAX2/20``) is impossible."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import re
from typing import Any

from test_api_support import TOKEN_A, TOKEN_B, Api, api, ended_call  # noqa: F401

OPEN = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/api/v1/stream"}
OBJECT_PARAMS = {"sub_id", "delivery_id", "call_id", "event_id", "token_id"}  # they name one of B's objects
DIRECTORY_OBJECTS = ("/api/v1/directory/extensions/{number}", "/api/v1/directory/queues/{name}")
B_MARKS = ("globex", "Olga", "PJSIP/30")  # B's tenant, B's agent, B's device

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/webhooks"): {"url": "http://a.example/", "dialect": "callhook", "tenant": "globex"},
    ("PATCH", "/api/v1/webhooks/{sub_id}"): {"enabled": False, "url": "http://a.example/stolen"},
    ("POST", "/api/v1/deliveries/replay"): {"subscription_id": "{sub_id}"},
    ("POST", "/api/v1/missed-calls/{number}/done"): {"tenant": "globex", "by": "a"},
    ("POST", "/api/v1/directory/extensions"): {"number": "31", "channel": "PJSIP/30", "tenant": "globex"},
    ("PUT", "/api/v1/directory/extensions/{number}"): {"number": "30", "name": "mine", "channel": "PJSIP/30"},
    ("PUT", "/api/v1/directory/trunks/{name}"): {"name": "trunk", "channel": "PJSIP/30"},
    ("PUT", "/api/v1/directory/queues/{name}"): {"name": "SALES", "members": ["20"], "tenant": "acme"},
    ("POST", "/api/v1/actions/dial"): {"exten": "30", "number": "123"},
    ("POST", "/api/v1/actions/hangup"): {"exten": "30"},
    ("POST", "/api/v1/actions/agent/login"): {"exten": "30", "queue": "SALES"},
    ("POST", "/api/v1/actions/agent/logout"): {"exten": "30", "queue": "SALES"},
    ("POST", "/api/v1/actions/agent/pause"): {"exten": "30", "queue": "SALES"},
    ("POST", "/api/v1/actions/agent/unpause"): {"exten": "30", "queue": "SALES"},
    ("POST", "/client/{client_id}/agent/{agent_type}/{agent_id}/event/"): {
        "url": "http://a.example/t",
        "event_type": "agent-login",
        "method": "GET",
    },
    ("PUT", "/client/{client_id}/agent/{agent_type}/{agent_id}/event/{event_id}"): {"url": "http://a.example/t"},
    ("POST", "/api/v1/tokens"): {"name": "stolen", "tenant": "globex"},
    ("POST", "/ingest/{dialect}"): {"type": "call.new", "tenant": "globex"},
}
QUERY = {"tenant": "globex", "exten": "30", "number": "123", "queue": "SALES", "subscription_id": "{sub_id}"}


def _seed_b(api: Api) -> dict[str, str]:
    wid = api.post("/api/v1/webhooks", TOKEN_B, json={"url": "http://globex.example/", "dialect": "voipex"})
    tph = api.post(
        "/client/7/agent/local/1/event/",
        TOKEN_B,
        json={"url": "http://globex.example/t", "event_type": "agent-login", "method": "GET"},
    )
    tok = api.post("/api/v1/tokens", json={"name": "globex crm", "tenant": "globex"})
    api.accept(*ended_call("call-globex-1", "777", "30", answered=True, tenant="globex", by="30"))
    dlv = api.get("/api/v1/deliveries", TOKEN_B).json()["items"][0]["id"]
    return {
        "sub_id": wid.json()["id"],
        "event_id": str(tph.json()["id"]),
        "token_id": tok.json()["id"],
        "call_id": "call-globex-1",
        "delivery_id": str(dlv),
        "number": "30",
        "name": "SALES",
        "client_id": "7",
        "agent_type": "local",
        "agent_id": "1",
        "dialect": "callhook",
        "file": "none.wav",  # a recording download: no recordings served here
    }


def _b_state(api: Api, ids: dict[str, str]) -> list[Any]:
    """Everything of B's, read with the admin token."""
    d = api.hub.directory
    return [
        api.get(f"/api/v1/webhooks/{ids['sub_id']}").json(),
        api.get(f"/client/7/agent/local/1/event/{ids['event_id']}", TOKEN_B).json(),
        api.get(f"/api/v1/deliveries/{ids['delivery_id']}").json()["status"],
        [t for t in api.get("/api/v1/tokens").json() if t["id"] == ids["token_id"]],
        api.get("/api/v1/directory/extensions/30").json(),
        api.get("/api/v1/directory/queues").json(),
        api.get("/api/v1/directory/trunks").json(),
        d.extension_of_channel("PJSIP/30-00000001"),
        api.get("/api/v1/calls/call-globex-1").status_code,
    ]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], value)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def test_tenant_a_never_reaches_tenant_b_on_any_route(api: Api) -> None:
    ids = _seed_b(api)
    before = _b_state(api, ids)
    routes = [(m.upper(), t) for t, ops in api.app.openapi()["paths"].items() if t not in OPEN for m in ops]
    assert len(routes) >= 60
    for method, template in routes:
        path = _fill(template, ids)
        body = _fill(BODIES.get((method, template)), ids)
        r = api.client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {TOKEN_A}"},
            params=_fill(QUERY, ids),
            json=body if body is not None else ({} if method in ("POST", "PUT", "PATCH") else None),
        )
        names_b = set(re.findall(r"\{(\w+)\}", template)) & OBJECT_PARAMS or template in DIRECTORY_OBJECTS
        where = (method, template, r.status_code, r.text[:200])
        assert r.status_code < 500, where
        if names_b:  # B's object: as if it did not exist (404, or an empty list), or not A's to change (403)
            assert r.status_code in (403, 404) or (r.status_code == 200 and r.json() == []), where
        elif template == "/api/v1/audit":  # A's own attempts (naming B's ids A sent) and nothing of B's
            assert {e["tenant"] for e in r.json()} <= {"acme"}, where
            assert all(e["actor"] == "tenant acme (configured token)" for e in r.json()), where
        elif r.status_code < 300:
            for mark in (*B_MARKS, ids["sub_id"], ids["token_id"]):
                assert mark not in r.text, (*where, mark)
    assert _b_state(api, ids) == before
    assert api.hub.pbxes[0].ami.actions == []  # nothing was done on B's phone


def test_the_takeover_of_issue_13_is_impossible(api: Api) -> None:
    """``POST /api/v1/directory/extensions {"number":"31","name":"x","channel":"PJSIP/30"}`` with A's token
    (B's device), then a call on that device: it stays B's, in B's webhooks, calls and agents."""
    a_hook = api.post("/api/v1/webhooks", TOKEN_A, json={"url": "http://acme.example/", "dialect": "callhook"})
    b_hook = api.post("/api/v1/webhooks", TOKEN_B, json={"url": "http://globex.example/", "dialect": "callhook"})
    r = api.post("/api/v1/directory/extensions", TOKEN_A, json={"number": "31", "name": "x", "channel": "PJSIP/30"})
    assert r.status_code == 403
    r = api.put(
        "/api/v1/directory/extensions/20",
        TOKEN_A,
        json={"number": "20", "name": "Jana", "login": "jana", "channel": "PJSIP/30"},
    )
    assert r.status_code == 403
    r = api.post("/api/v1/directory/extensions", json={"number": "31", "channel": "PJSIP/30", "tenant": "acme"})
    assert r.status_code == 409  # not even the admin gives one device to two extensions
    assert api.hub.pbxes[0].tracker.directory.extension_of_channel("PJSIP/30-0000002a").tenant == "globex"
    assert api.hub.pbxes[0].tracker.agents.directory.extension_of_channel("PJSIP/30").tenant == "globex"
    # a call on B's phone, as the tracker would make it: it is B's
    api.accept(*ended_call("c-b", "777", "30", answered=True, tenant="globex", by="30"))
    a_items = api.get("/api/v1/deliveries", TOKEN_A).json()["items"]
    b_items = api.get("/api/v1/deliveries", TOKEN_B).json()["items"]
    assert {d["subscription_id"] for d in b_items} == {b_hook.json()["id"]}
    assert a_items == []
    assert a_hook.json()["id"] not in {d["subscription_id"] for d in b_items}
    assert [c["call_id"] for c in api.get("/api/v1/calls", TOKEN_A).json()["items"]] == []

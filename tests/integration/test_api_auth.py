"""Authentication on every route, and the tenant matrix: tenant A never reads or changes
tenant B's webhooks, deliveries, calls, CDRs or directory entries (and back)."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import re

import pytest
from test_api_support import TOKEN_A, TOKEN_B, Api, api, ended_call, mapi  # noqa: F401

from callhook.store.base import Finish, Status

OPEN = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# a recording's download: its credential is the signed link, not a token
# (tests/integration/test_api_recordings.py: bad, foreign and expired links refused)
SIGNED = {"/recordings/{file}"}
SAMPLE = {
    "sub_id": "wh_x",
    "delivery_id": "1",
    "call_id": "c1",
    "number": "20",
    "name": "NOC",
    "client_id": "12",
    "agent_type": "local",
    "agent_id": "1",
    "event_id": "1",
    "dialect": "voipex",
    "token_id": "tok_x",
}


def _routes(mapi: Api) -> list[tuple[str, str]]:
    out = []
    for template, ops in mapi.app.openapi()["paths"].items():
        if template not in OPEN | SIGNED:
            path = re.sub(r"\{(\w+)\}", lambda m: SAMPLE[m.group(1)], template)
            out += [(m.upper(), path) for m in sorted(ops)]
    return out


def test_every_route_but_health_needs_a_token(mapi: Api) -> None:
    routes = _routes(mapi)
    assert len(routes) > 40
    for method, path in routes:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic !!"},
            {"Authorization": "Token " + TOKEN_A},
        ):
            r = mapi.client.request(method, path, headers=headers)
            assert r.status_code == 401, (method, path, headers, r.status_code)
            assert "WWW-Authenticate" in r.headers
    for path in ("/healthz", "/metrics", "/openapi.json"):
        assert mapi.client.get(path).status_code == 200


def test_basic_auth_only_on_vendor_routes(mapi: Api) -> None:
    import base64

    basic = {"Authorization": "Basic " + base64.b64encode(f"u:{TOKEN_A}".encode()).decode()}
    assert mapi.client.get("/api/v1/webhooks", headers=basic).status_code == 401
    assert mapi.client.get("/client/12/limits/", headers=basic).status_code == 200


def _seed_tenant(api: Api, token: str, tenant: str, exten: str, call: str) -> dict[str, str]:
    """One of everything for a tenant; returns the ids."""
    wid = api.post("/api/v1/webhooks", token, json={"url": f"http://{tenant}.example/", "dialect": "voipex"}).json()[
        "id"
    ]
    tph = api.post(
        "/client/7/agent/local/1/event/",
        token,
        json={"url": f"http://{tenant}.example/t", "event_type": "agent-login", "method": "GET"},
    ).json()["id"]
    r = api.post(  # the admin assigns a tenant its extensions
        "/api/v1/directory/extensions", json={"number": exten, "channel": f"PJSIP/{exten}", "tenant": tenant}
    )
    assert r.status_code == 201, r.text
    api.accept(*ended_call(call, "777", exten, answered=True, tenant=tenant, by=exten))
    dlv = api.get("/api/v1/deliveries", token).json()["items"][0]["id"]
    return {"webhook": wid, "telphin": str(tph), "exten": exten, "call": call, "delivery": str(dlv)}


def test_tenant_matrix(api: Api) -> None:
    ids = {
        "acme": _seed_tenant(api, TOKEN_A, "acme", "25", "ca"),
        "globex": _seed_tenant(api, TOKEN_B, "globex", "35", "cb"),
    }
    claimed = api.run(api.hub.store.claim(api.hub.now() + 1, 100, 30.0))
    api.run(api.hub.store.finish([Finish(d.id, d.lease_id, Status.DEAD) for d in claimed], api.hub.now() + 1))
    for me, token, other in (("acme", TOKEN_A, "globex"), ("globex", TOKEN_B, "acme")):
        theirs, mine = ids[other], ids[me]
        # reading one object of the other tenant: 404, as if it did not exist; its own: 200
        for path_of in (
            lambda t: f"/api/v1/webhooks/{t['webhook']}",
            lambda t: f"/api/v1/webhooks/{t['webhook']}/stats",
            lambda t: f"/api/v1/deliveries/{t['delivery']}",
            lambda t: f"/api/v1/calls/{t['call']}",
            lambda t: f"/api/v1/directory/extensions/{t['exten']}",
            lambda t: f"/client/7/agent/local/1/event/{t['telphin']}",
        ):
            assert api.get(path_of(theirs), token).status_code == 404, path_of(theirs)
            assert api.get(path_of(mine), token).status_code == 200, path_of(mine)
        # changing it: 404 (or 403 where the token names the other tenant)
        assert api.patch(f"/api/v1/webhooks/{theirs['webhook']}", token, json={"enabled": False}).status_code == 404
        assert api.delete(f"/api/v1/webhooks/{theirs['webhook']}", token).status_code == 404
        assert api.post(f"/api/v1/deliveries/{theirs['delivery']}/retry", token).status_code == 404
        assert (
            api.post("/api/v1/deliveries/replay", token, json={"subscription_id": theirs["webhook"]}).status_code == 404
        )
        assert (
            api.put(f"/api/v1/directory/extensions/{theirs['exten']}", token, json={"number": "99"}).status_code == 404
        )
        assert api.delete(f"/api/v1/directory/extensions/{theirs['exten']}", token).status_code == 404
        assert api.delete(f"/client/7/agent/local/1/event/{theirs['telphin']}", token).status_code == 404
        assert (
            api.post(
                "/api/v1/webhooks", token, json={"url": "http://x.example/", "dialect": "voipex", "tenant": other}
            ).status_code
            == 403
        )
        # lists hold only its own, whatever it asks for
        assert {w["id"] for w in api.get("/api/v1/webhooks", token, params={"tenant": other}).json()} == {
            mine["webhook"]
        }
        for path in ("/api/v1/deliveries", "/api/v1/dead-letters", "/api/v1/calls", "/api/v1/cdrs"):
            items = api.get(path, token, params={"tenant": other}).json()["items"]
            assert items, path
            assert {i["tenant"] for i in items} == {me}, path
        assert other not in api.get("/api/v1/cdrs/csv", token).text
        exts = api.get("/api/v1/directory/extensions", token).json()
        assert {e["tenant"] for e in exts} == {me}
        assert mine["exten"] in {e["number"] for e in exts}
        assert [e["id"] for e in api.get("/client/7/agent/local/1/event/", token).json()] == [int(mine["telphin"])]
    # the admin sees both
    assert {w["tenant"] for w in api.get("/api/v1/webhooks").json()} == {"acme", "globex"}


@pytest.mark.parametrize("token", ["", " ", "Bearer", "a" * 10_000])
def test_odd_tokens_are_401(mapi: Api, token: str) -> None:
    assert mapi.client.get("/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"}).status_code == 401

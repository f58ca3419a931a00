"""Telphin's agent event routes, body for body as seed 004 shows them, and the events
such a subscription then gets."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import base64
from urllib.parse import parse_qsl, urlsplit

from test_api_support import TOKEN_A, TOKEN_B, Api, agent_event, api, mapi  # noqa: F401

from callhook.core.events import EventType

SEED_BODY = {"event_type": "agent-login", "method": "GET", "url": "https://somehost.com/fordel/show.php"}


def test_the_seed_example(api: Api) -> None:
    r = api.post("/client/12/agent/local/136/event/", json=SEED_BODY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body == {
        "url": "https://somehost.com/fordel/show.php",
        "id": body["id"],
        "method": "GET",
        "event_type": "agent-login",
    }
    assert list(body) == ["url", "id", "method", "event_type"]
    assert isinstance(body["id"], int)
    eid = body["id"]
    assert api.get("/client/12/agent/local/136/event/").json() == [body]
    assert api.get(f"/client/12/agent/local/136/event/{eid}").json() == body
    sub = api.run(api.hub.store.get_subscription(f"tph_{eid}"))
    assert (sub.dialect.value, sub.telphin_client, sub.telphin_agent_type, sub.telphin_agent_id) == (
        "telphin",
        "12",
        "local",
        "136",
    )
    assert sub.events == frozenset({"agent.login"})
    r = api.put(f"/client/12/agent/local/136/event/{eid}", json={"event_type": "agent-logout", "method": "POST"})
    assert r.json() == {
        "url": "https://somehost.com/fordel/show.php",
        "id": eid,
        "method": "POST",
        "event_type": "agent-logout",
    }
    assert api.put(f"/client/12/agent/local/136/event/{eid}", json={}).json() == r.json()
    assert api.delete(f"/client/12/agent/local/136/event/{eid}").status_code == 204
    assert api.get(f"/client/12/agent/local/136/event/{eid}").status_code == 404
    assert api.get("/client/12/agent/local/136/event/").json() == []


def test_scoping_ids_and_errors(mapi: Api) -> None:
    a = mapi.post("/client/12/agent/local/136/event/", json=SEED_BODY).json()["id"]
    b = mapi.post("/client/12/agent/remote/136/event/", json=SEED_BODY).json()["id"]
    c = mapi.post("/client/13/agent/local/136/event/", json=SEED_BODY).json()["id"]
    assert len({a, b, c}) == 3
    assert [e["id"] for e in mapi.get("/client/12/agent/remote/136/event/").json()] == [b]
    assert mapi.get(f"/client/12/agent/local/136/event/{b}").status_code == 404  # a remote agent's
    assert mapi.get(f"/client/12/agent/local/137/event/{a}").status_code == 404
    assert mapi.get(f"/client/13/agent/local/136/event/{a}").status_code == 404
    assert mapi.get("/client/12/agent/other/136/event/").status_code == 422
    assert mapi.get("/client/12/agent/local/abc/event/").status_code == 422
    assert mapi.get("/client/12/agent/local/136/event/x").status_code == 422
    for bad in (
        {**SEED_BODY, "event_type": "agent-pause"},
        {**SEED_BODY, "method": "PUT"},
        {"event_type": "agent-login", "method": "GET"},
        {**SEED_BODY, "url": "mailto:x"},
    ):
        assert mapi.post("/client/12/agent/local/136/event/", json=bad).status_code == 422
    assert mapi.get("/api/v1/webhooks").json() == []  # listed on their own routes only


def test_limit_per_client(mapi: Api) -> None:
    mapi.hub.config.extra["telphin_limit"] = 2  # type: ignore[index]
    assert mapi.get("/client/12/limits/").json() == {"agent_event": {"limit": 2, "used": 0, "available": 2}}
    for agent in (1, 2):
        assert mapi.post(f"/client/12/agent/local/{agent}/event/", json=SEED_BODY).status_code == 200
    r = mapi.post("/client/12/agent/local/3/event/", json=SEED_BODY)
    assert r.status_code == 403
    assert "limit" in r.json()["detail"]
    assert mapi.post("/client/14/agent/local/3/event/", json=SEED_BODY).status_code == 200
    assert mapi.get("/client/12/limits/").json()["agent_event"] == {"limit": 2, "used": 2, "available": 0}


def test_tenants_and_basic_auth(mapi: Api) -> None:
    basic = {"Authorization": "Basic " + base64.b64encode(f"any:{TOKEN_A}".encode()).decode()}
    r = mapi.client.post("/client/12/agent/local/136/event/", json=SEED_BODY, headers=basic)
    assert r.status_code == 200
    eid = r.json()["id"]
    assert mapi.client.get("/client/12/agent/local/136/event/", headers=basic).json()[0]["id"] == eid
    assert mapi.get("/client/12/agent/local/136/event/", TOKEN_B).json() == []
    assert mapi.get(f"/client/12/agent/local/136/event/{eid}", TOKEN_B).status_code == 404
    assert mapi.delete(f"/client/12/agent/local/136/event/{eid}", TOKEN_B).status_code == 404
    assert mapi.put(f"/client/12/agent/local/136/event/{eid}", TOKEN_B, json={"method": "POST"}).status_code == 404
    assert mapi.get("/client/12/agent/local/136/event/").json() == []  # the admin's name space is its own
    assert mapi.client.get("/client/12/agent/local/136/event/").status_code == 401


def test_a_login_reaches_the_subscriber_as_the_seed_logs_it(mapi: Api) -> None:
    eid = mapi.post("/client/12/agent/local/20/event/", json=SEED_BODY).json()["id"]
    mapi.accept(
        agent_event(EventType.AGENT_LOGIN, "21"),
        agent_event(EventType.AGENT_LOGOUT, "20"),
        agent_event(EventType.AGENT_LOGIN, "20"),
    )
    items = mapi.get("/api/v1/deliveries", params={"subscription_id": f"tph_{eid}"}).json()["items"]
    assert len(items) == 1  # agent 20's login only
    req = items[0]["request"]
    assert req["method"] == "GET"
    url = urlsplit(req["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://somehost.com/fordel/show.php"
    assert dict(parse_qsl(url.query)) == {
        "agent_id": "20",
        "agent_status": "available",
        "agent_type": "local",
        "extension_name": "20@acme",
        "event_source": "phone",
    }


def test_get_data_in_a_header_is_an_option(api: Api) -> None:
    body = {**SEED_BODY, "get_data_header": "X-Telphin-Data"}
    r = api.post("/client/12/agent/local/20/event/", json=body)
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["url", "id", "method", "event_type"]  # the vendor's answer, unchanged
    eid = r.json()["id"]
    sub = api.run(api.hub.store.get_subscription(f"tph_{eid}"))
    assert sub.get_data_header == "X-Telphin-Data"  # stored (memory and SQLite)
    api.accept(agent_event(EventType.AGENT_LOGIN, "20"))
    req = api.get("/api/v1/deliveries", params={"subscription_id": f"tph_{eid}"}).json()["items"][0]["request"]
    assert req["url"] == "https://somehost.com/fordel/show.php"
    headers = {k.lower(): v for k, v in req["headers"]}
    assert dict(parse_qsl(headers["x-telphin-data"]))["agent_status"] == "available"
    r = api.put(f"/client/12/agent/local/20/event/{eid}", json={"get_data_header": ""})
    assert r.status_code == 200
    assert api.run(api.hub.store.get_subscription(f"tph_{eid}")).get_data_header == ""
    bad = api.post("/client/12/agent/local/20/event/", json={**SEED_BODY, "get_data_header": "Authorization"})
    assert bad.status_code == 422


def test_get_data_header_on_the_webhooks_api(mapi: Api) -> None:
    url = "https://crm.example/t"
    r = mapi.post("/api/v1/webhooks", json={"url": url, "dialect": "telphin", "get_data_header": "X-Data"})
    assert r.status_code == 201, r.text
    assert r.json()["get_data_header"] == "X-Data"
    r = mapi.post("/api/v1/webhooks", json={"url": url, "dialect": "voipex", "get_data_header": "X-Data"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "get_data_header"]

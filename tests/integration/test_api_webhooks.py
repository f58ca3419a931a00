"""``/api/v1/webhooks``: the subscription contract, on both stores."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import json
import logging

import pytest
from test_api_support import TOKEN_A, TOKEN_B, Api, api, mapi  # noqa: F401

VOIPEX = {
    "url": "https://crm.example.com/hook",
    "dialect": "voipex",
    "auth": {"type": "basic", "username": "crm", "password": "s3cret-pw"},
    "events": ["Ringing", "Hangup"],
    "secret": "whsec_c2VjcmV0LWtleS1vZi0yNC1ieXRlcyEh",
    "headers": {"X-Crm": "1"},
}


def test_create_returns_the_stored_object_without_secrets(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = api.post("/api/v1/webhooks", json=VOIPEX)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"].startswith("wh_")
    assert body["method"] == "POST"  # voipex's default
    assert body["auth"] == {"type": "basic", "username": "crm", "has_password": True}
    assert body["headers"] == {"X-Crm": "****"}  # configured header values are write-only too
    assert body["has_secret"] is True
    assert body["events"] == ["call.hangup", "call.ringing"]
    assert "s3cret-pw" not in r.text
    assert "c2VjcmV0" not in r.text  # the key's base64
    for path in ("/api/v1/webhooks", f"/api/v1/webhooks/{body['id']}"):
        got = api.get(path)
        assert got.status_code == 200
        assert "s3cret-pw" not in got.text
        assert "c2VjcmV0" not in got.text
    assert api.get(f"/api/v1/webhooks/{body['id']}").json() == body
    assert "s3cret-pw" not in caplog.text


def test_defaults_per_dialect(api: Api) -> None:
    r = api.post("/api/v1/webhooks", json={"url": "http://10.1.2.3:8085/", "dialect": "pbx2is"})
    assert r.status_code == 201
    assert r.json()["method"] == "GET"
    assert r.json()["events"] == []  # every event the dialect carries


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dialect": "voipex"}, "url"),
        ({"url": "ftp://x", "dialect": "voipex"}, "url"),
        ({"url": "http://x", "dialect": "sip"}, "dialect"),
        ({"url": "http://x", "dialect": "voipex", "method": "PUT"}, "method"),
        ({"url": "http://x", "dialect": "voipex", "events": ["Exploded"]}, "events"),
        ({"url": "http://x", "dialect": "telphin", "events": ["call.ringing"]}, "events"),
        ({"url": "http://x", "dialect": "voipex", "headers": {"Bad Name": "v"}}, "headers"),
        (
            {"url": "http://x", "dialect": "voipex", "auth": {"type": "basic", "username": "u", "password": "p" * 300}},
            "auth",
        ),
        ({"url": "http://x", "dialect": "voipex", "unknown": 1}, "unknown"),
    ],
)
def test_invalid_input_is_422_naming_the_field(mapi: Api, body: dict[str, object], field: str) -> None:
    r = mapi.post("/api/v1/webhooks", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(field in [str(x) for x in d["loc"]] and d["msg"] for d in detail), detail
    assert "p" * 300 not in r.text  # the rejected value (maybe a password) is not echoed


def test_patch_and_delete(api: Api) -> None:
    wid = api.post("/api/v1/webhooks", json=VOIPEX).json()["id"]
    r = api.patch(
        f"/api/v1/webhooks/{wid}",
        json={"url": "https://crm2.example.com/", "enabled": False, "events": ["call.answered"]},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["url"], r.json()["enabled"], r.json()["events"]) == (
        "https://crm2.example.com/",
        False,
        ["call.answered"],
    )
    assert r.json()["auth"] == {"type": "basic", "username": "crm", "has_password": True}  # untouched
    stored = api.run(api.hub.store.get_subscription(wid, with_secrets=True))
    assert stored.auth.password == "s3cret-pw"
    assert stored.secret
    r = api.patch(f"/api/v1/webhooks/{wid}", json={"auth": None, "secret": ""})
    assert r.json()["auth"] is None
    assert r.json()["has_secret"] is False
    assert api.patch(f"/api/v1/webhooks/{wid}", json={"url": "nope"}).status_code == 422
    assert api.delete(f"/api/v1/webhooks/{wid}").status_code == 204
    assert api.get(f"/api/v1/webhooks/{wid}").status_code == 404
    assert api.delete(f"/api/v1/webhooks/{wid}").status_code == 404


def test_tenant_token_creates_in_its_tenant(api: Api) -> None:
    r = api.post("/api/v1/webhooks", TOKEN_A, json={"url": "http://a.example/", "dialect": "callhook"})
    assert r.status_code == 201
    assert r.json()["tenant"] == "acme"
    r = api.post(
        "/api/v1/webhooks", TOKEN_A, json={"url": "http://a.example/", "dialect": "callhook", "tenant": "globex"}
    )
    assert r.status_code == 403
    assert [w["tenant"] for w in api.get("/api/v1/webhooks", TOKEN_B).json()] == []
    assert len(api.get("/api/v1/webhooks").json()) == 1


def test_stats_of_a_webhook(mapi: Api) -> None:
    wid = mapi.post("/api/v1/webhooks", json=VOIPEX).json()["id"]
    r = mapi.get(f"/api/v1/webhooks/{wid}/stats")
    assert r.status_code == 200
    assert r.json()["attempts"] == 0
    assert r.json()["success_rate"] is None
    assert mapi.get(f"/api/v1/webhooks/{wid}/stats", TOKEN_B).status_code == 404


def test_a_new_webhook_gets_the_next_event_at_once(mapi: Api) -> None:
    from test_api_support import ended_call

    mapi.accept(*ended_call("c0", "777", "20", answered=True))  # warms the accepter's cache of subscriptions
    wid = mapi.post("/api/v1/webhooks", json={"url": "http://crm.example/", "dialect": "callhook"}).json()["id"]
    mapi.accept(*ended_call("c1", "777", "20", answered=True))
    page = mapi.get("/api/v1/deliveries", params={"subscription_id": wid}).json()
    assert len(page["items"]) == 3
    assert json.loads(page["items"][0]["request"]["body"])["call_id"] == "c1"


def test_retry_override_is_stored_shown_and_removed(api: Api) -> None:
    retry = {"schedule": [1, 5, 30], "client_error_attempts": 1, "lifetimes": {"call.ringing": 60, "call.new": 0}}
    r = api.post("/api/v1/webhooks", json={**VOIPEX, "retry": retry})
    assert r.status_code == 201, r.text
    wid = r.json()["id"]
    assert r.json()["retry"] == {
        "schedule": [1.0, 5.0, 30.0],
        "client_error_attempts": 1,
        "lifetimes": {"call.ringing": 60.0, "call.new": 0.0},
    }
    assert api.get(f"/api/v1/webhooks/{wid}").json()["retry"] == r.json()["retry"]
    # a PATCH replaces the override as a whole; fields left out are the installation's
    r = api.patch(f"/api/v1/webhooks/{wid}", json={"retry": {"client_error_attempts": 7}})
    assert r.status_code == 200, r.text
    assert r.json()["retry"] == {"schedule": None, "client_error_attempts": 7, "lifetimes": {}}
    r = api.patch(f"/api/v1/webhooks/{wid}", json={"description": "x"})
    assert r.json()["retry"]["client_error_attempts"] == 7  # untouched by an unrelated change
    r = api.patch(f"/api/v1/webhooks/{wid}", json={"retry": None})
    assert r.json()["retry"] is None
    assert api.get(f"/api/v1/webhooks/{wid}").json()["retry"] is None
    # no override at all unless asked for
    assert api.post("/api/v1/webhooks", json=VOIPEX).json()["retry"] is None


@pytest.mark.parametrize(
    ("retry", "field"),
    [
        ({"schedule": [10, -1]}, "schedule"),
        ({"schedule": [10] * 51}, "schedule"),
        ({"schedule": [8 * 86400]}, "schedule"),
        ({"client_error_attempts": 0}, "client_error_attempts"),
        ({"client_error_attempts": 101}, "client_error_attempts"),
        ({"lifetimes": {"call.exploded": 10}}, "lifetimes"),
        ({"lifetimes": {"call.ringing": -5}}, "lifetimes"),
        ({"attempts": 3}, "attempts"),
    ],
)
def test_invalid_retry_override_is_422_naming_the_field(mapi: Api, retry: dict[str, object], field: str) -> None:
    for r in (
        mapi.post("/api/v1/webhooks", json={**VOIPEX, "retry": retry}),
        mapi.patch(
            f"/api/v1/webhooks/{mapi.post('/api/v1/webhooks', json=VOIPEX).json()['id']}", json={"retry": retry}
        ),
    ):
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        assert any("retry" in map(str, d["loc"]) and field in map(str, d["loc"]) for d in detail), detail


def test_retry_override_is_in_the_openapi_schema(mapi: Api) -> None:
    schemas = mapi.get("/openapi.json").json()["components"]["schemas"]
    retry = schemas["RetryModel"]["properties"]
    assert set(retry) == {"schedule", "client_error_attempts", "lifetimes"}
    assert retry["client_error_attempts"]["anyOf"][0]["minimum"] == 1
    for model in ("WebhookIn", "WebhookPatch", "WebhookOut"):
        assert "retry" in schemas[model]["properties"], model


def test_ordering_is_arrival_unless_asked_for(api: Api) -> None:
    r = api.post("/api/v1/webhooks", json=VOIPEX)
    assert r.status_code == 201, r.text
    assert r.json()["ordering"] == "arrival"
    wid = r.json()["id"]
    r = api.patch(f"/api/v1/webhooks/{wid}", json={"ordering": "call"})
    assert (r.status_code, r.json()["ordering"]) == (200, "call")
    assert api.get(f"/api/v1/webhooks/{wid}").json()["ordering"] == "call"
    assert api.patch(f"/api/v1/webhooks/{wid}", json={"description": "x"}).json()["ordering"] == "call"
    bad = api.patch(f"/api/v1/webhooks/{wid}", json={"ordering": "random"})
    assert bad.status_code == 422
    assert "ordering" in str(bad.json())

"""Validation at the door (issue 13): each bad input is a 4xx naming the field, and nothing is kept."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import base64

import pytest
from test_api_support import ADMIN, Api, mapi  # noqa: F401

HOOK = {"url": "https://crm.example.com/hook", "dialect": "callhook"}
KEY24 = "whsec_" + base64.b64encode(b"k" * 24).decode()


def _field_named(r: object, *where: str) -> bool:
    detail = r.json()["detail"]  # type: ignore[attr-defined]
    return any(list(where) == [str(x) for x in d["loc"]][: len(where)] and d["msg"] for d in detail)


def _webhooks(mapi: Api) -> int:
    return len(mapi.get("/api/v1/webhooks").json())


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        ("whsec_!!!", "not valid base64"),  # the case: every delivery failed later, silently
        ("whsec_" + base64.b64encode(b"short").decode(), "24 to 64 bytes"),
        ("whsec_" + base64.b64encode(b"k" * 65).decode(), "24 to 64 bytes"),
        (" padded ", "printable"),
        ("line\nbreak", "printable"),
    ],
)
def test_a_signing_secret_not_in_the_standard_webhooks_form_is_refused(mapi: Api, secret: str, why: str) -> None:
    r = mapi.post("/api/v1/webhooks", json={**HOOK, "secret": secret})
    assert r.status_code == 422, r.text
    assert _field_named(r, "body", "secret")
    assert why in r.text
    assert secret.strip() not in r.text  # a rejected secret is never echoed
    assert _webhooks(mapi) == 0
    wid = mapi.post("/api/v1/webhooks", json={**HOOK, "secret": KEY24}).json()["id"]
    r = mapi.patch(f"/api/v1/webhooks/{wid}", json={"secret": secret})
    assert r.status_code == 422
    assert _field_named(r, "body", "secret")
    assert mapi.run(mapi.hub.store.get_subscription(wid, with_secrets=True)).secret == KEY24


def test_good_secrets_are_taken() -> None:
    from callhook.core.subscription import check_secret

    for good in ("", KEY24, KEY24.rstrip("="), "whsec_" + base64.b64encode(b"k" * 64).decode(), "shared-secret"):
        assert check_secret(good) == good


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("http://is.example/{evnt}", "unknown placeholder {evnt}"),  # the case: requests went to /
        ("{event}", "absolute http"),
        ("ftp://is.example/{event}", "absolute http"),
    ],
)
def test_url_templates_take_known_placeholders_only(mapi: Api, template: str, why: str) -> None:
    body = {"url": "http://is.example/", "dialect": "pbx2is", "url_template": template}
    r = mapi.post("/api/v1/webhooks", json=body)
    assert r.status_code == 422, r.text
    assert _field_named(r, "body", "url_template")
    assert why in r.text
    ok = mapi.post("/api/v1/webhooks", json={**body, "url_template": "http://is.example/{event}?c={call_id}"})
    assert ok.status_code == 201, ok.text
    r = mapi.patch(f"/api/v1/webhooks/{ok.json()['id']}", json={"url_template": template})
    assert r.status_code == 422


def test_a_url_template_is_for_pbx2is_only(mapi: Api) -> None:
    r = mapi.post("/api/v1/webhooks", json={**HOOK, "url_template": "http://x.example/{event}"})
    assert r.status_code == 422
    assert _field_named(r, "body", "url_template")
    assert "pbx2is" in r.text


@pytest.mark.parametrize(
    "query",
    [
        "number=abc;rm&exten=20",  # the case
        "number=123%0d%0aAction:%20Hangup&exten=20",  # an AMI header injection
        "number=12 34&exten=20",
        "number=123&exten=20;x",
    ],
)
def test_dial_strings_hold_dial_characters_only(mapi: Api, query: str) -> None:
    r = mapi.get("/dial?" + query)
    assert r.status_code == 422, r.text
    field = "number" if "exten=20&" in query + "&" else "exten"
    assert _field_named(r, "query", field)
    assert mapi.hub.pbxes[0].ami.actions == []  # nothing reached the PBX


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/actions/dial", {"exten": "20", "number": "abc;rm"}, "number"),
        ("/api/v1/actions/dial", {"exten": "2 0", "number": "123"}, "exten"),
        ("/api/v1/actions/agent/login", {"exten": "20", "queue": "NOC,x"}, "queue"),
        ("/api/v1/actions/agent/pause", {"exten": "20", "reason": "lunch\r\nAction: Logoff"}, "reason"),
    ],
)
def test_action_bodies_are_checked_before_the_pbx(mapi: Api, path: str, body: dict[str, str], field: str) -> None:
    r = mapi.post(path, json=body)
    assert r.status_code == 422, r.text
    assert _field_named(r, "body", field)
    assert mapi.hub.pbxes[0].ami.actions == []
    assert mapi.get("/agent/pause?exten=20&reason=a%0aAction:%20Logoff").status_code == 422


def test_a_good_dial_string_still_dials(mapi: Api) -> None:
    assert mapi.get("/dial?number=%2B420123456789&exten=20").status_code == 200
    assert mapi.post("/api/v1/actions/dial", json={"exten": "20", "number": "*97#"}).status_code == 200


@pytest.mark.parametrize("bad_id", ["4903777745594117080524521688600569", str(2**63), "0", "-1"])
def test_a_delivery_id_out_of_range_is_404(mapi: Api, bad_id: str) -> None:
    assert mapi.get(f"/api/v1/deliveries/{bad_id}").status_code == 404
    assert mapi.post(f"/api/v1/deliveries/{bad_id}/retry").status_code == 404
    assert mapi.post(f"/api/v1/deliveries/{bad_id}/send-now").status_code == 404
    assert mapi.get("/api/v1/deliveries", params={"before": bad_id}).status_code == 200


@pytest.mark.parametrize("ctype", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_its_content_type_is_415_saying_so(mapi: Api, ctype: str | None) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"} | ({"Content-Type": ctype} if ctype else {})
    r = mapi.client.post("/api/v1/webhooks", content=b'{"url":"http://x.example/","dialect":"voipex"}', headers=headers)
    assert r.status_code == 415, r.text
    assert _field_named(r, "header", "content-type")
    assert "Content-Type: application/json" in r.text
    assert _webhooks(mapi) == 0
    r = mapi.client.put("/api/v1/directory/queues/Q", content=b'{"name":"Q"}', headers=headers)
    assert r.status_code == 415
    headers["Content-Type"] = "application/json; charset=utf-8"
    r = mapi.client.post("/api/v1/webhooks", content=b'{"url":"http://x.example/","dialect":"voipex"}', headers=headers)
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "20;x"}, "number"),
        ({"number": "31", "channel": "PJSIP/31\r\nAction: Logoff"}, "channel"),
        ({"number": "31", "channel": "no-tech"}, "channel"),
    ],
)
def test_directory_numbers_and_devices_hold_dial_characters(mapi: Api, body: dict[str, str], field: str) -> None:
    r = mapi.post("/api/v1/directory/extensions", json=body)
    assert r.status_code == 422, r.text
    assert _field_named(r, "body", field)


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("/client/a;b/agent/local/1/event/", ("path", "client_id")),
        ("/client/1/agent/other/1/event/", ("path", "agent_type")),
        ("/client/1/agent/local/-1/event/", ("path", "agent_id")),
        (f"/client/1/agent/local/{2**64}/event/", ("path", "agent_id")),
        ("/client/1/agent/local/1/event/0", ("path", "event_id")),
        ("/client/a%20b/limits/", ("path", "client_id")),
    ],
)
def test_telphin_route_parameters(mapi: Api, path: str, where: tuple[str, str]) -> None:
    r = mapi.get(path)
    assert r.status_code == 422, r.text
    assert _field_named(r, *where)


def test_telphin_bodies(mapi: Api) -> None:
    base = "/client/1/agent/local/1/event/"
    for body, field in (
        ({"url": "ftp://x", "event_type": "agent-login", "method": "GET"}, "url"),
        ({"url": "http://x.example/", "event_type": "agent-exploded", "method": "GET"}, "event_type"),
        ({"url": "http://x.example/", "event_type": "agent-login", "method": "PUT"}, "method"),
    ):
        r = mapi.post(base, json=body)
        assert r.status_code == 422, r.text
        assert _field_named(r, "body", field)
    assert mapi.get(base).json() == []

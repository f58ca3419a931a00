"""``POST /api/v1/webhooks/{id}/test``: one delivery, to that webhook only, and the refusals.

The send itself (a real receiver, the dispatcher's attempt) is tested end to end in
tests/e2e/test_cli_ops.py against ``callhook serve``; here the hub has no dispatcher,
so ``wait: 0`` answers with the delivery not yet attempted.
"""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from test_api_support import TOKEN_A, TOKEN_B, Api, api, mapi  # noqa: F401


def _hook(api: Api, token: str = TOKEN_A, **kw: object) -> str:
    body = {"url": "https://crm.example/hook", "dialect": "callhook", **kw}
    r = api.post("/api/v1/webhooks", token, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_one_delivery_for_the_tested_webhook_and_none_for_the_others(api: Api) -> None:
    tested = _hook(api)
    other = _hook(api)  # matches every event as well
    r = api.post(f"/api/v1/webhooks/{tested}/test", TOKEN_A, json={"wait": 0})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["webhook"] == tested
    assert out["event_type"] == "call.new"
    assert out["ok"] is False
    assert out["attempt"] is None
    assert out["delivery_status"] == "pending"
    assert "not attempted within 0s" in out["detail"]
    assert out["sent"]["url"] == "https://crm.example/hook"
    assert '"caller_num":"000000000"' in out["sent"]["body"]
    mine = api.get("/api/v1/deliveries", params={"subscription_id": tested}).json()["items"]
    assert [(d["id"], d["event_id"]) for d in mine] == [(out["delivery_id"], out["event_id"])]
    assert api.get("/api/v1/deliveries", params={"subscription_id": other}).json()["items"] == []


def test_refusals_say_why(api: Api) -> None:
    hook = _hook(api)
    assert api.post(f"/api/v1/webhooks/{hook}/test", TOKEN_B, json={}).status_code == 404  # another tenant's
    assert api.post("/api/v1/webhooks/wh_none/test", json={}).status_code == 404
    bad = api.post(f"/api/v1/webhooks/{hook}/test", json={"wait": -1})
    assert bad.status_code == 422
    assert api.post(f"/api/v1/webhooks/{hook}/test", json={"later": 1}).status_code == 422
    off = _hook(api, enabled=False)
    r = api.post(f"/api/v1/webhooks/{off}/test", json={"wait": 0})
    assert r.status_code == 409
    assert "disabled" in r.json()["detail"]
    records_only = _hook(api, events=["call.record"])
    r = api.post(f"/api/v1/webhooks/{records_only}/test", json={"wait": 0})
    assert r.status_code == 409
    assert "no test event fits" in r.json()["detail"]
    assert api.get("/api/v1/deliveries").json()["items"] == []

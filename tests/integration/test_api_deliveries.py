"""Deliveries, attempts, retry, replay and dead letters, on both stores."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import re
from datetime import datetime

from test_api_support import TOKEN_A, TOKEN_B, Api, api, ended_call, mapi  # noqa: F401

from callhook.store.base import Attempt, Finish, Status


def _subscribe(api: Api, token: str = TOKEN_A, **kw: object) -> str:
    body = {
        "url": "https://user:pw@crm.example/hook?token=abc",
        "dialect": "voipex",
        "auth": {"username": "crm", "password": "pw-secret"},
        **kw,
    }
    r = api.post("/api/v1/webhooks", token, json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _finish_all(api: Api, status: Status, http: int | None = 500) -> list[int]:
    """Claim every due delivery and end it with ``status`` and one recorded attempt."""
    store, now = api.hub.store, api.hub.now()
    done = []
    while claimed := api.run(store.claim(now + 1, 100, 30.0)):
        finishes = [
            Finish(
                d.id,
                d.lease_id,
                status,
                last_error="HTTP 500",
                last_status=http,
                attempt=Attempt(
                    d.id,
                    d.subscription_id,
                    now,
                    d.request.method,
                    d.request.url,
                    (("Authorization", "Basic Y3JtOnB3"),),
                    http,
                    b"oops",
                    12.5,
                ),
            )
            for d in claimed
        ]
        api.run(store.finish(finishes, now + 1))
        done += [d.id for d in claimed]
    return done


def test_list_filter_and_keyset_paging(api: Api) -> None:
    sub = _subscribe(api)
    for i in range(5):
        api.accept(*ended_call(f"call-{i}", "777888999", "20", answered=True))
    page = api.get("/api/v1/deliveries", params={"limit": 4}).json()
    assert len(page["items"]) == 4
    assert page["next_cursor"]
    ids = [d["id"] for d in page["items"]]
    assert ids == sorted(ids, reverse=True)
    rest = api.get("/api/v1/deliveries", params={"limit": 100, "before": page["next_cursor"]}).json()
    assert rest["next_cursor"] is None
    all_ids = ids + [d["id"] for d in rest["items"]]
    assert len(all_ids) == len(set(all_ids))
    assert all(d["subscription_id"] == sub and d["status"] == "pending" for d in page["items"])
    one_call = api.get("/api/v1/deliveries", params={"call_id": "call-2"}).json()["items"]
    assert one_call
    assert all(d["order_key"] == "call-2" for d in one_call)
    assert api.get("/api/v1/deliveries", params={"status": "dead"}).json()["items"] == []
    assert api.get("/api/v1/deliveries", params={"limit": 0}).status_code == 422
    assert api.get("/api/v1/deliveries", params={"limit": 1001}).status_code == 422
    assert api.get("/api/v1/deliveries", params={"before": "x"}).status_code == 422


def test_one_delivery_with_attempts_hides_credentials(api: Api) -> None:
    _subscribe(api)
    api.accept(*ended_call("c1", "777888999", "20", answered=True))
    did = _finish_all(api, Status.DEAD)[0]
    r = api.get(f"/api/v1/deliveries/{did}")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "dead"
    assert len(body["attempt_log"]) == 1
    assert body["attempt_log"][0]["status"] == 500
    assert body["attempt_log"][0]["body"] == "oops"
    assert "pw-secret" not in r.text
    assert "user:pw" not in r.text
    assert "Y3JtOnB3" not in r.text
    assert "token=abc" not in r.text
    assert api.get("/api/v1/deliveries/999999").status_code == 404


def test_retry_dead_letters_and_replay(api: Api) -> None:
    sub = _subscribe(api)
    api.accept(*ended_call("c1", "777888999", "20", answered=True))
    dead = _finish_all(api, Status.DEAD)
    letters = api.get("/api/v1/dead-letters").json()
    assert sorted(d["id"] for d in letters["items"]) == sorted(dead)
    r = api.post(f"/api/v1/deliveries/{dead[0]}/retry")
    assert r.status_code == 200
    assert r.json()["status"] == "pending"
    assert api.post(f"/api/v1/deliveries/{dead[0]}/retry").status_code == 409  # pending now
    assert api.post("/api/v1/deliveries/424242/retry").status_code == 404
    r = api.post("/api/v1/dead-letters/retry", params={"subscription_id": sub})
    assert r.json() == {"count": len(dead) - 1}
    assert api.get("/api/v1/dead-letters").json()["items"] == []
    # all done now; replay them as new deliveries
    _finish_all(api, Status.DONE, 200)
    r = api.post("/api/v1/deliveries/replay", json={"subscription_id": sub})
    assert r.status_code == 200
    assert r.json()["count"] == len(dead)
    replays = api.get("/api/v1/deliveries", params={"status": "pending"}).json()["items"]
    assert sorted(d["replay_of"] for d in replays) == sorted(dead)
    assert api.post("/api/v1/deliveries/replay", json={}).status_code == 422
    assert api.post("/api/v1/deliveries/replay", json={"subscription_id": "nope"}).status_code == 404
    r = api.post("/api/v1/deliveries/replay", json={"since": "2000-01-01T00:00:00Z", "until": 1})
    assert r.json() == {"count": 0}


def test_dead_letters_paging_merges_dead_and_expired(mapi: Api) -> None:
    _subscribe(mapi)
    mapi.accept(*ended_call("c1", "777", "20", answered=True), *ended_call("c2", "778", "20", answered=True))
    store, now = mapi.hub.store, mapi.hub.now()
    claimed = mapi.run(store.claim(now + 1, 100, 30.0))
    mapi.run(
        store.finish(
            [Finish(d.id, d.lease_id, Status.EXPIRED if i % 2 else Status.DEAD) for i, d in enumerate(claimed)], now + 1
        )
    )
    ids = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 1} | ({"before": cursor} if cursor else {})
        page = mapi.get("/api/v1/dead-letters", params=params).json()
        ids += [d["id"] for d in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert ids == sorted((d.id for d in claimed), reverse=True)


def test_tenants_never_see_each_others_deliveries(api: Api) -> None:
    _subscribe(api, TOKEN_A)
    api.accept(*ended_call("c1", "777", "20", answered=True))
    dead = _finish_all(api, Status.DEAD)
    assert api.get("/api/v1/deliveries", TOKEN_B).json()["items"] == []
    assert api.get("/api/v1/deliveries", TOKEN_B, params={"tenant": "acme"}).json()["items"] == []
    assert api.get(f"/api/v1/deliveries/{dead[0]}", TOKEN_B).status_code == 404
    assert api.post(f"/api/v1/deliveries/{dead[0]}/retry", TOKEN_B).status_code == 404
    assert api.get("/api/v1/dead-letters", TOKEN_B).json()["items"] == []
    assert api.post("/api/v1/dead-letters/retry", TOKEN_B).json() == {"count": 0}
    assert api.post("/api/v1/deliveries/replay", TOKEN_B, json={"since": 0}).json() == {"count": 0}
    assert len(api.get("/api/v1/deliveries", TOKEN_A).json()["items"]) == len(dead)
    assert api.post(f"/api/v1/deliveries/{dead[0]}/retry", TOKEN_A).status_code == 200


def test_times_are_iso_8601_with_an_offset_everywhere(api: Api) -> None:
    """Deliveries, attempts, webhook stats and delivery health: the format of calls' times."""
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")
    sub = api.post("/api/v1/webhooks", json={"url": "http://crm.example/", "dialect": "callhook"}).json()["id"]
    api.accept(*ended_call("c1", "777", "20", answered=True))
    page = api.get("/api/v1/deliveries").json()
    d = page["items"][0]
    for key in ("next_at", "created_at"):
        assert iso.fullmatch(d[key]), (key, d[key])
    created = datetime.fromisoformat(d["created_at"])
    assert abs(created.timestamp() - api.hub.now()) < 600
    assert d["finished_at"] is None
    stats = api.get(f"/api/v1/webhooks/{sub}/stats").json()
    assert iso.fullmatch(stats["since"])
    health = api.get("/api/v1/delivery-health").json()
    assert health[0]["last_error_at"] is None
    schema = api.get("/openapi.json").json()["components"]["schemas"]
    assert schema["DeliveryOut"]["properties"]["created_at"] == {
        "type": "string",
        "format": "date-time",
        "title": "Created At",
    }

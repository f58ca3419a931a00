"""The loss ledger through the API: ``GET /api/v1/ledger``, per webhook, the delivery
health page's ``ledger`` and ``/metrics``; a deleted webhook's deliveries closed as
such and not counted as dead letters by the gauge monitoring alerts on."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from test_api_support import TOKEN_A, TOKEN_B, Api, api, ended_call  # noqa: F401

from callhook.store.base import Attempt, Finish, Status

BUCKETS = ("delivered", "pending", "inflight", "dead", "expired")


def _subscribe(api: Api, url: str, token: str | None = None) -> str:
    kw = {} if token is None else {"token": token}
    r = api.post("/api/v1/webhooks", json={"url": url, "dialect": "callhook"}, **kw)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _listed(api: Api, sub: str, status: str) -> int:
    r = api.get("/api/v1/deliveries", params={"subscription_id": sub, "status": status, "limit": 500})
    assert r.status_code == 200, r.text
    return len(r.json()["items"])


def _metric(text: str, name: str, **labels: str) -> float:
    """One sample of the Prometheus text, found by name and labels (in any order)."""
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    raise AssertionError(f"no {name}{labels} in /metrics")


def test_ledger_balances_and_a_deleted_webhook_is_no_failure(api: Api) -> None:
    kept = _subscribe(api, "http://crm.example/hook")
    gone = _subscribe(api, "http://old.example/hook")
    api.accept(*ended_call("c1", "777", "20", answered=True))
    store, now = api.hub.store, api.hub.now()
    routed = {s: _listed(api, s, "pending") for s in (kept, gone)}
    assert routed[kept] == routed[gone] > 0  # both webhooks take every event
    # the heads of the kept webhook: one delivered, the rest given up
    heads = [d for d in api.run(store.claim(now + 1, 100, 30.0)) if d.subscription_id == kept]
    assert heads
    fin = []
    for i, d in enumerate(heads):
        att = Attempt(d.id, d.subscription_id, now, "POST", d.request.url, (), 200 if i == 0 else 404, b"", 5.0)
        status = Status.DONE if i == 0 else Status.DEAD
        fin.append(Finish(d.id, d.lease_id, status, last_status=att.status, attempt=att))
    api.run(store.finish(fin, now + 1))
    assert api.delete(f"/api/v1/webhooks/{gone}").status_code == 204
    # the deleted webhook's deliveries are closed at once, not left pending
    assert _listed(api, gone, "pending") + _listed(api, gone, "inflight") == 0
    r = api.get("/api/v1/ledger")
    assert r.status_code == 200, r.text
    body = r.json()
    by = {row["subscription_id"]: row for row in body["subscriptions"]}
    g = by[gone]
    assert g["deleted"] is True
    assert (g["routed"], g["dead"], g["dead_deleted"], g["dead_gave_up"]) == (routed[gone],) * 3 + (0,)
    k = by[kept]
    assert k["deleted"] is False
    assert k["routed"] == routed[kept]
    assert (k["delivered"], k["dead_gave_up"]) == (1, len(heads) - 1)
    for row in (g, k, body["total"]):
        assert row["routed"] == sum(row[b] for b in BUCKETS)
        assert row["dead"] == row["dead_gave_up"] + row["dead_disabled"] + row["dead_deleted"]
    for b in ("delivered", "pending", "inflight", "dead", "expired"):  # the same as the deliveries listing
        assert k[b] == _listed(api, kept, "done" if b == "delivered" else b)
    assert body["total"]["routed"] == routed[kept] + routed[gone]
    # one webhook, also a deleted one
    assert api.get(f"/api/v1/webhooks/{kept}/ledger").json() == k
    assert api.get(f"/api/v1/webhooks/{gone}/ledger").json() == g
    assert api.get("/api/v1/webhooks/wh_nothing/ledger").status_code == 404
    # the delivery-health page shows it
    health = {w["id"]: w for w in api.get("/api/v1/delivery-health").json()}
    assert health[kept]["ledger"] == k
    # /metrics: the dead-letter gauge counts what was given up, not the deleted webhook's
    text = api.get("/metrics").text
    assert _metric(text, "callhook_dead_letters") == len(heads) - 1
    assert _metric(text, "callhook_dead_letters_by_reason", reason="subscription_deleted") == routed[gone]
    assert _metric(text, "callhook_ledger_routed", subscription=gone) == routed[gone]
    assert (
        _metric(text, "callhook_ledger_deliveries", subscription=kept, status="dead", reason="gave_up")
        == len(heads) - 1
    )
    assert _metric(text, "callhook_ledger_deliveries", subscription=kept, status="delivered", reason="") == 1


def test_a_tenant_sees_its_own_ledger_only(api: Api) -> None:
    mine = _subscribe(api, "http://a.example/hook", TOKEN_A)
    api.accept(*ended_call("c1", "777", "20", answered=True))  # acme's call
    assert api.get("/api/v1/ledger", TOKEN_B).json()["subscriptions"] == []
    assert api.get("/api/v1/ledger", TOKEN_B).json()["total"]["routed"] == 0
    assert api.get(f"/api/v1/webhooks/{mine}/ledger", TOKEN_B).status_code == 404
    own = api.get("/api/v1/ledger", TOKEN_A).json()
    assert [r["subscription_id"] for r in own["subscriptions"]] == [mine]
    assert own["total"]["routed"] == own["subscriptions"][0]["routed"] > 0
    assert api.get("/api/v1/ledger", params={"tenant": "x" * 300}).status_code == 422

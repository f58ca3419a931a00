""" "Send now" for a whole webhook: its pending retries due now, its open circuit probed now."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_api_support import TOKEN_B, Api, ended_call, make_api, store_for

from callhook.api.times import iso
from callhook.delivery.endpoints import BreakerState, EndpointPolicy
from callhook.store.base import Attempt, Finish, Status


def _subscribe(api: Api, url: str) -> str:
    r = api.post("/api/v1/webhooks", json={"url": url, "dialect": "callhook"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture(params=["memory", "sqlite"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    """A hub whose circuit opens after one failure and stays open for 5 minutes."""
    policy = EndpointPolicy(failure_threshold=1, cooldown=300)
    yield from make_api(store_for(request.param, tmp_path), endpoint_policy=policy)


def test_send_now_makes_a_webhooks_retries_due_and_probes_its_open_circuit(api: Api) -> None:
    sub = _subscribe(api, "http://crm.example/hook")
    other = _subscribe(api, "http://other.example/hook")
    api.accept(*ended_call("c1", "777", "20", answered=True))
    store, now = api.hub.store, api.hub.now()
    claimed = api.run(store.claim(now + 1, 100, 30.0))
    finishes = []
    for d in claimed:  # every head failed once; the next try in 10 minutes
        attempt = Attempt(d.id, d.subscription_id, now, "POST", d.request.url, (), 500, b"", 5.0)
        finishes.append(Finish(d.id, d.lease_id, Status.PENDING, now + 600, "HTTP 500", 500, attempt))
    api.run(store.finish(finishes, now + 1))
    ep = api.hub.endpoints.get("http://crm.example/hook")  # type: ignore[attr-defined]
    assert ep.admit(now) is None
    ep.done(False, now)
    assert ep.state is BreakerState.OPEN
    health = {w["id"]: w for w in api.get("/api/v1/delivery-health").json()}
    assert health[sub]["breaker"]["state"] == "open"
    # shown as "tries again at ..." (ISO 8601, as every time in the JSON API)
    assert health[sub]["breaker"]["open_until"] == iso(now + 300)
    r = api.post("/api/v1/deliveries/send-now", params={"subscription_id": sub})
    assert r.status_code == 200, r.text
    assert r.json() == {"count": 3, "breaker_opened": True}  # c1's three events, each the head of its group
    assert ep.admit(now + 0.01) is None  # the probe goes at once
    due = api.run(store.claim(now + 0.01, 100, 30.0))
    assert {d.subscription_id for d in due} == {sub}, "the other webhook's retries keep their time"
    assert len(api.get("/api/v1/deliveries", params={"subscription_id": other, "status": "pending"}).json()["items"])
    assert api.post("/api/v1/deliveries/send-now", TOKEN_B, params={"subscription_id": sub}).status_code == 404
    assert api.post("/api/v1/deliveries/send-now").status_code == 422
    assert api.post("/api/v1/deliveries/send-now", params={"subscription_id": "wh_x"}).status_code == 404

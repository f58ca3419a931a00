"""``/healthz``, ``/metrics`` and the limits on requests (body size, field lengths, pages)."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_api_support import ADMIN, Api, ended_call, make_api, mapi  # noqa: F401

from callhook.store.base import StoreError
from callhook.store.memory import MemoryStore


def test_healthz_without_token(mapi: Api) -> None:
    mapi.post("/api/v1/webhooks", json={"url": "http://crm.example/", "dialect": "callhook"})
    mapi.accept(*ended_call("c1", "777", "20", answered=True))
    r = mapi.client.get("/healthz")
    assert r.status_code == 200
    pbx = {
        "configured": True,
        "connected": True,
        "pbx": "pbx",
        "held": True,  # one process on a memory store: no election, it reads the PBX
        "elected": False,
        "terms": 1,
        "election_error": "",
        "error": "",
    }
    assert r.json() == {
        "status": "ok",
        "ami": {**pbx, "pbxes": [pbx]},  # the first PBX at the top level, every PBX in pbxes
        "store": {"reachable": True, "error": ""},
        "backlog": 3,
        "dead_letters": 0,
        "capture": {
            "queued": 0,
            "unstored": 0,
            "last_unstored_at": None,
            "last_unstored_reason": "",
            "stalled_since": None,
            "backpressure": 0,
        },
        "reasons": [],
    }


def test_healthz_degraded_when_the_store_fails(mapi: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> None:
        raise StoreError("disk gone")

    monkeypatch.setattr(mapi.hub.store, "counts", broken)
    r = mapi.client.get("/healthz")
    assert r.status_code == 503
    assert r.json()["store"] == {"reachable": False, "error": "StoreError"}
    assert mapi.client.get("/metrics").status_code == 200  # the rest is still worth scraping
    assert mapi.get("/api/v1/deliveries").status_code == 200  # the memory store's other methods work


def test_a_store_failure_on_a_route_is_503(mapi: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*a: object, **kw: object) -> None:
        raise StoreError("locked")

    monkeypatch.setattr(mapi.hub.store, "list_deliveries", broken)
    r = mapi.get("/api/v1/deliveries")
    assert r.status_code == 503
    assert "locked" not in r.text


def test_metrics_refresh_gauges_at_scrape(mapi: Api) -> None:
    mapi.post("/api/v1/webhooks", json={"url": "http://crm.example/", "dialect": "callhook"})
    mapi.accept(*ended_call("c1", "777", "20", answered=True))
    r = mapi.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    lines = {ln.split(" ")[0]: ln.split(" ")[1] for ln in r.text.splitlines() if ln and not ln.startswith("#")}
    assert float(lines["callhook_backlog"]) == 3
    assert float(lines["callhook_dead_letters"]) == 0
    assert float(lines["callhook_ami_connected"]) == 1
    assert float(lines["callhook_ami_reconnects_total"]) == 3
    types = {ln.split()[2]: ln.split()[3] for ln in r.text.splitlines() if ln.startswith("# TYPE")}
    assert types["callhook_ami_reconnects_total"] == "counter"  # it only grows
    assert types["callhook_events_total"] == "counter"
    assert types["callhook_deliveries_total"] == "counter"
    assert types["callhook_dead_letters"] == "gauge"  # the dead ones held now: a retry lowers it
    assert types["callhook_backlog"] == "gauge"
    assert float(lines["callhook_events_total"]) == 3
    mapi.hub.pbxes[0].ami.connected = False
    assert "callhook_ami_connected 0.0" in mapi.client.get("/metrics").text


@pytest.fixture
def small() -> Iterator[Api]:
    yield from make_api(MemoryStore(), max_body_bytes=1000)


def test_body_size_limit(small: Api) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    r = small.client.post("/api/v1/webhooks", content=b"x" * 2000, headers=headers)
    assert r.status_code == 413
    r = small.client.post("/ingest/voipex", content=(b"y" * 300 for _ in range(5)), headers=headers)  # chunked
    assert r.status_code == 413
    assert small.client.post("/ingest/voipex", content=b"{}", headers=headers).status_code == 400


def test_field_lengths_and_page_sizes_are_422(mapi: Api) -> None:
    long = "x" * 5000
    assert mapi.post("/api/v1/webhooks", json={"url": "http://a/" + long, "dialect": "voipex"}).status_code == 422
    assert mapi.get("/api/v1/calls", params={"number": long}).status_code == 422
    assert mapi.get("/api/v1/cdrs", params={"limit": 1001}).status_code == 422
    assert mapi.get("/api/v1/calls", params={"since": "not a time"}).status_code == 422
    assert mapi.get("/api/v1/calls", params={"since": "9999-12-31T23:59:59-14:00"}).status_code == 422
    assert (
        mapi.client.post(
            "/api/v1/webhooks",
            content=b"{",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {ADMIN}"},
        ).status_code
        == 422
    )

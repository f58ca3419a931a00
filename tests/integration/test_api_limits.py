"""A webhook's own delivery limits through the API: set, shown, changed, removed,
validated (422), in the OpenAPI document and on the delivery-health page."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import pytest
from test_api_support import Api, api  # noqa: F401


def _create(api: Api, **extra: object) -> object:
    return api.post("/api/v1/webhooks", json={"url": "http://crm.example/hook", "dialect": "callhook", **extra})


def test_limits_set_shown_changed_and_removed(api: Api) -> None:
    r = _create(api, limits={"concurrency": 4, "per_second": 2.5, "burst": 5})
    assert r.status_code == 201, r.text
    hid = r.json()["id"]
    assert r.json()["limits"] == {"concurrency": 4, "per_second": 2.5, "burst": 5}
    stored = api.run(api.hub.store.get_subscription(hid))
    assert (stored.limit_concurrency, stored.limit_rps, stored.limit_burst) == (4, 2.5, 5)
    assert api.get(f"/api/v1/webhooks/{hid}").json()["limits"] == {"concurrency": 4, "per_second": 2.5, "burst": 5}
    health = {w["id"]: w for w in api.get("/api/v1/delivery-health").json()}[hid]
    assert health["limits"] == {"concurrency": 4, "per_second": 2.5, "burst": 5}
    assert health["limited"] == {"in_flight": 0, "deferred": 0}
    # replaced as a whole
    r = api.patch(f"/api/v1/webhooks/{hid}", json={"limits": {"per_second": 10}})
    assert r.status_code == 200, r.text
    assert r.json()["limits"] == {"concurrency": None, "per_second": 10.0, "burst": None}
    # other changes keep them
    assert api.patch(f"/api/v1/webhooks/{hid}", json={"description": "x"}).json()["limits"]["per_second"] == 10.0
    r = api.patch(f"/api/v1/webhooks/{hid}", json={"limits": None})
    assert r.json()["limits"] is None
    assert api.run(api.hub.store.get_subscription(hid)).limit_rps == 0.0
    assert _create(api).json()["limits"] is None  # none by default


@pytest.mark.parametrize(
    "limits",
    [
        {"concurrency": 0},
        {"concurrency": 1001},
        {"per_second": 0},
        {"per_second": -1},
        {"per_second": 100_001},
        {"burst": 5},  # a burst without a rate
        {"per_second": 1, "burst": 0},
        {"per_second": "fast"},
        {"rps": 1},  # unknown field
    ],
)
def test_bad_limits_are_422_and_store_nothing(api: Api, limits: dict[str, object]) -> None:
    before = api.get("/api/v1/webhooks").json()
    r = _create(api, limits=limits)
    assert r.status_code == 422, r.text
    assert "limits" in r.text
    assert api.get("/api/v1/webhooks").json() == before
    hid = _create(api).json()["id"]
    assert api.patch(f"/api/v1/webhooks/{hid}", json={"limits": limits}).status_code == 422


def test_limits_are_in_the_openapi_document(api: Api) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    props = schemas["LimitsModel"]["properties"]
    assert set(props) == {"concurrency", "per_second", "burst"}
    assert "limits" in schemas["WebhookIn"]["properties"]
    assert "limits" in schemas["WebhookPatch"]["properties"]
    assert "limits" in schemas["WebhookOut"]["properties"]

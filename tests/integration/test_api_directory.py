"""``/api/v1/directory``: read and edit; every reader of the directory sees the edit."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from test_api_support import TOKEN_A, TOKEN_B, Api, mapi  # noqa: F401


def test_read_scoped_by_tenant(mapi: Api) -> None:
    full = mapi.get("/api/v1/directory").json()
    assert [e["number"] for e in full["extensions"]] == ["20", "21", "30"]
    assert [t["name"] for t in full["trunks"]] == ["trunk"]
    a = mapi.get("/api/v1/directory", TOKEN_A).json()
    assert [e["number"] for e in a["extensions"]] == ["20", "21"]
    assert a["trunks"] == []
    assert [q["name"] for q in a["queues"]] == ["NOC"]
    assert [e["number"] for e in mapi.get("/api/v1/directory/extensions", TOKEN_B).json()] == ["30"]
    assert mapi.get("/api/v1/directory/extensions/20", TOKEN_B).status_code == 404
    assert mapi.get("/api/v1/directory/extensions/20", TOKEN_A).json()["name"] == "Jana"
    assert mapi.get("/api/v1/directory/trunks", TOKEN_A).status_code == 403
    assert mapi.get("/api/v1/directory/trunks").json() == [
        {"name": "trunk", "channel": "PJSIP/trunk", "outbound_prefix": "0"}
    ]
    assert [q["name"] for q in mapi.get("/api/v1/directory/queues", TOKEN_B).json()] == ["SALES"]


def test_extension_crud_reaches_tracker_and_actions(mapi: Api) -> None:
    hub = mapi.hub
    r = mapi.post("/api/v1/directory/extensions", TOKEN_A, json={"number": "22", "name": "Eva", "channel": "PJSIP/22"})
    assert r.status_code == 201
    assert r.json()["tenant"] == "acme"
    for d in (hub.directory, hub.tracker.directory, hub.tracker.agents.directory, hub.actions.directory):
        assert d.extension("22") is not None
        assert d.extension("22").name == "Eva"
    assert hub.directory.extension_of_channel("PJSIP/22-000001").number == "22"
    assert mapi.post("/api/v1/directory/extensions", TOKEN_B, json={"number": "22"}).status_code == 409
    assert (
        mapi.post("/api/v1/directory/extensions", TOKEN_A, json={"number": "23", "tenant": "globex"}).status_code == 403
    )
    r = mapi.put(
        "/api/v1/directory/extensions/22", TOKEN_A, json={"number": "22", "name": "Eva K.", "channel": "PJSIP/22"}
    )
    assert r.status_code == 200
    assert hub.tracker.directory.extension("22").name == "Eva K."
    assert mapi.put("/api/v1/directory/extensions/22", TOKEN_B, json={"number": "22"}).status_code == 404
    assert mapi.delete("/api/v1/directory/extensions/22", TOKEN_B).status_code == 404
    assert mapi.delete("/api/v1/directory/extensions/22", TOKEN_A).status_code == 204
    assert hub.actions.directory.extension("22") is None
    assert mapi.post("/api/v1/directory/extensions", json={"number": ""}).status_code == 422
    assert mapi.post("/api/v1/directory/extensions", json={"number": "a b"}).status_code == 422
    r = mapi.post("/api/v1/directory/extensions", json={"number": "40"})
    assert r.json()["tenant"] == "acme"  # the directory's tenant by default


def test_trunks_and_queues_are_the_admins(mapi: Api) -> None:
    hub = mapi.hub
    assert mapi.put("/api/v1/directory/queues/NEW", TOKEN_A, json={"name": "NEW"}).status_code == 403
    r = mapi.put("/api/v1/directory/queues/NEW", json={"name": "NEW", "members": ["20"], "service_level": 15})
    assert r.status_code == 200
    assert hub.directory.queue("NEW").service_level == 15
    assert "NEW" in [q["name"] for q in mapi.get("/api/v1/directory/queues", TOKEN_A).json()]
    assert mapi.put("/api/v1/directory/queues/NEW", json={"name": "NOC"}).status_code == 409
    assert mapi.delete("/api/v1/directory/queues/NEW").status_code == 204
    assert mapi.delete("/api/v1/directory/queues/NEW").status_code == 404
    r = mapi.put("/api/v1/directory/trunks/t2", json={"name": "t2", "channel": "PJSIP/t2", "outbound_prefix": "9"})
    assert r.status_code == 200
    assert hub.tracker.directory.trunk_of_channel("PJSIP/t2-0001").name == "t2"
    assert mapi.delete("/api/v1/directory/trunks/t2", TOKEN_A).status_code == 403
    assert mapi.delete("/api/v1/directory/trunks/t2").status_code == 204
    assert mapi.delete("/api/v1/directory/trunks/t2").status_code == 404

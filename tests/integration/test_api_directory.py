"""``/api/v1/directory``: read and edit; every reader of the directory sees the edit."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import pytest
from test_api_support import DIRECTORY, TOKEN_A, TOKEN_B, Api, mapi  # noqa: F401

from callhook.core.directory import Directory, DirectoryError
from callhook.store.base import EventQuery


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
    r = mapi.post(
        "/api/v1/directory/extensions", json={"number": "22", "name": "Eva", "channel": "PJSIP/22", "tenant": "acme"}
    )
    assert r.status_code == 201
    assert r.json()["tenant"] == "acme"
    for d in (
        hub.directory,
        hub.pbxes[0].tracker.directory,
        hub.pbxes[0].tracker.agents.directory,
        hub.pbxes[0].actions.directory,
    ):
        assert d.extension("22") is not None
        assert d.extension("22").name == "Eva"
    assert hub.directory.extension_of_channel("PJSIP/22-000001").number == "22"
    assert mapi.post("/api/v1/directory/extensions", json={"number": "22"}).status_code == 409
    r = mapi.put(
        "/api/v1/directory/extensions/22",
        TOKEN_A,
        json={"number": "22", "name": "Eva K.", "email": "eva@acme.example", "channel": "PJSIP/22"},
    )
    assert r.status_code == 200, r.text
    assert hub.pbxes[0].tracker.directory.extension("22").name == "Eva K."
    assert hub.pbxes[0].tracker.directory.extension("22").email == "eva@acme.example"
    assert mapi.put("/api/v1/directory/extensions/22", TOKEN_B, json={"number": "22"}).status_code == 404
    assert mapi.delete("/api/v1/directory/extensions/22", TOKEN_B).status_code == 404
    assert mapi.delete("/api/v1/directory/extensions/22", TOKEN_A).status_code == 403  # the admin removes
    assert mapi.delete("/api/v1/directory/extensions/22").status_code == 204
    assert hub.pbxes[0].actions.directory.extension("22") is None
    assert mapi.post("/api/v1/directory/extensions", json={"number": ""}).status_code == 422
    assert mapi.post("/api/v1/directory/extensions", json={"number": "a b"}).status_code == 422
    r = mapi.post("/api/v1/directory/extensions", json={"number": "40"})
    assert r.json()["tenant"] == "acme"  # the directory's tenant by default


def test_the_admin_moves_an_extension_between_tenants(mapi: Api) -> None:
    r = mapi.put(
        "/api/v1/directory/extensions/21",
        json={"number": "21", "name": "Petr", "login": "petr", "channel": "PJSIP/21", "tenant": "globex"},
    )
    assert r.status_code == 200, r.text
    assert mapi.hub.pbxes[0].tracker.directory.extension_of_channel("PJSIP/21-0000001").tenant == "globex"
    assert sorted(e["number"] for e in mapi.get("/api/v1/directory/extensions", TOKEN_B).json()) == ["21", "30"]
    assert mapi.get("/api/v1/directory/extensions/21", TOKEN_A).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"number": "31", "name": "x", "channel": "PJSIP/20"}, "channel"),  # the takeover, by device
        ({"number": "31", "name": "x", "channel": "pjsip/20"}, "channel"),  # device names are not case-sensitive
        ({"number": "31", "name": "x", "channel": "PJSIP/trunk"}, "channel"),  # a trunk's device
        ({"number": "31", "name": "x", "login": "Olga"}, "login"),  # another tenant's agent login
        ({"number": "30", "name": "x"}, "number"),
    ],
)
def test_no_one_claims_a_device_number_or_login_held_by_another(mapi: Api, body: dict[str, str], field: str) -> None:
    """The takeover of issue 13: a device (the tracker's key to a call's tenant) is never shared."""
    before = mapi.hub.directory
    for token in (TOKEN_A, TOKEN_B):  # a tenant may not add extensions at all
        r = mapi.post("/api/v1/directory/extensions", token, json=body)
        assert r.status_code == 403, r.text
    r = mapi.post("/api/v1/directory/extensions", json={**body, "tenant": "globex"})  # nor the admin
    assert r.status_code == 409, r.text
    assert r.json()["detail"].startswith(field + ":")
    assert mapi.hub.directory is before  # nothing was installed
    assert mapi.hub.pbxes[0].tracker.directory.extension_of_channel("PJSIP/20-00000001").tenant == "acme"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "PJSIP/30"}, "channel"),  # B's device: the takeover through an edit
        ({"channel": "PJSIP/99"}, "channel"),  # a free device: still the admin's to assign
        ({"number": "29"}, "number"),
        ({"login": "someone"}, "login"),
        ({"tenant": "globex"}, "tenant"),
    ],
)
def test_a_tenant_edits_only_names_and_contacts(mapi: Api, change: dict[str, str], field: str) -> None:
    own = {"number": "20", "name": "Jana", "login": "jana", "channel": "PJSIP/20"}
    r = mapi.put("/api/v1/directory/extensions/20", TOKEN_A, json={**own, **change})
    assert r.status_code == 403, r.text
    assert r.json()["detail"].startswith(field + ":")
    assert mapi.hub.directory.extension("20").channel == "PJSIP/20"
    assert mapi.hub.directory.extension_of_channel("PJSIP/30-1").tenant == "globex"


def test_queue_members_of_another_tenant_are_not_shown(mapi: Api) -> None:
    r = mapi.put("/api/v1/directory/queues/SHARED", json={"name": "SHARED", "members": ["20", "30"], "tenant": "acme"})
    assert r.status_code == 200, r.text
    assert r.json()["tenant"] == "acme"
    for token, members in ((TOKEN_A, ["20"]), (TOKEN_B, ["30"])):
        queues = {q["name"]: q for q in mapi.get("/api/v1/directory/queues", token).json()}
        assert queues["SHARED"]["members"] == members
        whole = {q["name"]: q for q in mapi.get("/api/v1/directory", token).json()["queues"]}
        assert whole["SHARED"]["members"] == members
        live = {q["name"]: q for q in mapi.get("/api/v1/queues", token).json()}
        assert live["SHARED"]["members"] == members
    assert {q["name"]: q["members"] for q in mapi.get("/api/v1/directory/queues").json()}["SHARED"] == ["20", "30"]


def test_trunk_devices_are_not_extensions(mapi: Api) -> None:
    r = mapi.put("/api/v1/directory/trunks/t2", json={"name": "t2", "channel": "PJSIP/20"})
    assert r.status_code == 409
    assert r.json()["detail"].startswith("channel:")
    assert mapi.put("/api/v1/directory/trunks/t2", json={"name": "t2", "channel": "PJSIP/trunk"}).status_code == 409
    assert (
        mapi.put("/api/v1/directory/trunks/trunk", json={"name": "trunk", "channel": "PJSIP/trunk"}).status_code == 200
    )


def test_an_edit_keeps_the_dids_tenants(mapi: Api) -> None:
    hub = mapi.hub
    hub.directories.replace(
        Directory.from_mapping({**DIRECTORY, "dids": {"100": {"description": "globex line", "tenant": "globex"}}})
    )
    assert mapi.put("/api/v1/directory/queues/X", json={"name": "X"}).status_code == 200
    assert hub.pbxes[0].tracker.directory.did_tenant("100") == "globex"


def test_a_directory_file_with_a_shared_device_is_refused() -> None:
    bad = {
        "tenant": "a",
        "extensions": [
            {"number": "20", "channel": "IAX2/20", "tenant": "a"},
            {"number": "31", "channel": "iax2/20", "tenant": "b"},
        ],
    }
    with pytest.raises(DirectoryError, match=r"extensions: duplicate device 'iax2/20'"):
        Directory.from_mapping(bad)
    with pytest.raises(DirectoryError, match="login"):
        Directory.from_mapping({"extensions": [{"number": "1", "login": "x"}, {"number": "2", "login": "X"}]})
    with pytest.raises(DirectoryError, match="trunks"):
        Directory.from_mapping(
            {"extensions": [{"number": "1", "channel": "SIP/t"}], "trunks": [{"name": "t", "channel": "SIP/t"}]}
        )


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
    assert hub.pbxes[0].tracker.directory.trunk_of_channel("PJSIP/t2-0001").name == "t2"
    assert mapi.delete("/api/v1/directory/trunks/t2", TOKEN_A).status_code == 403
    assert mapi.delete("/api/v1/directory/trunks/t2").status_code == 204
    assert mapi.delete("/api/v1/directory/trunks/t2").status_code == 404


def test_telphin_agent_ids_survive_edits_and_reach_ingest(mapi: Api) -> None:
    """Seed 004's agent 136 on 000*094: an id that is not the extension number."""
    from dataclasses import replace

    from callhook.core.directory import RemoteAgent

    hub = mapi.hub
    hub.directories.replace(
        replace(hub.directory, remote_agents=(RemoteAgent("137", "+79161234567", "Olga", tenant="acme"),))
    )
    body = {"number": "094", "name": "Ivan", "agent_id": "136", "extension_name": "000*094@ringme.ru"}
    # only the admin assigns extensions (and their Telphin ids) to a tenant
    assert mapi.post("/api/v1/directory/extensions", TOKEN_A, json=body).status_code == 403
    r = mapi.post("/api/v1/directory/extensions", json={**body, "tenant": "acme"})
    assert r.status_code == 201, r.text
    assert (r.json()["agent_id"], r.json()["extension_name"]) == ("136", "000*094@ringme.ru")
    assert hub.directory.remote_agents[0].agent_id == "137"  # an edit keeps the remote agents
    clash = mapi.post("/api/v1/directory/extensions", json={"number": "95", "agent_id": "137", "tenant": "acme"})
    assert clash.status_code == 409
    login = "agent_id=136&agent_status=available&agent_type=local&event_source=api"
    r = mapi.client.get("/ingest/telphin?" + login, headers={"Authorization": f"Bearer {TOKEN_A}"})
    assert r.status_code == 200, r.text
    stored = mapi.run(hub.store.list_events(EventQuery(limit=10))).items
    a = next(e.agent for e in stored if e.type.value == "agent.login")
    assert (a.number, a.name, a.extension_name) == ("094", "Ivan", "000*094@ringme.ru")
    remote = "agent_id=137&agent_status=logged_out&agent_type=remote&agent_number=%2B79161234567"
    assert (
        mapi.client.get("/ingest/telphin?" + remote, headers={"Authorization": f"Bearer {TOKEN_A}"}).status_code == 200
    )
    stored = mapi.run(hub.store.list_events(EventQuery(limit=10))).items
    a = next(e.agent for e in stored if e.type.value == "agent.logout")
    assert (a.agent_type, a.name) == ("remote", "Olga")

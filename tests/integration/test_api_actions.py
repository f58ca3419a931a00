"""The IS2PBX actions (seed 003): the GET spelling and the JSON one, against a fake AMI."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import base64

import pytest
from test_api_support import ADMIN, TOKEN_A, TOKEN_B, Api, mapi  # noqa: F401

from callhook.api import actions
from callhook.core.tracker.state import Chan


def _basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"crm:{token}".encode()).decode()}


def test_click_to_dial_as_the_seed_shows_it(mapi: Api) -> None:
    r = mapi.client.get("/dial?number=123456789&exten=20", headers=_basic(ADMIN))
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True
    name, headers = mapi.hub.pbxes[0].ami.actions[-1]
    assert name == "Originate"
    assert ("Channel", "PJSIP/20") in headers
    assert ("Exten", "123456789") in headers


def test_hangup(mapi: Api) -> None:
    assert mapi.get("/hangup?exten=20").status_code == 404  # no call on 20
    ch = Chan("u1", "PJSIP/20-0001", "c1", mapi.hub.now_dt(), ext=mapi.hub.directory.extension("20"))
    mapi.hub.pbxes[0].tracker.chans["u1"] = ch
    r = mapi.get("/hangup?exten=20")
    assert r.status_code == 200
    assert r.json()["detail"] == "PJSIP/20-0001"
    assert mapi.hub.pbxes[0].ami.actions[-1] == ("Hangup", [("Channel", "PJSIP/20-0001")])


@pytest.mark.parametrize(
    ("path", "action", "expect"),
    [
        ("/agent/login?exten=20&queue=NOC", "QueueAdd", ("Queue", "NOC")),
        ("/agent/logout?exten=20&queue=NOC", "QueueRemove", ("Interface", "PJSIP/20")),
        ("/agent/pause?exten=20&reason=Ob%C4%9Bd", "QueuePause", ("Reason", "Oběd")),
        ("/agent/unpause?exten=20&queue=NOC", "QueuePause", ("Paused", "false")),
    ],
)
def test_agent_actions_get(mapi: Api, path: str, action: str, expect: tuple[str, str]) -> None:
    r = mapi.get(path)
    assert r.status_code == 200, r.text
    name, headers = mapi.hub.pbxes[0].ami.actions[-1]
    assert name == action
    assert expect in headers


@pytest.mark.parametrize(
    ("path", "body", "action"),
    [
        ("/api/v1/actions/dial", {"exten": "20", "number": "777888999"}, "Originate"),
        ("/api/v1/actions/agent/login", {"exten": "21", "queue": "NOC"}, "QueueAdd"),
        ("/api/v1/actions/agent/logout", {"exten": "21", "queue": "NOC"}, "QueueRemove"),
        ("/api/v1/actions/agent/pause", {"exten": "21", "reason": "lunch"}, "QueuePause"),
        ("/api/v1/actions/agent/unpause", {"exten": "21"}, "QueuePause"),
    ],
)
def test_agent_actions_json(mapi: Api, path: str, body: dict[str, str], action: str) -> None:
    r = mapi.post(path, TOKEN_A, json=body)
    assert r.status_code == 200, r.text
    assert mapi.hub.pbxes[0].ami.actions[-1][0] == action


def test_errors(mapi: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    ami = mapi.hub.pbxes[0].ami
    r = mapi.get("/dial?number=1&exten=99")
    assert r.status_code == 404
    assert "99" in r.json()["detail"]
    assert mapi.get("/dial?number=1&exten=30", TOKEN_A).status_code == 404  # another tenant's
    assert mapi.get("/dial?number=1&exten=30", TOKEN_B).status_code == 200
    assert mapi.get("/agent/login?exten=20&queue=NOPE").status_code == 404
    assert mapi.get("/dial?exten=20").status_code == 422
    assert mapi.post("/api/v1/actions/dial", json={"exten": "20"}).status_code == 422
    ami.answer, ami.message = "Error", "Extension does not exist."
    r = mapi.get("/dial?number=1&exten=20")
    assert r.status_code == 502
    assert "Extension does not exist." in r.json()["detail"]
    ami.answer = "Success"
    ami.connected = False
    assert mapi.get("/dial?number=1&exten=20").status_code == 503
    mapi.hub.pbxes[0].actions.client = None
    assert mapi.post("/api/v1/actions/hangup", json={"exten": "20"}).status_code == 503
    mapi.hub.pbxes[0].actions.client = ami
    ami.connected, ami.hang = True, True
    monkeypatch.setattr(actions, "ACTION_TIMEOUT", 0.2)
    r = mapi.get("/dial?number=1&exten=20")
    assert r.status_code == 504


def test_auth(mapi: Api) -> None:
    assert mapi.client.get("/dial?number=1&exten=20").status_code == 401
    assert mapi.client.get("/dial?number=1&exten=20", headers=_basic("wrong")).status_code == 401
    r = mapi.client.post("/api/v1/actions/dial", json={"exten": "20", "number": "1"}, headers=_basic(TOKEN_A))
    assert r.status_code == 200

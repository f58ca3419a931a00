"""The further IS2PBX actions (transfer, redirect, park, agent state), mapped to AMI:
validation and tenant checks against a fake AMI, then the real thing against the
simulator's AMI server on 127.0.0.1."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from test_api_support import ADMIN, TOKEN_A, TOKEN_B, Api, FakeAmi, make_api, mapi  # noqa: F401

from callhook.core.ami.message import AmiMessage
from callhook.sources.ami_client import AmiClient
from callhook.sources.simulator.server import ServerConfig, SimulatorServer
from callhook.sources.simulator.simulation import Simulation
from callhook.store.memory import MemoryStore

from labdata import lab_directory


class ChannelsAmi(FakeAmi):
    """A fake AMI that also lists channels (CoreShowChannels) as Asterisk does."""

    def __init__(self, rows: Sequence[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    async def collect(
        self,
        name: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 10.0,  # noqa: ASYNC109 -- the AmiLike protocol
    ) -> list[AmiMessage]:
        items = [
            AmiMessage.of(("Event", "CoreShowChannel"), ("Channel", c), ("ChannelStateDesc", s), ("BridgeId", b))
            for c, s, b in self.rows
        ]
        return [AmiMessage.of(("Response", "Success")), *items]


CALL = [("PJSIP/20-0001", "Up", "br-1"), ("PJSIP/trunk-0002", "Up", "br-1"), ("PJSIP/21-0003", "Ringing", "")]


def test_the_defaults_are_listed(mapi: Api) -> None:
    listed = {a["name"]: a for a in mapi.get("/api/v1/actions").json()}
    assert {"transfer", "attended_transfer", "redirect", "park", "agent_penalty", "agent_ringinuse"} <= set(listed)
    assert listed["transfer"]["action"] == "BlindTransfer"
    assert listed["transfer"]["params"] == [
        {"name": "target", "pattern": "[0-9*#+]{1,32}", "required": True, "default": None}
    ]


def test_transfer_finds_the_extensions_channel(mapi: Api) -> None:
    mapi.hub.pbxes[0].use_connection(ChannelsAmi(CALL))
    r = mapi.get("/is2pbx/transfer?exten=20&target=21", TOKEN_A)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "action": "transfer", "exten": "20", "ami_action": "BlindTransfer", "detail": ""}
    assert mapi.hub.pbxes[0].ami.actions[-1] == (
        "BlindTransfer",
        [("Channel", "PJSIP/20-0001"), ("Context", "from-internal"), ("Exten", "21")],
    )
    r = mapi.post("/api/v1/actions/park", TOKEN_A, json={"exten": "20"})
    assert r.status_code == 200, r.text
    assert mapi.hub.pbxes[0].ami.actions[-1] == (
        "Park",
        [("Channel", "PJSIP/trunk-0002"), ("TimeoutChannel", "PJSIP/20-0001"), ("Parkinglot", "default")],
    )


def test_agent_state_needs_no_call(mapi: Api) -> None:
    r = mapi.post("/api/v1/actions/agent_penalty", json={"exten": "21", "penalty": "2", "queue": "NOC"})
    assert r.status_code == 200, r.text
    assert mapi.hub.pbxes[0].ami.actions[-1] == (
        "QueuePenalty",
        [("Interface", "PJSIP/21"), ("Penalty", "2"), ("Queue", "NOC")],
    )


@pytest.mark.parametrize(
    ("url", "token", "status", "detail"),
    [
        ("/is2pbx/teleport?exten=20", ADMIN, 404, "no action"),
        ("/is2pbx/transfer?exten=20&target=21", TOKEN_B, 404, "unknown extension"),  # 20 is acme's
        ("/is2pbx/transfer?exten=20&target=30", TOKEN_A, 404, "unknown extension '30'"),  # 30 is globex's
        ("/is2pbx/transfer?exten=20", TOKEN_A, 422, "target: required"),
        ("/is2pbx/transfer?exten=20&target=21%0d%0aAction:%20Command", TOKEN_A, 422, "target"),
        ("/is2pbx/transfer?exten=20&target=21&context=evil", TOKEN_A, 422, "context: not a parameter"),
        ("/is2pbx/transfer?target=21", TOKEN_A, 422, "exten: required"),
        ("/is2pbx/transfer?exten=20&target=21&target=22", TOKEN_A, 422, "given twice"),
        ("/is2pbx/agent_penalty?exten=20&penalty=1&queue=NOPE", TOKEN_A, 404, "unknown queue"),
        ("/is2pbx/redirect?exten=21&target=20", TOKEN_A, 404, "has no call"),  # 21 has no channel here
    ],
)
def test_bad_requests_are_refused_and_nothing_is_sent(
    mapi: Api, url: str, token: str, status: int, detail: str
) -> None:
    mapi.hub.pbxes[0].use_connection(ChannelsAmi([c for c in CALL if not c[0].startswith("PJSIP/21")]))
    r = mapi.get(url, token)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]
    assert mapi.hub.pbxes[0].ami.actions == []


def test_park_without_another_party_is_a_conflict(mapi: Api) -> None:
    mapi.hub.pbxes[0].use_connection(ChannelsAmi([("PJSIP/20-0001", "Up", "")]))
    r = mapi.post("/api/v1/actions/park", json={"exten": "20"})
    assert r.status_code == 409
    assert mapi.hub.pbxes[0].ami.actions == []


def test_the_pbx_refusal_and_absence(mapi: Api) -> None:
    mapi.hub.pbxes[0].use_connection(ChannelsAmi(CALL))
    mapi.hub.pbxes[0].ami.answer, mapi.hub.pbxes[0].ami.message = "Error", "No such channel"
    r = mapi.get("/is2pbx/transfer?exten=20&target=21")
    assert (r.status_code, r.json()["detail"]) == (502, "the PBX refused: No such channel")
    mapi.hub.pbxes[0].ami.connected = False
    assert mapi.get("/is2pbx/transfer?exten=20&target=21").status_code == 503


@pytest.fixture
def configured() -> Iterator[Api]:
    actions = {
        "agent_state": {
            "action": "QueuePause",
            "headers": {"Interface": "{interface}", "Paused": "{paused}", "Queue": "{queue}", "Reason": "{reason}"},
            "params": {
                "paused": {"pattern": "true|false"},
                "queue": {"pattern": "[A-Z]{1,16}", "default": ""},
                "reason": {"pattern": "[A-Za-z ]{1,32}", "default": ""},
            },
            "description": "pause or unpause the agent",
        },
        "drop": {"action": "Hangup", "headers": {"Channel": "{channel}"}},
    }
    yield from make_api(MemoryStore(), extra={"actions": actions})


def _wait(pred: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("not within the deadline")
        time.sleep(0.02)


def test_against_the_simulators_ami(configured: Api) -> None:
    """Real sockets: the simulated Asterisk answers the mapped actions, or refuses those it lacks."""
    api = configured
    api.hub.directories.replace(lab_directory())
    srv = SimulatorServer(Simulation(lab_directory()), ServerConfig(port=0, speed=1.0))
    api.run(srv.__aenter__())
    client = AmiClient("127.0.0.1", srv.port, "lab", "labsecret", on_message=_ignore)

    async def start() -> asyncio.Task[None]:
        return asyncio.create_task(client.run())

    task = api.run(start())
    try:
        _wait(lambda: client.connected)
        api.hub.pbxes[0].use_connection(client)
        # agent state through a configured mapping: QueuePause on the simulator
        # the built-in actions reach the same PBX: there 21 is a member of NOC already
        r = api.get("/agent/login?exten=21&queue=NOC")
        assert r.status_code == 502, r.text
        assert "Already there" in r.json()["detail"]
        r = api.post("/api/v1/actions/agent_state", json={"exten": "21", "paused": "true", "reason": "Lunch"})
        assert r.status_code == 200, r.text
        status = api.run(client.collect("QueueStatus", (("Queue", "NOC"),)))
        member = next(
            m for m in status if m.event == "QueueMember" and m.get("StateInterface", m.get("Location")).endswith("21")
        )
        assert (member.get("Paused"), member.get("PausedReason")) == ("1", "Lunch")
        # a live call on 20: the mapped Hangup finds its channel by CoreShowChannels
        srv_call = api.run(_play(srv, "inbound_direct_answered", talk_s=600))
        assert srv_call
        _wait(lambda: api.get("/is2pbx/transfer?exten=20&target=21").status_code != 404)
        # the simulator implements no BlindTransfer: its refusal comes back as a 502
        r = api.get("/is2pbx/transfer?exten=20&target=21")
        # (Asterisk 23's own wording, as the simulator answers an action it does not know)
        assert r.status_code == 502
        assert r.json()["detail"] == (
            "the PBX refused: Invalid/unknown command: BlindTransfer."
            " Use Action: ListCommands to show available commands."
        )
        r = api.get("/is2pbx/drop?exten=20")
        assert r.status_code == 200, r.text

        def gone() -> bool:
            rows = api.run(client.collect("CoreShowChannels"))
            return not any(m.get("Channel").startswith("IAX2/20-") for m in rows)

        _wait(gone)
    finally:
        api.run(client.stop())
        api.run(_await(task))
        api.run(srv.__aexit__(None, None, None))


async def _ignore(msg: AmiMessage) -> None:
    return None


async def _play(srv: SimulatorServer, name: str, **params: Any) -> str:
    return srv.play(name, **params)


async def _await(task: asyncio.Task[None]) -> None:
    await task

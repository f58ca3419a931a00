"""A third-party AMI client (panoramisk, as an integrator would use it) against the simulated PBX.

Real sockets on 127.0.0.1. What is asserted comes from Asterisk 23's manager.c and
app_queue.c (response shapes, the class of each event, FullyBooted only for ``system``)
and from the scenario's inputs (the custom field typed, the agent who answers).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest
from panoramisk import Manager
from panoramisk.message import Message

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.classes import event_classes
from callhook.sources.simulator.server import ServerConfig, SimulatorServer
from callhook.sources.simulator.simulation import Simulation

from labdata import lab_directory

T = TypeVar("T")
SPEED = 40.0


def run(coro: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


class Client:
    """panoramisk's Manager with every event it dispatches kept, in order."""

    def __init__(self, port: int, **config: Any) -> None:
        self.events: list[Message] = []
        self.manager = Manager(
            loop=asyncio.get_running_loop(), host="127.0.0.1", port=port, ping_delay=3600, ping_interval=3600, **config
        )
        self.manager.register_event("*", self._on_event)

    def _on_event(self, manager: Manager, message: Message) -> None:
        self.events.append(message)

    async def __aenter__(self) -> Client:
        await self.manager.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.manager.close()

    async def until(self, pred: Callable[[Message], bool], within: float = 5.0) -> Message:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for m in self.events:
                if pred(m):
                    return m
            await asyncio.sleep(0.01)
        raise AssertionError("no such event in time")

    async def logged_in(self, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not self.manager.authenticated:
            assert time.monotonic() < deadline, "panoramisk did not log in"
            await asyncio.sleep(0.01)

    async def act(self, **headers: str) -> Any:
        return await asyncio.wait_for(self.manager.send_action(dict(headers)), 5.0)


async def drained(srv: SimulatorServer, within: float = 5.0) -> None:
    """Poll, with a deadline, until the simulation has played everything it was given."""
    deadline = time.monotonic() + within
    while srv.sim.next_time() is not None:
        assert time.monotonic() < deadline, "the simulation did not finish in time"
        await asyncio.sleep(0.02)


def server(**kw: Any) -> SimulatorServer:
    return SimulatorServer(Simulation(lab_directory()), ServerConfig(port=0, speed=SPEED, **kw))


def test_login_ping_lists_originate_status_getvar() -> None:
    async def go() -> None:
        async with server() as srv, Client(srv.port, username="lab", secret="labsecret", events="on") as c:
            await c.logged_in()
            booted = await c.until(lambda m: m.event == "FullyBooted")
            assert booted.privilege == "system,all"
            pong = await c.act(Action="Ping")
            assert (pong.response, pong.ping) == ("Success", "Pong")
            srv.play("custom_field", digits="424242", answered_by="21", talk_s=600.0)
            agent = await c.until(lambda m: m.event == "AgentConnect")
            agent_channel = agent.destchannel
            assert agent_channel.startswith("IAX2/21-")

            channels = await c.act(Action="CoreShowChannels")
            rows = [m for m in channels if m.event == "CoreShowChannel"]
            assert channels[0].eventlist == "start"
            assert channels[-1].event == "CoreShowChannelsComplete"
            assert channels[-1].listitems == str(len(rows))
            assert agent_channel in {m.channel for m in rows}

            queue = await c.act(Action="QueueStatus", Queue="NOC")
            members = {m.name: m.incall for m in queue if m.event == "QueueMember"}
            assert members["svoboda"] == "1"  # extension 21 answered
            assert queue[-1].event == "QueueStatusComplete"

            summary = await c.act(Action="QueueSummary", Queue="NOC")
            (noc,) = [m for m in summary if m.event == "QueueSummary"]
            assert (noc.queue, noc.loggedin, noc.callers) == ("NOC", str(len(members)), "0")
            assert summary[-1].event == "QueueSummaryComplete"

            status = await c.act(Action="Status", Channel=agent_channel, Variables="ipbx_custom_field")
            (row,) = [m for m in status if m.event == "Status"]
            assert (row.channel, row.channelstatedesc) == (agent_channel, "Up")
            assert row.variable == "ipbx_custom_field=424242"
            assert (status[-1].event, status[-1]["Items"]) == ("StatusComplete", "1")

            var = await c.act(Action="Getvar", Channel=agent_channel, Variable="ipbx_custom_field")
            assert (var.response, var.variable, var.value) == ("Success", "ipbx_custom_field", "424242")
            nochan = await c.act(Action="Getvar", Channel="IAX2/99-1", Variable="x")
            assert (nochan.response, nochan.message) == ("Error", "No such channel")

            core = await c.act(Action="CoreStatus")
            assert core.response == "Success"
            assert int(core.corecurrentcalls) == len(rows)
            assert int(core.coreprocessedcalls) >= len(rows)

            cmd = await c.act(Action="Command", Command="core show channels")
            assert (cmd.response, cmd.message) == ("Success", "Command output follows")
            assert f"{len(rows)} active channel{'s' if len(rows) != 1 else ''}" in cmd.output
            bad = await c.act(Action="Command", Command="core frobnicate")
            assert bad.response == "Error"
            assert bad.output.startswith("No such command 'core frobnicate'")

            listed = await c.act(Action="ListCommands")
            for action in ("Challenge", "Status", "Getvar", "QueueSummary", "CoreStatus", "Command"):
                assert action.lower() in {k.lower() for k in listed}

            originate = await c.act(
                Action="Originate",
                Channel="IAX2/20",
                Context="click2dial",
                Exten="123456789",
                Priority="1",
                Variable="C2D_EXTEN=20",
                Async="true",
                ActionID="o-1",
            )
            # panoramisk waits for the OriginateResponse of an async Originate (same ActionID)
            head, done = originate[0], originate[-1]
            assert (head.response, head.message) == ("Success", "Originate successfully queued")
            assert (done.event, done.actionid, done.response, done.exten) == (
                "OriginateResponse",
                "o-1",
                "Success",
                "123456789",
            )

            unknown = await c.act(Action="Frobnicate")
            assert unknown.message.startswith("Invalid/unknown command: Frobnicate.")

    run(go())


@pytest.mark.parametrize(
    ("mask", "classes"),
    [("call", {"call"}), ("call,agent", {"call", "agent"}), ("dialplan", {"dialplan"}), ("cdr,dtmf", {"cdr", "dtmf"})],
)
def test_the_login_events_mask_is_honoured_by_class(mask: str, classes: set[str]) -> None:
    async def go() -> None:
        async with server() as srv, Client(srv.port, username="lab", secret="labsecret", events=mask) as c:
            await c.logged_in()
            srv.play("custom_field")
            srv.play("inbound_ringall_answered", delay=1.0)
            probe = await c.act(Action="Ping")  # the round trip orders this after the login answers
            assert probe.response == "Success"
            await asyncio.sleep(0)
            # run both calls to their end on the server, then read what this session got
            await drained(srv)
            await c.act(Action="Ping")
            got = {m.event for m in c.events}
            assert got, "the session got nothing"
            for m in c.events:
                cls = event_classes(AmiMessage.of(("Privilege", m.privilege)))
                assert cls <= classes, (m.event, m.privilege)
            assert "FullyBooted" not in got  # system is not in the mask
            if "call" in classes:
                assert {"Newchannel", "Hangup"} <= got
            if "dialplan" in classes:
                assert "VarSet" in got
            if "agent" in classes:
                assert "QueueCallerJoin" in got

    run(go())


def test_events_off_at_login_and_the_events_action() -> None:
    async def go() -> None:
        async with server() as srv, Client(srv.port, username="lab", secret="labsecret", events="off") as c:
            await c.logged_in()
            srv.play("internal_call")
            await drained(srv)
            await c.act(Action="Ping")
            assert c.events == []  # not even FullyBooted
            on = await c.act(Action="Events", EventMask="call")
            assert (on.response, on.events) == ("Success", "On")
            srv.play("internal_call")
            await c.until(lambda m: m.event == "Hangup")
            assert {m.privilege for m in c.events} == {"call,all"}
            off = await c.act(Action="Events", EventMask="off")
            assert (off.response, off.events) == ("Success", "Off")
            bad = await c.act(Action="Events", EventMask="")
            assert (bad.response, bad.message) == ("Error", "Invalid event mask")

    run(go())


def test_md5_challenge_login() -> None:
    async def go() -> None:
        async with server() as srv, Client(srv.port) as c:  # no username: panoramisk does not log in itself
            early = await c.act(Action="Ping")
            assert (early.response, early.message) == ("Error", "Permission denied")
            wrong = await c.act(Action="Challenge", AuthType="plain")
            assert (wrong.response, wrong.message) == ("Error", "Must specify AuthType")
            ch = await c.act(Action="Challenge", AuthType="MD5")
            assert ch.response == "Success"
            assert ch.challenge.isdigit()
            again = await c.act(Action="Challenge", AuthType="MD5")
            assert again.challenge == ch.challenge  # Asterisk keeps one challenge per session
            key = hashlib.md5((ch.challenge + "labsecret").encode(), usedforsecurity=False).hexdigest()
            ok = await c.act(Action="Login", AuthType="MD5", Username="lab", Key=key, Events="system")
            assert (ok.response, ok.message) == ("Success", "Authentication accepted")
            await c.until(lambda m: m.event == "FullyBooted")
            pong = await c.act(Action="Ping")
            assert pong.ping == "Pong"

    run(go())


def test_md5_login_with_a_wrong_key_is_refused() -> None:
    async def go() -> None:
        async with server() as srv, Client(srv.port) as c:
            ch = await c.act(Action="Challenge", AuthType="MD5")
            key = hashlib.md5((ch.challenge + "not-the-secret").encode(), usedforsecurity=False).hexdigest()
            refused = await c.act(Action="Login", AuthType="MD5", Username="lab", Key=key)
            assert (refused.response, refused.message) == ("Error", "Authentication failed")

    run(go())

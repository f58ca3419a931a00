"""The simulated PBX's AMI server on 127.0.0.1 (real sockets): login, streaming, actions, the real client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from callhook.core.ami.codec import AmiParser, serialize_action
from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType
from callhook.core.tracker.tracker import Tracker
from callhook.sources.ami_client import AmiClient
from callhook.sources.simulator.scenarios import scenario
from callhook.sources.simulator.server import ServerConfig, SimulatorServer
from callhook.sources.simulator.simulation import DEFAULT_START, Simulation

from labdata import NOW, ids, lab_directory, replay, wire

T = TypeVar("T")
SPEED = 40.0  # simulated seconds per real second: a 6 s call takes 0.15 s


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def server(speed: float = SPEED, **kw: Any) -> SimulatorServer:
    return SimulatorServer(Simulation(lab_directory(), **kw), ServerConfig(port=0, speed=speed))


class Raw:
    """A bare AMI connection: the project's codec, no client logic."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.parser = AmiParser()
        self.received: list[AmiMessage] = []
        self._pending: list[AmiMessage] = []

    async def __aenter__(self) -> Raw:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.banner = (await self.reader.readline()).decode()
        self.parser.feed(self.banner.encode())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def send(self, action: str, *headers: tuple[str, str], action_id: str | None = None) -> None:
        self.writer.write(serialize_action(action, headers, action_id))
        await self.writer.drain()

    async def login(self, secret: str = "labsecret") -> AmiMessage:
        await self.send("Login", ("Username", "lab"), ("Secret", secret), ("Events", "on"))
        return await self.next(lambda m: m.has("Response"))

    async def next(self, pred: Callable[[AmiMessage], bool], within: float = 5.0) -> AmiMessage:
        """The first message not taken yet that matches (messages skipped stay available)."""
        deadline = time.monotonic() + within
        while True:
            for i, msg in enumerate(self._pending):
                if pred(msg):
                    del self._pending[i]
                    return msg
            data = await asyncio.wait_for(self.reader.read(65536), max(0.01, deadline - time.monotonic()))
            if not data:
                raise EOFError("the server closed the connection")
            msgs = self.parser.feed(data)
            self.received.extend(msgs)
            self._pending.extend(msgs)

    async def until_call_ends(self, within: float = 5.0) -> list[AmiMessage]:
        """Every event from the first not taken yet up to the Hangup of the call's first channel."""
        first = len(self.received) - len(self._pending)
        end = await self.next(lambda m: m.event == "Hangup" and m.get("Uniqueid") == m.get("Linkedid"), within)
        got = self.received[first : self.received.index(end) + 1]
        self._pending = [m for m in self._pending if m not in got]
        return [m for m in got if m.event]


def test_banner_and_bad_credentials_are_refused() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            assert raw.banner == "Asterisk Call Manager/12.0.0\r\n"
            await raw.send("Ping", action_id="p0")
            early = await raw.next(lambda m: m.has("Response"))
            # manager.c: any action but Login, Logoff and Challenge before login
            assert (early.response, early.get("Message")) == ("Error", "Permission denied")
            answer = await raw.login("wrong")
            assert (answer.response, answer.get("Message")) == ("Error", "Authentication failed")
            with pytest.raises(EOFError):
                await raw.next(lambda m: True)
            assert srv.sessions == set()

    run(go())


def test_a_scenario_streams_in_order_paced_in_real_time() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            ok = await raw.login()
            assert (ok.response, ok.get("Message")) == ("Success", "Authentication accepted")
            await raw.next(lambda m: m.event == "FullyBooted")
            await raw.next(lambda m: m.event == "SuccessfulAuth")  # then the security event, as recorded
            began = time.monotonic()
            srv.play("inbound_direct_answered")
            got = await raw.until_call_ends()
            elapsed = time.monotonic() - began
            expected = [m for _, m in scenario("inbound_direct_answered", lab_directory(), DEFAULT_START)]
            assert [m.event for m in got] == [m.event for m in expected]
            stamps = [float(m.get("Timestamp")) for m in got]
            assert stamps == sorted(stamps)
            span = stamps[-1] - stamps[0]  # 5.5 simulated seconds
            assert 5.0 < span < 6.5
            assert span / SPEED * 0.8 < elapsed < span / SPEED + 1.0

    run(go())


def test_core_show_channels_and_queue_status_answer_from_the_live_model() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            await raw.login()
            srv.play("internal_call", talk_s=600.0)
            entered = [await raw.next(lambda m: m.event == "BridgeEnter") for _ in range(2)]
            await raw.send("CoreShowChannels", action_id="c1")
            head = await raw.next(lambda m: m.action_id == "c1")
            assert (head.response, head.get("EventList")) == ("Success", "start")
            rows = [await raw.next(lambda m: m.action_id == "c1") for _ in range(3)]
            assert {m.get("Channel") for m in rows[:2]} == {m.get("Channel") for m in entered}
            assert {m.get("ChannelStateDesc") for m in rows[:2]} == {"Up"}
            assert (rows[2].event, rows[2].get("EventList"), rows[2].get("ListItems")) == (
                "CoreShowChannelsComplete",
                "Complete",
                "2",
            )
            await raw.send("QueueStatus", ("Queue", "NOC"), action_id="q1")
            await raw.next(lambda m: m.action_id == "q1" and m.has("Response"))
            items: list[AmiMessage] = []
            while not items or items[-1].event != "QueueStatusComplete":
                items.append(await raw.next(lambda m: m.action_id == "q1"))
            members = {
                (m.get("Name"), m.get("Location"), m.get("Membership"), m.get("InCall"))
                for m in items
                if m.event == "QueueMember"
            }
            assert members == {
                ("novakova", "IAX2/20", "static", "1"),
                ("svoboda", "IAX2/21", "static", "1"),
                ("dvorak", "IAX2/22", "static", "0"),
            }
            assert [m.get("Strategy") for m in items if m.event == "QueueParams"] == ["ringall"]
            # an AMI Hangup ends the whole call now; the tracker is left with nothing
            await raw.send("Hangup", ("Channel", entered[0].get("Channel")), action_id="h1")
            answer = await raw.next(lambda m: m.action_id == "h1")
            assert answer.response == "Success"
            await raw.until_call_ends()
            tracker = Tracker(lab_directory(), ids())
            events = tracker.feed_many(raw.received, NOW)
            assert events[-1].type is EventType.CALL_RECORD
            assert tracker.calls == {}
            await raw.send("Hangup", ("Channel", "IAX2/20-1"), action_id="h2")
            missing = await raw.next(lambda m: m.action_id == "h2")
            assert (missing.response, missing.get("Message")) == ("Error", "No such channel")

    run(go())


def test_originate_makes_a_click2dial_call() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            await raw.login()
            await raw.send(
                "Originate",
                ("Channel", "IAX2/20"),
                ("Context", "click2dial"),
                ("Exten", "123456789"),
                ("Priority", "1"),
                ("Variable", "C2D_EXTEN=20"),
                ("Async", "true"),
                action_id="o1",
            )
            answer = await raw.next(lambda m: m.has("Response") and m.action_id == "o1")
            assert (answer.response, answer.get("Message")) == ("Success", "Originate successfully queued")
            got = await raw.until_call_ends()
            origin = next(m for m in got if m.event == "OriginateResponse")
            assert (origin.action_id, origin.get("Response"), origin.get("Exten")) == ("o1", "Success", "123456789")
            tracker = Tracker(lab_directory(), ids())
            events = tracker.feed_many(got, NOW)
            new = next(e for e in events if e.type is EventType.CALL_NEW)
            assert (new.party.caller_type, new.party.caller_num, new.party.called_num) == (
                "originate",
                "20",
                "123456789",
            )
            assert tracker.calls == {}
            await raw.send("Originate", ("Channel", "IAX2/99"), ("Exten", "1"), action_id="o2")
            bad = await raw.next(lambda m: m.action_id == "o2")
            assert bad.response == "Error"

    run(go())


def test_queue_add_twice_is_refused_without_an_event_and_pause_reasons_survive() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            await raw.login()
            add = (("Queue", "NOC"), ("Interface", "IAX2/163"), ("MemberName", "janecek"))
            await raw.send("QueueAdd", *add, action_id="a1")
            assert (await raw.next(lambda m: m.action_id == "a1")).get("Message") == "Added interface to queue"
            added = await raw.next(lambda m: m.event == "QueueMemberAdded")
            assert (added.get("Interface"), added.get("Membership")) == ("IAX2/163", "dynamic")
            await raw.send("QueueAdd", *add, action_id="a2")
            again = await raw.next(lambda m: m.action_id == "a2")
            assert (again.response, again.get("Message")) == ("Error", "Unable to add interface: Already there")
            await raw.send(
                "QueuePause", ("Interface", "IAX2/163"), ("Paused", "true"), ("Reason", "Oběd"), action_id="p1"
            )
            paused = await raw.next(lambda m: m.event == "QueueMemberPause")
            assert paused.get("PausedReason") == "Oběd"
            await raw.send("QueueRemove", ("Queue", "NOC"), ("Interface", "IAX2/163"), action_id="r1")
            await raw.next(lambda m: m.event == "QueueMemberRemoved")
            await raw.send("QueueRemove", ("Queue", "NOC"), ("Interface", "IAX2/163"), action_id="r2")
            assert (await raw.next(lambda m: m.action_id == "r2")).response == "Error"
            await raw.send("Ping", action_id="end")
            await raw.next(lambda m: m.action_id == "end")
            assert [m.event for m in raw.received if m.event.startswith("QueueMember")] == [
                "QueueMemberAdded",
                "QueueMemberPause",
                "QueueMemberRemoved",
            ]

    run(go())


def test_filters_drop_what_the_session_excluded() -> None:
    async def go() -> None:
        async with server() as srv, Raw(srv.port) as raw:
            await raw.login()
            await raw.send("Filter", ("Operation", "Add"), ("Filter", "!Event: VarSet"), action_id="f1")
            await raw.send(
                "Filter",
                ("Operation", "Add"),
                ("MatchCriteria", "action(exclude),name(Newexten)"),
                ("Filter", ""),
                action_id="f2",
            )
            answers = [await raw.next(lambda m: m.action_id in ("f1", "f2")) for _ in range(2)]
            assert [(m.action_id, m.response) for m in answers] == [("f1", "Success"), ("f2", "Success")]
            srv.play("inbound_direct_answered")
            got = await raw.until_call_ends()
            names = {m.event for m in got}
            assert "DialBegin" in names
            assert names.isdisjoint({"VarSet", "Newexten"})

    run(go())


def test_the_project_ami_client_tracks_a_simulated_call() -> None:
    async def go() -> None:
        async with server() as srv:
            got: list[AmiMessage] = []
            listed: list[AmiMessage] = []
            synced, ended = asyncio.Event(), asyncio.Event()

            async def on_connect(client: AmiClient) -> None:
                listed.extend(await client.collect("CoreShowChannels"))
                listed.extend(await client.collect("QueueStatus"))
                synced.set()

            async def on_message(msg: AmiMessage) -> None:
                got.append(msg)
                if msg.event == "Hangup" and msg.get("Uniqueid") == msg.get("Linkedid"):
                    ended.set()

            client = AmiClient("127.0.0.1", srv.port, "lab", "labsecret", on_message=on_message, on_connect=on_connect)
            task = asyncio.create_task(client.run())
            await synced.wait()
            assert listed[-1].event == "QueueStatusComplete"
            srv.play("inbound_ringall_answered")
            await ended.wait()
            await client.stop()
            await task
            tracker = Tracker(lab_directory(), ids())
            events = tracker.feed_many(got, NOW)
            assert {m.event for m in got}.isdisjoint({"Newexten", "DeviceStateChange"})
            assert "ExtensionStatus" in {m.event for m in got}  # kept: the extensions' presence
            drop = {
                "UniqueId",
                "call_id",
                "ts",
                "record_name",
                "attempt_id",
                "member_id",
                "call_duration",
                "call_bill_sec",
                "call_voice_sec",
                "agent_channel_id",
                "member_channel_id",
                "Start",
                "Answer",
                "End",
                "Billsec",
                "wait_sec",
            }
            for dialect in ("voipex", "pbx2is", "webitel"):
                mine = [{k: v for k, v in r.items() if k not in drop} for r in wire(events, dialect)]
                recorded = [
                    {k: v for k, v in r.items() if k not in drop}
                    for r in wire(replay("inbound_ringall_answered"), dialect)
                ]
                assert mine == recorded, dialect

    run(go(), timeout=15.0)

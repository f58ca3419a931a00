"""The asyncio AMI client against a small fake Asterisk on 127.0.0.1 (real sockets, no mocks)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.sources.ami_client import (
    DEFAULT_FILTERS,
    AmiActionError,
    AmiAuthError,
    AmiClient,
    AmiNotConnected,
    AmiTimeout,
    Backoff,
    parse_ami_url,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
SECRET = "labsecret"
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.005)


class FakeAmi:
    """Banner, Login (plain or MD5), a few actions; the test pushes events with ``broadcast``."""

    def __init__(self, *, greeting: bytes = b"", answer_pings: bool = True) -> None:
        self.greeting = greeting  # sent right after a successful login (FullyBooted, early events)
        self.answer_pings = answer_pings
        self.connections = 0
        self.logins: list[tuple[str, bool]] = []
        self.actions: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None
        self._challenge = ""
        self._streaming = False  # a broadcast is mid-message: answers wait for the next boundary
        self._deferred: list[tuple[asyncio.StreamWriter, bytes]] = []

    async def __aenter__(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop_all()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action") == name]

    def drop_all(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    async def broadcast(self, data: bytes, rng: random.Random | None = None) -> None:
        """Write ``data`` to every logged-in session, in random small pieces when ``rng`` is given."""
        pos = 0
        self._streaming = True
        while pos < len(data):
            n = rng.randint(1, 2000) if rng else len(data)
            for writer in self.writers:
                writer.write(data[pos : pos + n])
                await writer.drain()
            pos += n
            if data.endswith(b"\r\n\r\n", 0, pos):
                self._flush()
            if rng and rng.random() < 0.3:
                await asyncio.sleep(0)
        self._flush()
        self._streaming = False

    def _flush(self) -> None:
        for writer, answer in self._deferred:
            writer.write(answer)
        self._deferred.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(b"Asterisk Call Manager/12.0.0\r\n")
        buf = b""
        try:
            while data := await reader.read(4096):
                buf += data
                while b"\r\n\r\n" in buf:
                    block, buf = buf.split(b"\r\n\r\n", 1)
                    action = dict(line.split(": ", 1) for line in block.decode().split("\r\n"))
                    self.actions.append(action)
                    if not self._answer(action, writer):
                        await writer.drain()
                        writer.close()
                        return
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            if writer in self.writers:
                self.writers.remove(writer)
            writer.close()

    def _answer(self, action: dict[str, str], writer: asyncio.StreamWriter) -> bool:
        name, aid = action["Action"], action.get("ActionID")

        def send(first: str, *pairs: tuple[str, str], with_id: bool = True) -> None:
            lines = [first, *([f"ActionID: {aid}"] if aid and with_id else []), *(f"{k}: {v}" for k, v in pairs)]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

        if name == "Challenge":
            self._challenge = "424242"
            send("Response: Success", ("Challenge", self._challenge))
        elif name == "Login":
            if action.get("AuthType") == "MD5":
                ok = action.get("Key") == hashlib.md5((self._challenge + SECRET).encode()).hexdigest()
            else:
                ok = action.get("Secret") == SECRET
            self.logins.append((action.get("Username", ""), ok))
            if not ok:
                send("Response: Error", ("Message", "Authentication failed"))
                return False
            send("Response: Success", ("Message", "Authentication accepted"))
            writer.write(self.greeting)
            self.writers.append(writer)
        elif name == "Ping":
            if self.answer_pings:
                send("Response: Success", ("Ping", "Pong"), ("Timestamp", "1.0"))
        elif name == "Logoff":
            send("Response: Goodbye", ("Message", "Thanks for all the fish."))
            return False
        elif name == "CoreShowChannels":
            send("Response: Success", ("EventList", "start"), ("Message", "Channels will follow"))
            for i in range(3):
                send("Event: CoreShowChannel", ("Channel", f"IAX2/20-{i}"))
                if i == 1:
                    send("Event: Unsolicited", ("Seq", "1"), with_id=False)
            send("Event: CoreShowChannelsComplete", ("EventList", "Complete"), ("ListItems", "3"))
        elif name == "Echo":  # answers after DelayMs, so answers overtake each other
            delay = int(action.get("DelayMs", "0")) / 1000
            value = action["Value"]
            answer = f"Response: Success\r\nActionID: {aid}\r\nValue: {value}\r\n\r\n".encode()
            asyncio.get_running_loop().call_later(delay, self._deferred.append, (writer, answer))
            asyncio.get_running_loop().call_later(delay, lambda: None if self._streaming else self._flush())
        elif name == "Fail":
            send("Response: Error", ("Message", "Nope"))
        elif name != "Blackhole":
            send("Response: Success", ("Message", "ok"))
        return True


class Recorder:
    def __init__(self) -> None:
        self.messages: list[AmiMessage] = []
        self.connects = 0
        self.timeline: list[str] = []
        self._calls = 0

    async def on_message(self, msg: AmiMessage) -> None:
        # Uneven work per message: a client that ran handlers concurrently would reorder them.
        self._calls += 1
        await asyncio.sleep(0.0005 if self._calls % 17 == 3 else 0)
        self.messages.append(msg)
        self.timeline.append(msg.event or msg.response)

    async def on_connect(self, client: AmiClient) -> None:
        self.connects += 1


def make_client(fake: FakeAmi, rec: Recorder, secret: str = SECRET, **kw: Any) -> AmiClient:
    kw.setdefault("events_filter", ())
    kw.setdefault("backoff", Backoff(initial=0.01, cap=0.05, rand=lambda: 1.0))
    kw.setdefault("on_connect", rec.on_connect)
    return AmiClient("127.0.0.1", fake.port, "lab", secret, on_message=rec.on_message, **kw)


async def started(client: AmiClient) -> asyncio.Task[None]:
    task = asyncio.create_task(client.run())
    await wait_until(lambda: client.connected)
    return task


async def finish(client: AmiClient, task: asyncio.Task[None]) -> None:
    await client.stop()
    await asyncio.wait_for(task, 2.0)


def recording_events(path: Path) -> tuple[bytes, list[tuple[tuple[str, str], ...]]]:
    """The part of a recording after the login response, and its messages (README's rule)."""
    rest = path.read_bytes().partition(b"\r\n")[2]
    body = rest.split(b"\r\n\r\n", 1)[1]
    blocks = body.split(b"\r\n\r\n")[:-1]
    return body, [tuple(tuple(line.split(": ", 1)) for line in b.decode().split("\r\n")) for b in blocks]  # type: ignore[misc]


@pytest.mark.parametrize("name", ["agent_session", "custom_field", "inbound_ringall_answered"])
def test_replays_a_recording_in_order(name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    body, expected = recording_events(FIXTURES / f"{name}.ami")

    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec)
            task = await started(client)
            await fake.broadcast(body, random.Random(name))
            await wait_until(lambda: len(rec.messages) >= len(expected))
            assert [m.headers for m in rec.messages] == expected
            assert client.messages >= len(expected)
            await finish(client, task)
            assert fake.named("Logoff")
            assert rec.connects == 1

    run(scenario())
    assert SECRET not in caplog.text


def test_bad_credentials_fail_fast_with_one_login(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    async def scenario() -> None:
        async with FakeAmi() as fake:
            client = make_client(fake, Recorder(), secret="wrong-secret")
            t0 = time.monotonic()
            with pytest.raises(AmiAuthError, match="Authentication failed") as err:
                await asyncio.wait_for(client.run(), 3.0)
            assert time.monotonic() - t0 < 1.0
            assert fake.logins == [("lab", False)]
            assert fake.connections == 1
            assert "lab" in str(err.value)
            assert "wrong-secret" not in str(err.value)
            assert not client.connected

    run(scenario())
    assert "wrong-secret" not in caplog.text


def test_md5_login() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            client = make_client(fake, Recorder(), auth="md5")
            task = await started(client)
            assert fake.logins == [("lab", True)]
            assert [a["Action"] for a in fake.actions[:2]] == ["Challenge", "Login"]
            assert all("Secret" not in a for a in fake.actions)
            await finish(client, task)

    run(scenario())


def test_reconnects_after_a_drop_and_resyncs_again() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec)
            task = await started(client)
            fake.drop_all()
            await wait_until(lambda: rec.connects == 2 and client.connected)
            assert client.reconnects == 1
            assert fake.connections == 2
            assert fake.logins == [("lab", True), ("lab", True)]
            await fake.broadcast(b"Event: AfterReconnect\r\n\r\n")
            await wait_until(lambda: [m.event for m in rec.messages] == ["AfterReconnect"])
            await finish(client, task)

    run(scenario())


def test_reconnect_backoff_grows_and_send_fails_at_once_while_down() -> None:
    delays: list[float] = []

    class Recording(Backoff):
        def delay(self, attempt: int) -> float:
            delays.append(Backoff.delay(self, attempt))
            return delays[-1]

    async def scenario() -> None:
        fake = FakeAmi()
        async with fake:
            rec = Recorder()
            client = make_client(fake, rec, backoff=Recording(initial=0.01, factor=2, cap=0.04, rand=lambda: 1.0))
            task = await started(client)
        # the server is gone: the client retries with growing, capped delays
        await wait_until(lambda: len(delays) >= 4)
        assert delays[:4] == [0.01, 0.02, 0.04, 0.04]
        t0 = time.monotonic()
        with pytest.raises(AmiNotConnected):
            await client.send_action("Ping")
        with pytest.raises(AmiNotConnected):
            await client.collect("CoreShowChannels")
        assert time.monotonic() - t0 < 0.05
        await finish(client, task)

    run(scenario())


def test_send_before_run_raises_not_connected() -> None:
    async def scenario() -> None:
        client = AmiClient("127.0.0.1", 9, "lab", SECRET, on_message=Recorder().on_message)
        with pytest.raises(AmiNotConnected):
            await client.send_action("Ping")
        assert SECRET not in repr(client)

    run(scenario())


def test_ping_keepalive_and_missing_pong() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec, ping_interval=0.03, ping_timeout=0.1)
            task = await started(client)
            await wait_until(lambda: len(fake.named("Ping")) >= 3)
            assert fake.connections == 1
            fake.answer_pings = False
            await wait_until(lambda: fake.connections >= 2)
            assert client.reconnects >= 1
            fake.answer_pings = True
            await wait_until(lambda: client.connected)
            await finish(client, task)

    run(scenario())


def test_collect_an_event_list_while_other_events_flow() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec)
            task = await started(client)
            answer = await client.collect("CoreShowChannels", timeout=2.0)
            assert [m.event or m.response for m in answer] == [
                "Success",
                "CoreShowChannel",
                "CoreShowChannel",
                "CoreShowChannel",
                "CoreShowChannelsComplete",
            ]
            assert len({m.action_id for m in answer}) == 1
            await wait_until(lambda: [m.event for m in rec.messages] == ["Unsolicited"])
            await finish(client, task)

    run(scenario())


def test_action_ids_correlate_answers_out_of_order_while_events_flow() -> None:
    body, expected = recording_events(FIXTURES / "custom_field.ami")

    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec)
            task = await started(client)
            rng = random.Random(7)
            stream = asyncio.create_task(fake.broadcast(body, rng))
            calls = [
                client.send_action("Echo", [("Value", str(i)), ("DelayMs", str(rng.randint(0, 30)))], timeout=2.0)
                for i in range(30)
            ]
            answers = await asyncio.gather(*calls)
            assert [a.get("Value") for a in answers] == [str(i) for i in range(30)]
            await stream
            await wait_until(lambda: len(rec.messages) >= len(expected))
            assert [m.headers for m in rec.messages] == expected  # no answer leaked into the stream
            await finish(client, task)

    run(scenario())


def test_error_response_timeout_and_check_false() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            client = make_client(fake, Recorder())
            task = await started(client)
            with pytest.raises(AmiActionError, match="Nope") as err:
                await client.send_action("Fail")
            assert err.value.message == "Nope"
            assert (await client.send_action("Fail", check=False)).response == "Error"
            t0 = time.monotonic()
            with pytest.raises(AmiTimeout):
                await client.send_action("Blackhole", timeout=0.05)
            assert time.monotonic() - t0 < 0.5
            assert (await client.send_action("Ping")).get("Ping") == "Pong"  # still usable
            await finish(client, task)

    run(scenario())


def test_messages_during_on_connect_are_delivered_after_it_in_order() -> None:
    greeting = b"Event: FullyBooted\r\nStatus: Fully Booted\r\n\r\nEvent: Early\r\nSeq: 1\r\n\r\n"

    async def scenario() -> None:
        async with FakeAmi(greeting=greeting) as fake:
            rec = Recorder()

            async def on_connect(client: AmiClient) -> None:
                rec.timeline.append("resync-start")
                await client.collect("CoreShowChannels")
                await asyncio.sleep(0.02)
                rec.timeline.append("resync-end")

            client = make_client(fake, rec, on_connect=on_connect)
            task = await started(client)
            await wait_until(lambda: len(rec.timeline) >= 5)
            assert rec.timeline == ["resync-start", "resync-end", "FullyBooted", "Early", "Unsolicited"]
            await finish(client, task)

    run(scenario())


def test_oversized_frame_is_skipped_and_counted() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            rec = Recorder()
            client = make_client(fake, rec, max_frame=1024)
            task = await started(client)
            big = b"Event: Big\r\nData: " + b"x" * 5000 + b"\r\n\r\n"
            await fake.broadcast(b"Event: A\r\n\r\n" + big + b"Event: B\r\n\r\n", random.Random(1))
            await wait_until(lambda: len(rec.messages) == 2)
            assert [m.event for m in rec.messages] == ["A", "B"]
            assert client.frames_too_large == 1
            await finish(client, task)

    run(scenario())


def test_handler_errors_are_logged_and_do_not_stop_the_stream() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            seen: list[str] = []

            async def on_message(msg: AmiMessage) -> None:
                seen.append(msg.event)
                if msg.event == "Bad":
                    raise RuntimeError("handler bug")

            client = AmiClient(
                "127.0.0.1", fake.port, "lab", SECRET, on_message=on_message, on_connect=None, events_filter=()
            )
            task = await started(client)
            await fake.broadcast(b"Event: Bad\r\n\r\nEvent: Good\r\n\r\n")
            await wait_until(lambda: seen == ["Bad", "Good"])
            assert client.handler_errors == 1
            await finish(client, task)

    run(scenario())


def test_default_filters_are_installed_after_login() -> None:
    async def scenario() -> None:
        async with FakeAmi() as fake:
            client = make_client(fake, Recorder(), events_filter=DEFAULT_FILTERS)
            task = await started(client)
            # connected means logged in; the filters follow, one round trip each
            await wait_until(lambda: len(fake.named("Filter")) == len(DEFAULT_FILTERS))
            filters = fake.named("Filter")
            assert len(filters) >= 3
            assert all(f["Operation"] == "Add" and f["MatchCriteria"].startswith("action(") for f in filters)
            assert fake.actions[0]["Action"] == "Login"
            assert fake.actions[0]["Events"] == "on"
            await finish(client, task)

    run(scenario())


def test_backoff_full_jitter_and_cap() -> None:
    assert [Backoff(rand=lambda: 1.0).delay(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert Backoff(rand=lambda: 0.25).delay(2) == 0.5
    assert Backoff(rand=lambda: 1.0).delay(10_000) == 30
    rng = random.Random(3)
    assert all(0 <= Backoff(rand=rng.random).delay(n) <= 30 for n in range(50))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ami://lab:labsecret@127.0.0.1:5038", ("127.0.0.1", 5038, "lab", "labsecret")),
        ("ami://lab:labsecret@pbx.example", ("pbx.example", 5038, "lab", "labsecret")),
        ("ami://us%40er:p%3Ass%2Fw%23x@pbx:7777/", ("pbx", 7777, "us@er", "p:ss/w#x")),
        ("ami://lab:s@[::1]:5039", ("::1", 5039, "lab", "s")),
        ("ami://lab:@h", ("h", 5038, "lab", "")),
    ],
)
def test_parse_ami_url(url: str, expected: tuple[str, int, str, str]) -> None:
    assert parse_ami_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://lab:topsecret@h:5038", "scheme"),
        ("ami://h:5038", "no user"),
        ("ami://lab@h:5038", "no secret"),
        ("ami://lab:topsecret@:5038", "no host"),
        ("ami://lab:topsecret@h:99999", "port"),
        ("ami://lab:topsecret@h:abc", "port"),
        ("ami://lab:topsecret@h:0", "port"),
        ("ami://lab:topsecret@h:5038/x?y=1", "path"),
    ],
)
def test_parse_ami_url_errors_never_show_the_secret(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_ami_url(url)
    assert "topsecret" not in str(err.value)

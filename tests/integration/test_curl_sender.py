"""The senders against real receivers on 127.0.0.1.

The contract tests run for both senders (``HttpSender`` on aiohttp, ``CurlSender`` on
pycurl) through ``make_sender``; a few tests are about the curl sender alone (handle
reuse across methods, cancellation, close, a body far over the cap, uvloop), and the
dispatcher's own end-to-end tests are run again with the curl sender underneath.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from callhook.core.dialects.base import Request
from callhook.delivery.sender import HttpSender, Sender, SendError, make_sender

from delivery_kit import Receiver, Reply

pycurl = pytest.importorskip("pycurl")

import test_dispatcher  # noqa: E402

from callhook.delivery.curl_sender import DISCARD_LIMIT, CurlSender  # noqa: E402

KINDS = ["aiohttp", "curl"]


def run(coro: Awaitable[None]) -> None:
    asyncio.run(coro)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def opened(kind: str, **options: Any) -> AsyncIterator[Sender]:
    sender = make_sender(kind, **options)
    try:
        yield sender
    finally:
        await sender.close()


# ---------------------------------------------------------------- a raw HTTP/1.1 server
@dataclass
class Seen:
    head: bytes  # request line and headers, as received
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    def header(self, name: str) -> str | None:
        for line in self.head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == name.lower().encode():
                return v.strip().decode("latin-1")
        return None

    def headers(self, name: str) -> list[str]:
        return [
            v.strip().decode("latin-1")
            for k, _, v in (line.partition(b":") for line in self.head.split(b"\r\n")[1:])
            if k.strip().lower() == name.lower().encode()
        ]


@dataclass(frozen=True)
class Drop:
    """Write ``data`` (maybe nothing), then close the connection (``reset``: with a RST)."""

    data: bytes = b""
    reset: bool = False


Answer = Callable[[Seen], Awaitable[bytes | Drop]]  # bytes: written, the connection kept alive


def http(status: int = 200, body: bytes = b"ok", headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class RawServer:
    """Records every request byte for byte and answers with ``answer(seen)``."""

    answer: Answer
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                seen = Seen(head[:-4], b"")
                length = seen.header("Content-Length")
                if length:
                    seen.body = await reader.readexactly(int(length))
                self.seen.append(seen)
                out = await self.answer(seen)
                if isinstance(out, Drop):
                    writer.write(out.data)
                    await writer.drain()
                    if out.reset:
                        writer.transport.abort()
                    return
                writer.write(out)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


async def ok(seen: Seen) -> bytes:
    if seen.request_line.startswith(b"HEAD "):
        return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
    return http(200, b"ok")


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------- the contract, both senders
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (200, {}, None),
        (204, {}, None),
        (500, {}, None),
        (429, {"Retry-After": "7"}, "7"),
        (410, {}, None),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, "Wed, 21 Oct 2015 07:28:00 GMT"),
    ],
)
def test_status_body_and_retry_after(kind: str, status: int, headers: dict[str, str], retry_after: str | None) -> None:
    async def main() -> None:
        async with Receiver() as rx, opened(kind) as sender:
            rx.script["/h"] = lambda n, b: Reply(status, headers)
            resp = await sender.send(Request("POST", rx.url("/h"), (("Content-Type", "application/json"),), b"{}"))
            assert resp.status == status
            assert resp.retry_after == retry_after
            assert resp.body == (b"" if status == 204 else b"ok")

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_request_sent_as_given(kind: str) -> None:
    body = b'{"id":"01J","text":"\xd0\x9f\xd1\x80\xd0\xb8"}'
    query = "/hook/a%2Fb?sig=a%2Fb%2B%3D&b=2&a=1&empty=&tilde=%7E&plus=1+2"

    async def main() -> None:
        async with RawServer(ok) as srv, opened(kind, user_agent="callhook/test") as sender:
            headers = (
                ("Content-Type", "application/json"),
                ("webhook-id", "01J"),
                ("Authorization", "Basic dTpwdw=="),
                ("X-Empty", ""),
                ("X-Twice", "1"),
                ("X-Twice", "2"),
            )
            assert (await sender.send(Request("POST", srv.url(query), headers, body))).status == 200
            assert (await sender.send(Request("GET", srv.url(query)))).status == 200
            post, get = srv.seen
            assert post.request_line == f"POST {query} HTTP/1.1".encode()
            assert post.body == body
            assert post.header("Content-Length") == str(len(body))
            assert post.header("Content-Type") == "application/json"
            assert post.header("webhook-id") == "01J"
            assert post.header("Authorization") == "Basic dTpwdw=="
            assert post.header("X-Empty") == ""
            assert post.headers("X-Twice") == ["1", "2"]
            assert post.header("User-Agent") == "callhook/test"
            assert post.header("Expect") is None
            assert get.request_line == f"GET {query} HTTP/1.1".encode()
            assert get.body == b""
            assert get.header("Content-Length") in (None, "0")
            assert srv.connections == 1  # kept alive and reused

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_basic_auth_from_the_url_and_the_header_wins(kind: str) -> None:
    async def main() -> None:
        async with RawServer(ok) as srv, opened(kind) as sender:
            url = srv.url("/h").replace("http://", "http://u:pw@")
            await sender.send(Request("POST", url, (), b"{}"))
            await sender.send(Request("POST", url, (("Authorization", "Bearer t"),), b"{}"))
            assert [s.headers("Authorization") for s in srv.seen] == [["Basic dTpwdw=="], ["Bearer t"]]

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_redirects_are_not_followed(kind: str) -> None:
    async def main() -> None:
        async def answer(seen: Seen) -> bytes:
            if seen.request_line.startswith(b"POST /from"):
                return http(302, b"moved", (("Location", "/to"),))
            return http(200)

        async with RawServer(answer) as srv, opened(kind) as sender:
            resp = await sender.send(Request("POST", srv.url("/from"), (), b"{}"))
            assert resp.status == 302
            assert resp.body == b"moved"
            assert len(srv.seen) == 1

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_slow_receiver_times_out(kind: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, opened(kind, total_timeout=0.3) as sender:
            rx.script["/slow"] = lambda n, b: Reply(delay=2.0)
            for _ in range(2):  # a new connection, then a reused one
                t0 = time.monotonic()
                with pytest.raises(SendError) as err:
                    await sender.send(Request("POST", rx.url("/slow"), (), b"{}"))
                assert err.value.kind == "timeout"
                assert time.monotonic() - t0 < 1.5
                assert (await sender.send(Request("POST", rx.url("/fast"), (), b"{}"))).status == 200

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused(kind: str) -> None:
    async def main() -> None:
        async with opened(kind) as sender:
            with pytest.raises(SendError) as err:
                await sender.send(Request("POST", f"http://127.0.0.1:{dead_port()}/h", (), b"{}"))
            assert err.value.kind == "connect"

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_host_and_bad_urls(kind: str) -> None:
    async def main() -> None:
        async with opened(kind) as sender:
            with pytest.raises(SendError) as err:
                await sender.send(Request("POST", "http://no-such-host.invalid/h", (), b"{}"))
            assert err.value.kind == "dns"
            for url in ("ftp://example.com/h", "file:///etc/passwd", "not a url"):
                with pytest.raises(SendError) as err:
                    await sender.send(Request("POST", url, (), b"{}"))
                assert err.value.kind == "url"

    run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "drop",
    [
        Drop(),
        Drop(reset=True),
        Drop(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some"),
        Drop(b"HTTP/1.1 200 OK\r\nConte"),
    ],
    ids=["closed-before-answer", "reset-before-answer", "mid-body", "mid-headers"],
)
def test_connection_dropped(kind: str, drop: Drop) -> None:
    async def answer(seen: Seen) -> bytes | Drop:
        return drop if seen.request_line.startswith(b"POST /drop") else http(200)

    async def main() -> None:
        async with RawServer(answer) as srv, opened(kind) as sender:
            assert (await sender.send(Request("POST", srv.url("/fine"), (), b"{}"))).status == 200
            with pytest.raises(SendError) as err:
                await sender.send(Request("POST", srv.url("/drop"), (), b"{}"))
            assert err.value.kind == "connection"
            outcome: int | str
            try:
                outcome = (await sender.send(Request("POST", srv.url("/fine"), (), b"{}"))).status
            except SendError as again:
                outcome = again.kind
            if outcome != 200:
                # libcurl accepts the cut-off head and pools its connection; the next request on it
                # fails like any request on a connection the server closed (see below)
                assert (kind, drop.data[-5:], outcome) == ("curl", b"Conte", "connection")
            resp = await sender.send(Request("POST", srv.url("/fine"), (), b"{}"))
            assert resp.status == 200

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_a_request_is_sent_once_per_attempt(kind: str) -> None:
    """A receiver that closes a kept-alive connection without answering gets the request
    once: no silent re-send by the client (libcurl would re-send on a fresh connection)."""

    async def answer(seen: Seen) -> bytes | Drop:
        return Drop() if seen.request_line.startswith(b"POST /crash") else http(200)

    async def main() -> None:
        async with RawServer(answer) as srv, opened(kind) as sender:
            assert (await sender.send(Request("POST", srv.url("/fine"), (), b"{}"))).status == 200
            with pytest.raises(SendError) as err:
                await sender.send(Request("POST", srv.url("/crash"), (), b'{"n":1}'))
            assert err.value.kind == "connection"
            assert [s.request_line.split(b" ")[1] for s in srv.seen] == [b"/fine", b"/crash"]

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_server_closing_kept_alive_connections(kind: str) -> None:
    """A complete answer, then the server closes (no "Connection: close"): requests racing
    the close may fail ("connection"), as they do with either client; none is sent twice."""

    async def answer(seen: Seen) -> bytes | Drop:
        return Drop(http(200))

    async def main() -> None:
        async with RawServer(answer) as srv, opened(kind) as sender:
            outcomes: list[int | str] = []
            for i in range(50):
                try:
                    outcomes.append((await sender.send(Request("POST", srv.url(f"/{i}"), (), b"{}"))).status)
                except SendError as err:
                    outcomes.append(err.kind)
            assert set(outcomes) <= {200, "connection"}
            assert outcomes.count(200) >= 25
            paths = [s.request_line.split(b" ")[1] for s in srv.seen]
            assert len(paths) == len(set(paths))

    run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("size", [4096, 4097, 10_000, 3 * DISCARD_LIMIT])
def test_response_body_capped(kind: str, size: int) -> None:
    big = bytes(range(256)) * (size // 256 + 1)

    async def answer(seen: Seen) -> bytes:
        return http(200, big[:size]) if seen.request_line.startswith(b"POST /big") else http(201)

    async def main() -> None:
        async with RawServer(answer) as srv, opened(kind, body_cap=4096) as sender:
            resp = await sender.send(Request("POST", srv.url("/big"), (), b"{}"))
            assert resp.status == 200
            assert resp.body == big[:4096]
            assert (await sender.send(Request("POST", srv.url("/after"), (), b"{}"))).status == 201

    run(main())


def test_curl_reads_a_modest_overflow_and_keeps_the_connection() -> None:
    async def answer(seen: Seen) -> bytes:
        return http(200, b"x" * 20_000)

    async def main() -> None:
        async with RawServer(answer) as srv, opened("curl", body_cap=100) as sender:
            for _ in range(3):
                assert (await sender.send(Request("POST", srv.url("/h"), (), b"{}"))).body == b"x" * 100
            assert srv.connections == 1

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_methods_on_reused_connections(kind: str) -> None:
    sequence = [
        ("POST", b"{}"),
        ("GET", b""),
        ("HEAD", b""),
        ("PUT", b'{"p":1}'),
        ("DELETE", b""),
        ("PATCH", b"x"),
        ("GET", b""),
        ("POST", b""),
        ("POST", b'{"again":1}'),
    ]

    async def main() -> None:
        async with RawServer(ok) as srv, opened(kind) as sender:
            for method, body in sequence:
                resp = await sender.send(Request(method, srv.url(f"/{method.lower()}"), (), body))
                assert resp.status == 200
                assert resp.body == (b"" if method == "HEAD" else b"ok")
            got = [(s.request_line.split(b" ")[0].decode(), s.body) for s in srv.seen]
            assert got == sequence
            lengths = [s.header("Content-Length") for s in srv.seen]
            assert lengths[0] == "2"
            assert lengths[7] == "0"  # an empty POST still says so
            assert lengths[3] == "7"

    run(main())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("allow_private", [True, False])
def test_outbound_address_policy(kind: str, allow_private: bool) -> None:
    async def main() -> None:
        async with Receiver() as rx, opened(kind, allow_private=allow_private) as sender:
            urls = [rx.url("/h"), f"http://localhost:{rx.port}/h"]
            for url in urls:
                if allow_private:
                    assert (await sender.send(Request("POST", url, (), b"{}"))).status == 200
                else:
                    with pytest.raises(SendError) as err:
                        await sender.send(Request("POST", url, (), b"{}"))
                    assert err.value.kind == "address"
                    assert "outbound policy" in str(err.value)
            assert len(rx.hits) == (2 if allow_private else 0)
            if not allow_private:
                with pytest.raises(SendError) as err:
                    await sender.send(Request("GET", "http://[::1]:9/h"))
                assert err.value.kind == "address"

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_many_concurrent_sends_all_answered(kind: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, opened(kind, total_timeout=30.0) as sender:
            sem = asyncio.Semaphore(64)

            async def one(i: int) -> int:
                async with sem:
                    body = b'{"i":%d}' % i
                    return (
                        await sender.send(Request("POST", rx.url("/h"), (("Content-Type", "application/json"),), body))
                    ).status

            statuses = await asyncio.gather(*(one(i) for i in range(2000)))
            assert statuses == [200] * 2000
            assert sorted(h.body["i"] for h in rx.hits) == list(range(2000))

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_cancelled_send_leaves_the_sender_usable(kind: str) -> None:
    async def main() -> None:
        async with Receiver() as rx, opened(kind) as sender:
            rx.script["/slow"] = lambda n, b: Reply(delay=5.0)
            tasks = [asyncio.create_task(sender.send(Request("POST", rx.url("/slow"), (), b"{}"))) for _ in range(5)]
            await rx.wait_for(lambda: rx._counts.get("/slow", 0) == 5)
            for t in tasks:
                t.cancel()
            for t in tasks:
                with pytest.raises(asyncio.CancelledError):
                    await t
            assert (await sender.send(Request("POST", rx.url("/h"), (), b"{}"))).status == 200
            if isinstance(sender, CurlSender):
                assert not sender._active
                with pytest.raises(TimeoutError):  # a send cancelled by wait_for, too
                    await asyncio.wait_for(sender.send(Request("POST", rx.url("/slow"), (), b"{}")), 0.1)
                assert not sender._active

    run(main())


def test_curl_close_fails_the_sends_in_flight() -> None:
    async def main() -> None:
        async with Receiver() as rx:
            rx.script["/slow"] = lambda n, b: Reply(delay=5.0)
            sender = CurlSender()
            assert (await sender.send(Request("POST", rx.url("/h"), (), b"{}"))).status == 200
            task = asyncio.create_task(sender.send(Request("POST", rx.url("/slow"), (), b"{}")))
            await rx.wait_for(lambda: "/slow" in rx._counts)
            await sender.close()
            with pytest.raises(SendError) as err:
                await task
            assert err.value.kind == "connection"
            assert not sender._fds
            assert sender._timer is None
            # usable again after close, like HttpSender
            assert (await sender.send(Request("POST", rx.url("/h"), (), b"{}"))).status == 200
            await sender.close()

    run(main())


def test_curl_sender_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        async with Receiver() as rx, opened("curl") as sender:
            rx.script["/slow"] = lambda n, b: Reply(delay=2.0)
            statuses = await asyncio.gather(
                *(sender.send(Request("POST", rx.url("/h"), (), b"{}")) for _ in range(300))
            )
            assert {r.status for r in statuses} == {200}
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(sender.send(Request("POST", rx.url("/slow"), (), b"{}")), 0.1)

    uvloop.run(main())


# ---------------------------------------------------------------- TLS
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("kind", KINDS)
def test_tls_verified_unless_turned_off(kind: str, self_signed: tuple[Path, Path]) -> None:
    cert, key = self_signed

    async def main() -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        srv = RawServer(ok)
        server = await asyncio.start_server(srv._handle, "127.0.0.1", 0, ssl=ctx)
        port = server.sockets[0].getsockname()[1]
        try:
            async with opened(kind) as sender:
                with pytest.raises(SendError) as err:
                    await sender.send(Request("POST", f"https://127.0.0.1:{port}/h", (), b"{}"))
                assert err.value.kind == "tls"
            async with opened(kind, verify_tls=False) as sender:
                assert (await sender.send(Request("POST", f"https://127.0.0.1:{port}/h", (), b"{}"))).status == 200
        finally:
            server.close()
            await server.wait_closed()

    run(main())


def test_make_sender() -> None:
    async def main() -> None:
        a = make_sender("aiohttp", total_timeout=3.0)
        c = make_sender("curl", allow_private=False, body_cap=10)
        assert isinstance(a, HttpSender)
        assert isinstance(c, CurlSender)
        assert a.options.total_timeout == 3.0
        assert (c.options.allow_private, c.options.body_cap) == (False, 10)
        await a.close()
        await c.close()
        with pytest.raises(ValueError, match="unknown sender"):
            make_sender("requests")

    run(main())


# ---------------------------------------------------------------- the dispatcher on CurlSender
@pytest.mark.parametrize(
    "test",
    [
        test_dispatcher.test_order_per_call_holds_across_retries,
        test_dispatcher.test_retry_after_is_honoured,
        test_dispatcher.test_410_disables_the_subscription,
        test_dispatcher.test_client_errors_dead_letter_then_retry_by_hand,
        test_dispatcher.test_a_dead_or_slow_endpoint_holds_up_no_one,
        test_dispatcher.test_signing_redaction_and_attempt_record,
        test_dispatcher.test_live_events_expire,
    ],
    ids=lambda f: f.__name__.removeprefix("test_"),
)
def test_dispatcher_on_curl(test: Callable[[Path], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(test_dispatcher, "HttpSender", CurlSender)
    test(tmp_path)

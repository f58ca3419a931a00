"""The parts of the end-to-end AMI benchmarks (bench/ami_e2e.py, bench/ami_latency.py).

* :class:`Stream` -- the recordings in tests/fixtures/ami, each copy with fresh call ids
  (every ``<10 digits>.<n>`` token -- Uniqueid, Linkedid, DestUniqueid ... -- rewritten per
  copy), and for each message how many voipex webhooks it makes (the tracker and the
  encoder run over the templates once, offline).
* ``fake_ami`` -- a fake Asterisk (its own process): banner, Login, Filter, the resync
  lists (empty), Ping; then, when told on stdin, streams copies as fast as the client
  reads (``go N``) or paced at a webhook rate (``rate R S``), printing when it wrote what.
* ``receiver`` -- a lean keep-alive HTTP/1.1 receiver (its own process, uvloop) that
  answers 200, counts, and notes each voipex webhook's arrival (``GET /__stats``).
* :func:`ceiling` -- a lean client (raw asyncio on uvloop, its own process, 64 keep-alive
  connections, 8 requests pipelined on each) posting a voipex request with basic auth to
  the receiver: the receiver's ceiling, measured in the same run.
* :class:`Serve` -- ``callhook serve`` as a subprocess, with one voipex webhook (basic auth).
* :func:`postgres` -- a throwaway PostgreSQL cluster, as tests/conftest.py starts one.

All servers listen on 127.0.0.1; every run is bounded in count and time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from callhook.core import dialects  # noqa: E402
from callhook.core.ami.codec import AmiParser  # noqa: E402
from callhook.core.directory import Directory  # noqa: E402
from callhook.core.subscription import BasicAuth, Dialect, Subscription  # noqa: E402
from callhook.core.tracker.tracker import Tracker  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "ami"
DIRECTORY = FIXTURES / "lab-directory.json"
TOKEN = "bench-admin-token-0123456789"
CONNECTIONS = 64
_ID = re.compile(rb"\b(\d{10})\.(\d+)\b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ---------------------------------------------------------------- the recordings
@dataclass
class Template:
    name: str
    blocks: list[bytes]  # one AMI message each, CRLF CRLF included
    hooks: list[int]  # voipex webhooks each message makes
    call_ids: list[str]  # the (original) call id of each of those webhooks, in order, per message
    min_sec: int
    events: int  # events the tracker makes of the template


class AmiFilter:
    """Asterisk's advanced event filters (``action(include|exclude),name(),header(),method()``),
    as callhook installs them: an event passes when it matches some include filter (if
    there is one) and no exclude filter."""

    def __init__(self) -> None:
        self.include: list[tuple[str, str, str, str]] = []
        self.exclude: list[tuple[str, str, str, str]] = []

    def add(self, criteria: str, pattern: str) -> None:
        parts = dict(re.findall(r"(\w+)\(([^)]*)\)", criteria))
        rule = (parts.get("name", ""), parts.get("header", ""), parts.get("method", "none"), pattern)
        (self.include if parts.get("action") == "include" else self.exclude).append(rule)

    @staticmethod
    def _match(rule: tuple[str, str, str, str], fields: dict[str, str]) -> bool:
        name, header, method, pattern = rule
        if name and fields.get("event") != name:
            return False
        if method == "none":
            return True
        value = fields.get(header.lower(), "") if header else ""
        if method == "regex":
            return re.search(pattern, value) is not None
        if method == "starts_with":
            return value.startswith(pattern)
        return value == pattern

    def passes(self, block: bytes) -> bool:
        fields: dict[str, str] = {}
        for line in block.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(": ")
            fields.setdefault(k.lower(), v)
        if fields.get("event") is None:
            return True
        if self.include and not any(self._match(r, fields) for r in self.include):
            return False
        return not any(self._match(r, fields) for r in self.exclude)


class Stream:
    """Copies of every recording, one after another, with fresh ids; only the events the
    client's filters let through (as Asterisk sends them), when filters are given."""

    def __init__(self, filters: AmiFilter | None = None) -> None:
        directory = Directory.from_mapping(json.loads(DIRECTORY.read_text()))
        sub = Subscription(
            id="b", url="http://r/", dialect=Dialect.VOIPEX, method="POST", auth=BasicAuth("crm", "secret")
        )
        self.templates: list[Template] = []
        for path in sorted(FIXTURES.glob("*.ami")):
            data = path.read_bytes()
            body = data.split(b"\r\n\r\n", 1)[1]  # after the banner and the login answer
            blocks = [b + b"\r\n\r\n" for b in body.split(b"\r\n\r\n") if b.strip()]
            if filters is not None:
                blocks = [b for b in blocks if filters.passes(b)]
            tracker = Tracker(directory, _ids(), UTC)
            hooks: list[int] = []
            calls: list[str] = []
            events = 0
            now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
            parser = AmiParser(expect_banner=False)
            for block in blocks:
                n = 0
                for msg in parser.feed(block):
                    evs = tracker.feed(msg, now)
                    events += len(evs)
                    for ev in evs:
                        if dialects.encode(ev, sub) is not None:
                            n += 1
                            calls.append(ev.call_id)
                hooks.append(n)
            secs = [int(m.group(1)) for m in _ID.finditer(body)]
            self.templates.append(Template(path.stem, blocks, hooks, calls, min(secs) if secs else 0, events))
        self.per_round = sum(sum(t.hooks) for t in self.templates)
        self.events_per_round = sum(t.events for t in self.templates)
        self.messages_per_round = sum(len(t.blocks) for t in self.templates)

    def copy(self, k: int, t: Template) -> list[bytes]:
        """Template ``t`` as copy ``k``: every id ``S.N`` becomes ``(1.8e9 + k*1000 + S - min).N``."""
        base = 1_800_000_000 + k * 1000 - t.min_sec

        def sub(m: re.Match[bytes]) -> bytes:
            return b"%d.%s" % (base + int(m.group(1)), m.group(2))

        return [_ID.sub(sub, b) for b in t.blocks]

    def new_id(self, k: int, t: Template, old: str) -> str:
        sec, _, frac = old.partition(".")
        return f"{1_800_000_000 + k * 1000 - t.min_sec + int(sec)}.{frac}" if frac else old

    def rounds_for(self, webhooks: int) -> int:
        return max(1, -(-webhooks // self.per_round))


def _ids() -> Any:
    n = iter(range(1, 1 << 40))
    return lambda ts: f"01BENCH{next(n):019d}"


# ---------------------------------------------------------------- fake Asterisk
def _answer(block: bytes) -> bytes:
    fields = {}
    for line in block.split(b"\r\n"):
        k, _, v = line.partition(b": ")
        fields[k.lower()] = v
    action, aid = fields.get(b"action", b"").lower(), fields.get(b"actionid", b"")
    head = b"Response: Success\r\nActionID: " + aid + b"\r\n"
    if action == b"login":
        return head + b"Message: Authentication accepted\r\n\r\n"
    if action in (b"coreshowchannels", b"queuestatus"):
        done = b"CoreShowChannelsComplete" if action == b"coreshowchannels" else b"QueueStatusComplete"
        return (
            head
            + b"EventList: start\r\nMessage: list will follow\r\n\r\n"
            + b"Event: "
            + done
            + b"\r\nActionID: "
            + aid
            + b"\r\nEventList: Complete\r\nListItems: 0\r\n\r\n"
        )
    if action == b"ping":
        return head + b"Ping: Pong\r\n\r\n"
    if action == b"logoff":
        return b"Response: Goodbye\r\nActionID: " + aid + b"\r\n\r\n"
    return head + b"\r\n"


async def _fake_ami(port: int) -> None:
    ready: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()
    filters = AmiFilter()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        buf = b""
        while data := await reader.read(65536):
            buf += data
            while b"\r\n\r\n" in buf:
                block, buf = buf.split(b"\r\n\r\n", 1)
                writer.write(_answer(block))
                if b"Action: Filter" in block:
                    f = dict(ln.split(": ", 1) for ln in block.decode().split("\r\n") if ": " in ln)
                    filters.add(f.get("MatchCriteria", ""), f.get("Filter", ""))
                if b"QueueStatus" in block and not ready.done():
                    ready.set_result(writer)

    server = await asyncio.start_server(client, "127.0.0.1", port)
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    writer = await ready
    stream = Stream(filters)
    print(f"connected {stream.per_round} {stream.events_per_round} {stream.messages_per_round}", flush=True)
    while line := (await stdin.readline()).decode().split():
        if line[0] == "go":
            await _stream_fast(writer, stream, int(line[1]))
        elif line[0] == "rate":
            await _stream_paced(writer, stream, float(line[1]), float(line[2]), line[3])
    server.close()


async def _stream_fast(writer: asyncio.StreamWriter, stream: Stream, rounds: int) -> None:
    t0 = time.monotonic()
    k = 0
    for _ in range(rounds):
        for t in stream.templates:
            writer.write(b"".join(stream.copy(k, t)))
            k += 1
            await writer.drain()
    print(f"streamed {t0:.6f} {time.monotonic():.6f}", flush=True)


async def _stream_paced(writer: asyncio.StreamWriter, stream: Stream, rate: float, seconds: float, out: str) -> None:
    """Messages at the pace that makes ``rate`` webhooks a second; notes when each
    webhook-making message was written, by call id."""
    sent: dict[str, list[float]] = {}
    t0 = time.monotonic()
    done = 0.0  # webhooks offered so far
    k = 0
    while time.monotonic() - t0 < seconds:
        for t in stream.templates:
            blocks = stream.copy(k, t)
            calls = iter(t.call_ids)
            for block, n in zip(blocks, t.hooks, strict=True):
                if n:
                    due = t0 + done / rate
                    wait = due - time.monotonic()
                    if wait > 0.0005:
                        await asyncio.sleep(wait)
                    at = time.monotonic()
                    writer.write(block)
                    for _ in range(n):
                        sent.setdefault(stream.new_id(k, t, next(calls)), []).append(at)
                    done += n
                else:
                    writer.write(block)
            k += 1
            await writer.drain()
            if time.monotonic() - t0 >= seconds:
                break
    await asyncio.to_thread(Path(out).write_text, json.dumps(sent))
    print(f"streamed {t0:.6f} {time.monotonic():.6f} {int(done)}", flush=True)


# ---------------------------------------------------------------- receiver
class _Responder(asyncio.Protocol):
    stats: ClassVar[dict[str, Any]] = {"count": 0, "first": 0.0, "last": 0.0, "auth_bad": 0}
    arrivals: ClassVar[list[tuple[str, float]]] = []
    expected_auth = b"basic " + base64.b64encode(b"crm:secret").lower()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: Any = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end]
            low = head.lower()
            i = low.find(b"content-length:")
            length = int(low[i + 15 : low.find(b"\r\n", i) if low.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(self.buf) < end + 4 + length:
                break
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            if head.startswith(b"GET /__stats"):
                payload = json.dumps({**self.stats, "arrivals": self.arrivals if b"arrivals" in head else []}).encode()
                out.append(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(payload), payload))
                continue
            now = time.monotonic()
            s = self.stats
            s["count"] += 1
            s["first"] = s["first"] or now
            s["last"] = now
            if self.expected_auth not in low:
                s["auth_bad"] += 1
            j = body.find(b'"UniqueId"')
            if j >= 0:
                a = body.find(b'"', body.find(b":", j) + 1) + 1
                self.arrivals.append((body[a : body.find(b'"', a)].decode(), now))
            out.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        if out:
            self.t.write(b"".join(out))


def _receiver(port: int) -> None:
    import uvloop

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Responder, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


def receiver_stats(port: int, arrivals: bool = False) -> dict[str, Any]:
    url = f"http://127.0.0.1:{port}/__stats" + ("?arrivals" if arrivals else "")
    with urllib.request.urlopen(url, timeout=30) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


# ---------------------------------------------------------------- lean client: the ceiling
async def _lean_client(port: int, seconds: float, depth: int = 8) -> float:
    body = json.dumps({"EventName": "NewCall", "UniqueId": "ceiling", "From": "777888999", "To": "20"}).encode()
    req = (
        b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic "
        + base64.b64encode(b"crm:secret")
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    count = 0
    stop = time.monotonic() + seconds

    async def conn() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < stop:
            writer.write(req * depth)  # HTTP/1.1 pipelining: the client is not what limits
            for _ in range(depth):
                head = await reader.readuntil(b"\r\n\r\n")
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(n)
                count += 1
        writer.close()

    t0 = time.monotonic()
    await asyncio.gather(*(conn() for _ in range(CONNECTIONS)))
    return count / (time.monotonic() - t0)


def ceiling(port: int, seconds: float = 3.0) -> float:
    """Requests/s a lean keep-alive client gets from the receiver (its own process)."""
    out = subprocess.run(
        [sys.executable, __file__, "ceiling", str(port), str(seconds)],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    return float(out.stdout.split()[-1])


# ---------------------------------------------------------------- processes
class Proc:
    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen(
            [sys.executable, __file__, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def line(self, timeout: float = 60) -> str:
        assert self.p.stdout is not None
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.p.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError(f"no answer from {self.p.args} within {timeout} s")
        return self.p.stdout.readline().strip()

    def send(self, text: str) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(text + "\n")
        self.p.stdin.flush()

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.p.wait(10)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw[:1] in (b"{", b"[") else raw.decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


class Serve:
    """``callhook serve`` on ``db`` against the fake AMI on ``ami_port``."""

    def __init__(self, db: str, ami_port: int, workdir: str, *, profile: str = "", src: str = "") -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
        env.update(CALLHOOK_ADMIN_TOKEN=TOKEN, CALLHOOK_LOG_LEVEL="WARNING", PYTHONPATH=src or str(REPO / "src"))
        cmd = [sys.executable, "-m", "callhook", "serve", "--listen", f"127.0.0.1:{self.port}", "--db", db]
        cmd += ["--ami", f"ami://lab:labsecret@127.0.0.1:{ami_port}", "--directory", str(DIRECTORY)]
        self.log = open(Path(workdir) / "serve.log", "wb")  # noqa: SIM115 -- closed in stop()
        self.p = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.profile = profile
        self.spy: subprocess.Popen[bytes] | None = None
        deadline = time.monotonic() + 60
        while api(self.port, "GET", "/healthz")[0] != 200:
            if self.p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("callhook serve did not start: " + (Path(workdir) / "serve.log").read_text()[-2000:])
            time.sleep(0.1)

    def webhook(self, url: str, ordering: str = "call") -> None:
        """One voipex webhook with basic auth. ``ordering`` "call" (calls in parallel) is
        the throughput configuration; "arrival" (the default of the API) sends one request
        after the other in acceptance order. A checkout without the setting is asked
        without it."""
        spec: dict[str, Any] = {
            "url": url,
            "dialect": "voipex",
            "auth": {"type": "basic", "username": "crm", "password": "secret"},
            "ordering": ordering,
        }
        st, body = api(self.port, "POST", "/api/v1/webhooks", spec)
        if st == 422 and "ordering" in str(body):  # an older checkout (a baseline run)
            spec.pop("ordering")
            st, body = api(self.port, "POST", "/api/v1/webhooks", spec)
        if st != 201:
            raise RuntimeError(f"creating the webhook: {st} {body}")
        time.sleep(1.2)  # the accepter reads subscriptions again after its 1 s TTL

    def start_profile(self, seconds: float) -> None:
        if not self.profile:
            return
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        cmd = [spy, "record", "-p", str(self.p.pid), "-d", str(int(seconds)), "-r", "200", "-f", "raw"]
        self.spy = subprocess.Popen(
            [*cmd, "-o", self.profile, "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop_profile(self) -> None:
        if self.spy is not None:
            if self.spy.poll() is None:
                self.spy.send_signal(signal.SIGINT)  # py-spy writes what it has and exits
            try:
                self.spy.wait(30)
            except subprocess.TimeoutExpired:
                self.spy.kill()
                self.spy.wait()

    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as r:
            out = {}
            for ln in r.read().decode().splitlines():
                if ln and not ln.startswith("#"):
                    k, _, v = ln.rpartition(" ")
                    with contextlib.suppress(ValueError):
                        out[k] = float(v)
            return out

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A throwaway cluster on 127.0.0.1 (initdb + pg_ctl, as tests/conftest.py), durable
    settings (fsync on, synchronous_commit on): the figure is what a user would get."""
    found = shutil.which("pg_ctl")
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    bindir = Path(found).parent if found else Path(dirs[0]) if dirs else None
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries (pg_ctl) found")
    base = Path(tempfile.mkdtemp(prefix="callhook-bench-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
    data, port = base / "data", free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    opts = f"-k {base} -h 127.0.0.1 -p {port} -c max_connections=100"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o", opts, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


if __name__ == "__main__":
    role = sys.argv[1]
    if role == "ami":
        import uvloop

        uvloop.run(_fake_ami(int(sys.argv[2])))
    elif role == "receiver":
        _receiver(int(sys.argv[2]))
    elif role == "ceiling":
        import uvloop

        print(uvloop.run(_lean_client(int(sys.argv[2]), float(sys.argv[3]))))

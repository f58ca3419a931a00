"""Delivery benchmark: callhook end-to-end on SQLite against a naive loop and the
HTTP client's own ceiling, side by side, in one run.

    .venv/bin/python bench/delivery.py            # about a minute
    .venv/bin/python bench/delivery.py --quick    # a smoke run
    .venv/bin/python bench/delivery.py --pending 1000000   # also: memory with 1M pending
    .venv/bin/python bench/delivery.py --pg postgresql://postgres@127.0.0.1:5432/postgres
                                                   # also: callhook e2e on PostgreSQL (a fresh
                                                   # database per run, created and dropped there)
    .venv/bin/python bench/delivery.py --only curl [--pg URL]   # just callhook e2e, e.g. under py-spy

The receiver is a separate process (a minimal asyncio HTTP/1.1 responder on uvloop), so on a 2-core
machine the measured side has one core and the receiver the other.

Rows:
  naive       requests.post per event, one after another (a new connection each time)
  ceiling     a sender alone posting the same bodies, keep-alive, no storage:
              HttpSender (aiohttp + uvloop) and CurlSender (pycurl CurlMulti on uvloop)
  callhook    accept (durable, group commit) -> claim -> POST -> marked done, SQLite FULL,
              once with each sender
Throughput: as many events as possible, until every delivery is marked done.
Latency: events offered at a fixed rate (--rate, default 5000/s); for callhook from
the start of ``accept`` to the 2xx response; for the others per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callhook.core.dialects.base import Request
from callhook.core.events import Event, EventType, new_event_id
from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import Response, Sender, make_sender
from callhook.store import open_store

CONCURRENCY = 64  # connections to the one receiver, for the ceiling and callhook alike
SEND_TIME = True  # --stored-request turns it off
TS = datetime(2024, 5, 1, tzinfo=UTC)


# ---------------------------------------------------------------- receiver process
class _Responder(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive responder (200 "ok" to everything), so the
    receiver is not what limits the figures."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buf[:end].lower()
            i = head.find(b"content-length:")
            length = int(head[i + 15 : head.find(b"\r\n", i) if head.find(b"\r\n", i) > 0 else None]) if i >= 0 else 0
            if len(self.buf) < end + 4 + length:
                break
            self.buf = self.buf[end + 4 + length :]
            out.append(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
        if out:
            self.t.write(b"".join(out))  # type: ignore[attr-defined]


def receiver(port: int) -> None:
    import uvloop

    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(_Responder, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    uvloop.run(serve())


def start_receiver() -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
    for _ in range(100):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
            break
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{port}/hook"


# ---------------------------------------------------------------- helpers
def encode(event: Event, sub: Subscription) -> Request:
    body = orjson.dumps({"id": event.id, "type": event.type.value, "call_id": event.call_id, "seq": event.seq})
    return Request("POST", sub.url, (("Content-Type", "application/json"), ("webhook-id", event.id)), body)


_ms = iter(range(1, 1 << 40))


def events(n: int, calls: int) -> list[Event]:
    return [
        Event(
            id=new_event_id(next(_ms)),
            type=EventType.CALL_ANSWERED,
            ts=TS,
            tenant="t",
            call_id=f"c{i % calls}",
            seq=i // calls + 1,
        )
        for i in range(n)
    ]


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


async def paced(rate: int, seconds: float, fire: Callable[[int], Awaitable[None]]) -> None:
    """Call ``fire(k)`` for k = 0, 1, ... at ``rate`` per second for ``seconds``."""
    tick = 0.005
    per_tick = rate * tick
    start = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()
    k, due = 0, 0.0
    while time.perf_counter() - start < seconds:
        due += per_tick
        while k < int(due):
            t = asyncio.create_task(fire(k))
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            k += 1
        await asyncio.sleep(max(0.0, start + (k / rate) - time.perf_counter()) or tick)
    await asyncio.gather(*tasks)


# ---------------------------------------------------------------- naive
def naive(url: str, seconds: float) -> tuple[float, list[float]]:
    import requests

    body = orjson.dumps({"id": "x", "type": "call.answered", "call_id": "c", "seq": 1})
    lat: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=5)
        lat.append(time.perf_counter() - t0)
    return len(lat) / (time.perf_counter() - start), lat


# ---------------------------------------------------------------- ceiling
async def ceiling(kind: str, url: str, n: int, rate: int, seconds: float) -> tuple[float, list[float]]:
    sender = make_sender(kind)
    req = Request("POST", url, (("Content-Type", "application/json"),), b'{"id":"x","seq":1}')
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with sem:
            await sender.send(req)

    await asyncio.gather(*(one() for _ in range(200)))  # warm the connections
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    throughput = n / (time.perf_counter() - t0)
    lat: list[float] = []

    async def timed(_: int) -> None:
        t = time.perf_counter()
        await one()
        lat.append(time.perf_counter() - t)

    await paced(rate, seconds, timed)
    await sender.close()
    return throughput, lat


# ---------------------------------------------------------------- callhook
class TimingSender:
    """Notes when each event's 2xx came back (for the latency figures)."""

    def __init__(self, inner: Sender) -> None:
        self.inner = inner
        self.started: dict[str, float] = {}
        self.latencies: list[float] = []

    async def send(self, request: Request) -> Response:
        resp = await self.inner.send(request)
        t0 = self.started.pop(request.header("webhook-id") or "", None)
        if t0 is not None:
            self.latencies.append(time.perf_counter() - t0)
        return resp

    async def close(self) -> None:
        await self.inner.close()


async def hub(
    path: str, url: str, synchronous: str = "FULL", kind: str = "aiohttp"
) -> tuple[Accepter, Dispatcher, TimingSender, object]:
    store = open_store(path, synchronous=synchronous)
    await store.open()
    await store.put_subscription(Subscription(id="s", url=url, dialect=Dialect.CALLHOOK, ordering="call"), time.time())
    sender = TimingSender(make_sender(kind))
    accepter = Accepter(store, encode)
    # as bootstrap wires it: each attempt encoded at send time from the event and the
    # subscription (SEND_TIME = False: the request stored at accept is sent, the old rule)
    dispatcher = Dispatcher(
        store,
        sender,
        encode=encode if SEND_TIME else None,
        endpoints=Endpoints(EndpointPolicy(concurrency=CONCURRENCY, max_queued=4096)),
        options=DispatcherOptions(batch=512, max_inflight=1024, poll_interval=0.2),
    )
    await dispatcher.start()
    return accepter, dispatcher, sender, store


async def drain(store: object) -> None:
    """Until every delivery is marked done (polled: the store has no event for it;
    every 50 ms, so that counting does not take the writer's time)."""
    backlog = 1
    while backlog:
        await asyncio.sleep(0.05)
        backlog = (await store.counts()).backlog  # type: ignore[attr-defined]


async def fresh_pg(admin_url: str, name: str) -> str:
    """A new, empty database ``name`` on the server of ``admin_url``; its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as c:
        await c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await c.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


async def drop_pg(admin_url: str, name: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as c:
        await c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def callhook_e2e(
    kind: str, tmp: str, url: str, n: int, rate: int, seconds: float, pg: str = ""
) -> tuple[float, list[float]]:
    """On a fresh SQLite file in ``tmp``, or on a fresh database of the PostgreSQL ``pg``."""
    name = f"callhook_bench_{kind}_{os.getpid()}"
    where = await fresh_pg(pg, name) if pg else os.path.join(tmp, f"bench-{kind}.db")
    try:
        return await _callhook_e2e(kind, where, url, n, rate, seconds)
    finally:
        if pg:
            await drop_pg(pg, name)


async def _callhook_e2e(
    kind: str, where: str, url: str, n: int, rate: int, seconds: float
) -> tuple[float, list[float]]:
    accepter, dispatcher, sender, store = await hub(where, url, kind=kind)
    evs = events(n, calls=max(1, n // 20))  # 20 events per call
    sem = asyncio.Semaphore(32)

    async def feed(chunk: list[Event]) -> None:
        async with sem:
            await accepter.accept(chunk)

    t0 = time.perf_counter()
    await asyncio.gather(*(feed(evs[i : i + 100]) for i in range(0, n, 100)))
    await drain(store)
    throughput = n / (time.perf_counter() - t0)

    lat_events = events(int(rate * seconds) + rate, calls=rate)

    async def one(k: int) -> None:
        ev = lat_events[k]
        sender.started[ev.id] = time.perf_counter()
        await accepter.accept([ev])

    sender.latencies.clear()
    await paced(rate, seconds, one)
    await drain(store)
    lat = list(sender.latencies)
    await dispatcher.stop()
    await accepter.close()
    await sender.close()
    await store.close()  # type: ignore[attr-defined]
    return throughput, lat


def cpu_seconds() -> float:
    """CPU time of this process (every thread), user + system."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def pending_memory(tmp: str, n: int) -> None:
    """Accept ``n`` events for a dead endpoint while the dispatcher runs: memory stays flat."""
    accepter, dispatcher, sender, store = await hub(
        os.path.join(tmp, "pending.db"), "http://127.0.0.1:9/dead", synchronous="NORMAL"
    )
    before = rss_mb()
    t0 = time.perf_counter()
    marks = []
    for start in range(0, n, 10_000):
        await asyncio.gather(*(accepter.accept(events(100, 100)) for _ in range(100)))
        if (start // 10_000) % max(1, n // 100_000) == 0:
            marks.append((start + 10_000, rss_mb()))
    counts = await store.counts()  # type: ignore[attr-defined]
    print(
        f"\npending: {counts.backlog} deliveries in {time.perf_counter() - t0:.0f} s; max RSS "
        f"{before:.0f} MB before -> " + ", ".join(f"{k // 1000}k: {m:.0f} MB" for k, m in marks)
    )
    await dispatcher.stop(grace=1)
    await accepter.close()
    await sender.close()
    await store.close()  # type: ignore[attr-defined]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--receiver", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rate", type=int, default=5000)
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--pending", type=int, default=0)
    p.add_argument(
        "--only", choices=("aiohttp", "curl"), help="just callhook e2e with this sender (to run under a profiler)"
    )
    p.add_argument("--pg", default="", help="a PostgreSQL server URL: callhook e2e also on PostgreSQL")
    p.add_argument(
        "--stored-request", action="store_true", help="send the request stored at accept (no send-time encoding)"
    )
    args = p.parse_args()
    global SEND_TIME  # one switch for the whole run
    SEND_TIME = not args.stored_request
    if args.receiver:
        receiver(args.receiver)
        return
    import uvloop

    if args.only:
        proc, url = start_receiver()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                cpu0 = cpu_seconds()
                thr, lat = uvloop.run(callhook_e2e(args.only, tmp, url, args.events, args.rate, 1.0, args.pg))
                cpu = cpu_seconds() - cpu0
        finally:
            proc.terminate()
            proc.wait()
        where = "PostgreSQL" if args.pg else "SQLite"
        print(
            f"callhook e2e {args.only} on {where}: {thr:.0f} events/s, "
            f"p50 {pct(lat, 50):.2f} ms p99 {pct(lat, 99):.2f} ms; "
            f"{cpu / (args.events + len(lat)) * 1e6:.0f} us of CPU per webhook (this process, all threads)"
        )
        return

    n = 5000 if args.quick else args.events
    seconds = 1.0 if args.quick else 5.0
    proc, url = start_receiver()
    try:
        rows = [("naive requests.post", *naive(url, seconds))]
        rows.append(("aiohttp+uvloop ceiling", *uvloop.run(ceiling("aiohttp", url, n, args.rate, seconds))))
        rows.append(("pycurl+uvloop ceiling", *uvloop.run(ceiling("curl", url, n, args.rate, seconds))))
        with tempfile.TemporaryDirectory() as tmp:
            for kind, name in (("aiohttp", "callhook e2e aiohttp"), ("curl", "callhook e2e pycurl")):
                rows.append((name, *uvloop.run(callhook_e2e(kind, tmp, url, n, args.rate, seconds))))
            if args.pg:
                row = uvloop.run(callhook_e2e("curl", tmp, url, n, args.rate, seconds, args.pg))
                rows.append(("callhook e2e pycurl, PG", *row))
            if args.pending:
                uvloop.run(pending_memory(tmp, args.pending))
    finally:
        proc.terminate()
        proc.wait()
    from callhook.delivery.curl_sender import curl_version

    print(f"\n{'':24} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8}   latency measured at")
    for name, thr, lat in rows:
        at = "its own pace" if name.startswith("naive") else f"{args.rate}/s"
        print(f"{name:24} {thr:10.0f} {pct(lat, 50):8.2f} {pct(lat, 99):8.2f}   {at}")
    naive_t, ceil_a, ceil_c, hub_a, hub_c = (row[1] for row in rows[:5])
    print(
        f"\naiohttp: callhook / naive {hub_a / naive_t:.1f}x, callhook / its ceiling {hub_a / ceil_a:.2f}\n"
        f"pycurl:  callhook / naive {hub_c / naive_t:.1f}x, callhook / its ceiling {hub_c / ceil_c:.2f}\n"
        f"pycurl / aiohttp: ceiling {ceil_c / ceil_a:.2f}x, callhook e2e {hub_c / hub_a:.2f}x"
    )
    if args.pg:
        print(
            f"PostgreSQL: callhook e2e pycurl / its ceiling {rows[5][1] / ceil_c:.2f}, "
            f"/ SQLite {rows[5][1] / hub_c:.2f}x"
        )
    print(curl_version())
    print(f"(n={n}, concurrency {CONCURRENCY}, median naive latency {statistics.median(rows[0][2]) * 1000:.2f} ms)")


if __name__ == "__main__":
    main()

"""Scale-out benchmark: webhook delivery throughput of two callhook processes against
one, on the same PostgreSQL, in one run (docs/benchmarks.md, "Scale-out").

    .venv/bin/python bench/scaleout.py                      # a PostgreSQL cluster of its own
    .venv/bin/python bench/scaleout.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/scaleout.py --events 5000 --rounds 1   # a smoke run

For each round and each process count (1, then 2): a fresh database gets ``--events``
pending deliveries (accepted through the accepter, as the AMI path does: 20 events a
call, one webhook); then 1 or 2 dispatcher processes (each wired as bootstrap wires
it: the outbox on PostgreSQL, pycurl, encode at send time) are told to go at the same
moment and the clock runs until the store's backlog is 0. The receiver is a separate
process (bench/delivery.py's minimal HTTP/1.1 responder). Prints each throughput and
the ratio two/one (the median over rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from delivery import drop_pg, encode, events, fresh_pg, start_receiver

from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import make_sender
from callhook.store import open_store

CONCURRENCY = 64  # connections of one process to the receiver


# ---------------------------------------------------------------- a worker process
async def worker(db: str) -> None:
    """One delivery process: opens the store, says ready, dispatches from "go" until SIGTERM."""
    store = open_store(db)
    await store.open()
    sender = make_sender("curl")
    dispatcher = Dispatcher(
        store,
        sender,
        encode=encode,
        endpoints=Endpoints(EndpointPolicy(concurrency=CONCURRENCY, max_queued=4096)),
        options=DispatcherOptions(batch=512, max_inflight=1024, poll_interval=0.2),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    await dispatcher.start()
    await stop.wait()
    await dispatcher.stop()
    await sender.close()
    await store.close()


# ---------------------------------------------------------------- the measuring side
async def preload(db: str, url: str, n: int) -> None:
    store = open_store(db)
    await store.open()
    await store.put_subscription(Subscription(id="s", url=url, dialect=Dialect.CALLHOOK), time.time())
    accepter = Accepter(store, encode)
    evs = events(n, calls=max(1, n // 20))
    sem = asyncio.Semaphore(16)

    async def feed(i: int) -> None:
        async with sem:
            await accepter.accept(evs[i : i + 200])

    await asyncio.gather(*(feed(i) for i in range(0, n, 200)))
    await accepter.close()
    await store.close()


async def backlog(db: str) -> int:
    store = open_store(db)
    await store.open()
    try:
        return (await store.counts()).backlog
    finally:
        await store.close()


async def measure(db: str, url: str, n: int, processes: int) -> float:
    await preload(db, url, n)
    assert await backlog(db) == n
    procs = [
        subprocess.Popen(  # noqa: ASYNC220 -- started before the clock runs
            [sys.executable, __file__, "--worker", db],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for p in procs:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        store = open_store(db)
        await store.open()
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        deadline = t0 + 600
        while (await store.counts()).backlog:
            if time.perf_counter() > deadline:
                raise RuntimeError("the backlog did not drain within 600 s")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        await store.close()
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    return n / elapsed


class Cluster:
    """A throwaway PostgreSQL on 127.0.0.1 (as tests/conftest.py starts one)."""

    def __init__(self) -> None:
        found = shutil.which("pg_ctl")
        dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
        bindir = Path(found).parent if found else Path(dirs[0]) if dirs else None
        if bindir is None:
            raise SystemExit("no PostgreSQL binaries found: pass --pg URL")
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = Path(tempfile.mkdtemp(prefix="callhook-bench-pg-"))
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.base, "postgres")
        self.ctl = [*self.prefix, str(bindir / "pg_ctl"), "-D", str(self.base / "data")]
        initdb = [str(bindir / "initdb"), "-D", str(self.base / "data"), "-A", "trust", "-U", "postgres"]
        subprocess.run([*self.prefix, *initdb], check=True, capture_output=True)
        # durable settings (fsync, synchronous_commit on): what a deployment runs
        opts = f"-k {self.base} -h 127.0.0.1 -p {self.port} -c max_connections=100"
        subprocess.run(
            [*self.ctl, "-l", str(self.base / "log"), "-w", "-o", opts, "start"], check=True, capture_output=True
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def close(self) -> None:
        subprocess.run([*self.ctl, "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


async def run(admin: str, n: int, rounds: int) -> None:
    rx, url = start_receiver()
    one: list[float] = []
    two: list[float] = []
    try:
        for r in range(rounds):
            for processes, into in ((1, one), (2, two)):
                name = f"callhook_scaleout_{os.getpid()}_{r}_{processes}"
                db = await fresh_pg(admin, name)
                try:
                    rate = await measure(db, url, n, processes)
                finally:
                    await drop_pg(admin, name)
                into.append(rate)
                print(f"round {r + 1}: {processes} process(es): {rate:8.0f} deliveries/s", flush=True)
    finally:
        rx.send_signal(signal.SIGTERM)
        rx.wait(10)
    a, b = statistics.median(one), statistics.median(two)
    print(f"one process:   {a:8.0f} deliveries/s (median of {rounds})")
    print(f"two processes: {b:8.0f} deliveries/s (median of {rounds})")
    print(f"ratio two/one: {b / a:.2f}  (goal >= 1.5; cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f})")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pg", default="", help="a PostgreSQL server's admin URL (default: start one)")
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        import uvloop

        uvloop.run(worker(args.worker))
        return
    cluster = None if args.pg else Cluster()
    try:
        asyncio.run(run(args.pg or cluster.url if cluster else args.pg, args.events, args.rounds))  # type: ignore[union-attr]
    finally:
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()

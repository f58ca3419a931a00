"""Scale-out benchmark: webhook delivery throughput of two callhook processes against
one, on the same PostgreSQL, in one run (docs/benchmarks.md, "Scale-out").

    .venv/bin/python bench/scaleout.py                      # a PostgreSQL cluster of its own
    .venv/bin/python bench/scaleout.py --live               # the first process also accepts the events
    .venv/bin/python bench/scaleout.py --pg postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/scaleout.py --events 5000 --rounds 1   # a smoke run
    .venv/bin/python bench/scaleout.py --statements         # + pg_stat_statements' top statements
    .venv/bin/python bench/scaleout.py --profile DIR        # + each worker under py-spy (raw files)

For each round and each process count (1, then 2) on a fresh database, one webhook
(``"ordering": "call"``, as the other throughput benchmarks) and 20 events a call:

- backlog (default): ``--events`` deliveries are accepted through the accepter first,
  then the processes are told to go at the same moment;
- ``--live``: the first process is the one that reads the PBX: it accepts the events
  through its own accepter (its dispatcher attached as the store's feed, as bootstrap
  wires it) while every process dispatches.

Each worker is wired as bootstrap wires it (the outbox on PostgreSQL, pycurl, encode at
send time). The clock runs until nothing is pending or inflight. The receiver is a
separate process (bench/delivery.py's minimal HTTP/1.1 responder). Printed per
measurement: throughput, CPU microseconds per delivery of the workers, the PostgreSQL
server (its own cluster only), the receiver and this driver, the cores they kept busy,
and how many requests each worker sent; then the medians and the ratio two/one.
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
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import contextlib

from delivery import drop_pg, encode, events, fresh_pg, start_receiver

from callhook.core.dialects.base import Request
from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import Response, Sender, make_sender
from callhook.store import open_store

CONCURRENCY = 64  # connections of one process to the receiver
FEED_LAG = DispatcherOptions().feed_lag  # --feed-lag


# ---------------------------------------------------------------- a worker process
class Counting:
    """The sender, counting the requests this process sent."""

    def __init__(self, inner: Sender) -> None:
        self.inner, self.sent = inner, 0

    async def send(self, request: Request) -> Response:
        self.sent += 1
        return await self.inner.send(request)

    async def close(self) -> None:
        await self.inner.close()


async def worker(db: str, accept: int) -> None:
    """One delivery process: opens the store, says ready, dispatches from "go" until SIGTERM.
    With ``accept`` > 0 it is also the process that reads the PBX: it accepts that many
    events through its accepter (its dispatcher attached as the store's feed, as
    bootstrap wires it), and says "accepted" once they are all committed."""
    store = open_store(db)
    await store.open()
    sender = Counting(make_sender("curl"))
    dispatcher = Dispatcher(
        store,
        sender,
        encode=encode,
        endpoints=Endpoints(EndpointPolicy(concurrency=CONCURRENCY, max_queued=4096)),
        options=DispatcherOptions(batch=512, max_inflight=1024, poll_interval=0.2, feed_lag=FEED_LAG),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await loop.run_in_executor(None, sys.stdin.readline)  # "go"
    await dispatcher.start()
    if accept:
        accepter = Accepter(store, encode)
        evs = events(accept, calls=max(1, accept // 20))
        for i in range(0, accept, 25):  # as the AMI reader: a socket read's events at a time
            await accepter.room()
            accepter.enqueue(evs[i : i + 25])
            await asyncio.sleep(0)
        await accepter.drain()
        print("accepted", flush=True)
    await stop.wait()
    await dispatcher.stop()
    await sender.close()
    await store.close()
    print(f"sent {sender.sent}", flush=True)


# ---------------------------------------------------------------- the measuring side
async def preload(db: str, url: str, n: int) -> None:
    store = open_store(db)
    await store.open()
    if STATEMENTS:
        async with await psycopg.AsyncConnection.connect(db, autocommit=True) as c:
            await c.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    await store.put_subscription(Subscription(id="s", url=url, dialect=Dialect.CALLHOOK, ordering="call"), time.time())
    accepter = Accepter(store, encode)
    evs = events(n, calls=max(1, n // 20)) if n else []
    sem = asyncio.Semaphore(16)

    async def feed(i: int) -> None:
        async with sem:
            await accepter.accept(evs[i : i + 200])

    await asyncio.gather(*(feed(i) for i in range(0, n, 200)))
    await accepter.close()
    await store.close()


async def busy(c: Any) -> bool:
    """Is any delivery pending or inflight? One probe of the partial index (the store's
    ``counts`` reads every row, ~10 ms a call: at 20 polls a second it would be a
    measurable share of PostgreSQL's time)."""
    row = await (
        await c.execute("SELECT EXISTS (SELECT 1 FROM deliveries WHERE status IN ('pending', 'inflight'))")
    ).fetchone()
    return bool(row[0])


async def backlog(db: str) -> int:
    store = open_store(db)
    await store.open()
    try:
        return (await store.counts()).backlog
    finally:
        await store.close()


async def top_statements(db: str, n: int) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(db, autocommit=True) as c:
        rows = await (
            await c.execute(
                "SELECT calls, total_exec_time, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
                "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
                "WHERE d.datname = current_database() ORDER BY total_exec_time DESC LIMIT 10"
            )
        ).fetchall()
    for calls, ms, nrows, text in rows:
        print(
            f"    {ms / n * 1000:7.1f} us/delivery {calls:7d} calls {ms / calls:7.2f} ms/call {nrows:8d} rows  {text}"
        )


PROFILE = ""  # --profile DIR: each worker under py-spy, raw samples into DIR
LIVE = False  # --live
STATEMENTS = False  # --statements: pg_stat_statements in the cluster, the top statements per measurement
PG_PIDS: list[int] = []  # the postmaster's pid when the cluster is ours (its backends are its children)


def pg_cpu() -> float:
    if not PG_PIDS:
        return float("nan")
    return sum(proc_cpu(p) for p in [PG_PIDS[0], *children(PG_PIDS[0])])


async def measure(db: str, url: str, n: int, processes: int, rx: int, tag: str) -> tuple[float, dict[str, float]]:
    await preload(db, url, 0 if LIVE else n)
    assert await backlog(db) == (0 if LIVE else n)
    procs = []
    sent: list[int] = []
    for k in range(processes):
        cmd = [sys.executable, __file__, "--worker", db, "--accept", str(n if LIVE and k == 0 else 0)]
        cmd += ["--feed-lag", str(FEED_LAG)]
        pre = []
        if PROFILE:
            out = Path(PROFILE) / f"{tag}_p{k + 1}.txt"
            pre = [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "-r",
                "100",
                "-f",
                "raw",
                "-o",
                str(out),
                "--",
            ]
        procs.append(
            subprocess.Popen(  # noqa: ASYNC220 -- started before the clock runs
                [*pre, *cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        )
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            while line.startswith("py-spy>") or line == "\n":  # the profiler's own lines
                line = p.stdout.readline()
            assert line.strip() == "ready", line
        pids = [(children(p.pid) or [p.pid])[0] if PROFILE else p.pid for p in procs]
        store = open_store(db)
        await store.open()
        poll = await psycopg.AsyncConnection.connect(db, autocommit=True)
        if STATEMENTS:
            async with await psycopg.AsyncConnection.connect(db, autocommit=True) as c:
                await c.execute("SELECT pg_stat_statements_reset()")
        cpu0 = {"workers": sum(proc_cpu(p) for p in pids), "postgres": pg_cpu(), "receiver": proc_cpu(rx)}
        self0 = time.process_time()
        t0 = time.perf_counter()
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        deadline = t0 + 600
        accepted = 0.0
        if LIVE:
            out = procs[0].stdout
            assert out is not None
            line = await asyncio.to_thread(out.readline)
            assert line.strip() == "accepted", line
            accepted = time.perf_counter() - t0
        while await busy(poll):
            if time.perf_counter() > deadline:
                raise RuntimeError("the backlog did not drain within 600 s")
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - t0
        assert (await store.counts()).backlog == 0
        cpu = {"workers": sum(proc_cpu(p) for p in pids), "postgres": pg_cpu(), "receiver": proc_cpu(rx)}
        cpu = {k: cpu[k] - cpu0[k] for k in cpu}
        cpu["bench"] = time.process_time() - self0
        cpu["wall"] = elapsed
        cpu["accepted"] = accepted if LIVE else 0.0
        await store.close()
        await poll.close()
        if STATEMENTS:
            await top_statements(db, n)
    finally:
        for p in procs:
            (os.kill((children(p.pid) or [p.pid])[0], signal.SIGTERM) if PROFILE else p.send_signal(signal.SIGTERM))
        for p in procs:
            try:
                out, _ = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                out = ""
            sent.append(next((int(x.split()[1]) for x in out.splitlines() if x.startswith("sent ")), -1))
    cpu["sent"] = sent  # type: ignore[assignment]
    return n / elapsed, cpu


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    out = []
    for task in glob.glob(f"/proc/{pid}/task/*/children"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in Path(task).read_text().split()]
    return out


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
        if STATEMENTS:
            opts += " -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all"
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
                    rate, cpu = await measure(db, url, n, processes, rx.pid, f"r{r + 1}_n{processes}")
                finally:
                    await drop_pg(admin, name)
                into.append(rate)
                per = "  ".join(f"{k} {cpu[k] / n * 1e6:5.0f}" for k in ("workers", "postgres", "receiver", "bench"))
                busy = sum(cpu[k] for k in ("workers", "postgres", "receiver", "bench")) / cpu["wall"]
                print(
                    f"round {r + 1}: {processes} process(es): {rate:8.0f} deliveries/s   "
                    f"CPU us/delivery: {per}   cores busy {busy:.2f}  sent per process {cpu['sent']}"
                    + (f"  accepted in {cpu['accepted']:.2f} of {cpu['wall']:.2f} s" if LIVE else ""),
                    flush=True,
                )
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
    p.add_argument("--profile", default="", help="a directory: run each worker under py-spy (raw profiles)")
    p.add_argument("--statements", action="store_true", help="pg_stat_statements: the top statements per run")
    p.add_argument(
        "--feed-lag", type=float, default=DispatcherOptions().feed_lag, help="DispatcherOptions.feed_lag of the workers"
    )
    p.add_argument("--accept", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--live", action="store_true", help="the first process accepts the events while all dispatch")
    p.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    global PROFILE, STATEMENTS, LIVE, FEED_LAG
    PROFILE, STATEMENTS, LIVE, FEED_LAG = args.profile, args.statements, args.live, args.feed_lag
    if args.worker:
        import uvloop

        uvloop.run(worker(args.worker, args.accept))
        return
    cluster = None if args.pg else Cluster()
    if cluster is not None:
        PG_PIDS.append(int((cluster.base / "data" / "postmaster.pid").read_text().split()[0]))
    try:
        asyncio.run(run(args.pg or cluster.url if cluster else args.pg, args.events, args.rounds))  # type: ignore[union-attr]
    finally:
        if cluster is not None:
            cluster.close()


if __name__ == "__main__":
    main()

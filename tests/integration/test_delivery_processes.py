"""Whole processes: kill -9 in the middle of a load, and two dispatchers on one PostgreSQL.

The processes are tests/integration/delivery_runner.py; the receiver runs here.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from callhook.delivery.accept import Accepter
from callhook.store import open_store

from delivery_kit import Receiver, fake_encode, make_event, make_sub

RUNNER = Path(__file__).with_name("delivery_runner.py")


class Runner:
    def __init__(self, *args: str) -> None:
        self.args = args
        self.acked: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.accepted = asyncio.Event()

    async def start(self) -> Runner:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(RUNNER), *self.args, env=env, stdout=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self.ready.wait(), 20)
        return self

    async def _read(self) -> None:
        assert self.proc is not None
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            line = raw.decode().strip()
            if line.startswith("ack "):
                self.acked.append(line[4:])
            elif line == "ready":
                self.ready.set()
            elif line == "accepted":
                self.accepted.set()

    async def signal(self, sig: int) -> None:
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), 20)
        if self._reader is not None:
            await self._reader


def in_order(hits: list[dict[str, Any]]) -> bool:
    """Per call, the seqs received never go backwards (a re-sent in-flight one may repeat)."""
    last: dict[str, int] = {}
    for b in hits:
        if b["seq"] < last.get(b["call"], 0):
            return False
        last[b["call"]] = b["seq"]
    return True


@pytest.mark.slow
def test_kill_9_mid_load_loses_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            db = str(tmp_path / "crash.db")
            url = rx.url("/h")
            first = await Runner(
                "--store", db, "--url", url, "--accept", "4000", "--calls", "100", "--dispatch", "--name", "first"
            ).start()
            await rx.wait_for(lambda: len(rx.hits) >= 600, within=30)
            await first.signal(signal.SIGKILL)
            acked = set(first.acked)
            assert 600 <= len(acked) < 4000 or len(acked) == 4000
            second = await Runner("--store", db, "--url", url, "--dispatch", "--name", "second").start()
            try:
                await rx.wait_for(lambda: acked <= {h.body["id"] for h in rx.hits}, within=60)
                await asyncio.sleep(0.3)
            finally:
                await second.signal(signal.SIGTERM)
            ids = [h.body["id"] for h in rx.hits]
            assert acked <= set(ids)  # every acknowledged event arrived
            dupes = [i for i, n in Counter(ids).items() if n > 1]
            # duplicates only of what was in flight when the process died: resent after restart
            assert len(dupes) <= 512
            first_after_restart = next(k for k, h in enumerate(rx.hits) if h.headers.get("x-worker") == "second")
            assert all(ids.index(i) < first_after_restart for i in dupes)
            assert in_order([h.body for h in rx.hits])

    asyncio.run(main())


@pytest.mark.postgres
@pytest.mark.slow
def test_two_processes_share_one_postgres(pg_db_url: str) -> None:
    async def main() -> None:
        async with Receiver() as rx:
            store = open_store(pg_db_url)
            await store.open()
            await store.put_subscription(make_sub("s", rx.url("/h")), time.time())
            workers = [
                # a group goes back to the shared queue after every other event, so both
                # processes get their share of these long calls
                await Runner(
                    "--store", pg_db_url, "--url", rx.url("/h"), "--dispatch", "--name", n, "--max-chain", "1"
                ).start()
                for n in ("one", "two")
            ]
            try:
                accepter = Accepter(store, fake_encode)
                n, calls = 3000, 60
                events = [make_event(f"call{i % calls}", i // calls + 1) for i in range(n)]
                for start in range(0, n, calls):
                    await accepter.accept(events[start : start + calls])
                await rx.wait_for(lambda: len(rx.hits) >= n, within=60)
                await asyncio.sleep(0.5)  # nothing more should come
            finally:
                for w in workers:
                    await w.signal(signal.SIGTERM)
                await store.close()
            ids = [h.body["id"] for h in rx.hits]
            assert sorted(ids) == sorted(e.id for e in events)  # every event exactly once
            assert in_order([h.body for h in rx.hits])
            by_worker = Counter(h.headers["x-worker"] for h in rx.hits)
            assert by_worker["one"] > 0
            assert by_worker["two"] > 0

    asyncio.run(main())


@pytest.mark.postgres
@pytest.mark.slow
def test_the_reading_process_when_saturated_shares_with_another(pg_db_url: str) -> None:
    """The process that reads the PBX accepts every event and dispatches too; when it is
    saturated (``--feed-lag -1``: its loop always counts as late) it leases neither the
    new heads nor the successors to itself, so the second process gets work: every event
    exactly once while both live, each call in order, the second process sending."""

    async def main() -> None:
        async with Receiver() as rx:
            url = rx.url("/h")
            other = await Runner("--store", pg_db_url, "--url", url, "--dispatch", "--name", "other").start()
            saturated = ("--dispatch", "--name", "reader", "--feed-lag", "-1")
            reader = await Runner(
                "--store", pg_db_url, "--url", url, "--accept", "3000", "--calls", "60", *saturated
            ).start()
            try:
                await asyncio.wait_for(reader.accepted.wait(), 60)
                await rx.wait_for(lambda: len(rx.hits) >= 3000, within=60)
                await asyncio.sleep(0.5)  # nothing more should come
            finally:
                await reader.signal(signal.SIGTERM)
                await other.signal(signal.SIGTERM)
            ids = [h.body["id"] for h in rx.hits]
            assert len(ids) == len(set(ids)) == 3000  # every event exactly once
            assert set(ids) == set(reader.acked)
            assert in_order([h.body for h in rx.hits])
            by_worker = Counter(h.headers["x-worker"] for h in rx.hits)
            # the reader only claims (it may get some or none); the other process gets work
            assert by_worker["other"] > 0
            assert by_worker["other"] + by_worker["reader"] == 3000

    asyncio.run(main())

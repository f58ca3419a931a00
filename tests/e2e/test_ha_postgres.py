"""Scale-out on PostgreSQL (docs/deployment.md): three ``callhook serve`` processes on
one database and one simulated PBX. One AMI session at any time; the holder killed
with SIGKILL mid-stream -> another takes over within 10 s; every stored event is
delivered, a repeat only ever with the same ``webhook-id``; no call is left live or
told twice; a webhook made on one process is used by the others.

And on SQLite: a second process on the same database refuses to start.
"""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from callhook.sources.simulator.load import Load
from conftest import PgCluster

from ha_support import TOKEN, Receiver, Serve, SimPbx, api, free_port, wait

TAKEOVER_LIMIT = 10.0  # seconds (issue 12)
SECRET = "whsec_" + base64.b64encode(b"ha-test-signing-secret-0123456789").decode()  # signed: webhook-id


def _stored(db: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(db) as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute("SELECT id, type, call_id FROM events ORDER BY id")]


Disrupt = Callable[[Serve, list[Serve]], list[Serve]]


def _three_processes(tmp_path: Path, db: str, disrupt: Disrupt, what: str) -> None:
    """The scenario: three processes, calls flowing, ``disrupt`` mid-stream (it returns
    the processes that may take over), then the checks of the module's docstring."""
    load = Load(
        rate=1.5,
        duration_s=22.0,
        first_s=6.0,
        talk_mean_s=2.0,
        answer_s=(0.5, 1.5),
        patience_s=(2.0, 6.0),
        lunch_p=0.0,
    )
    pbx, receiver = SimPbx(load), Receiver()
    procs = [Serve(tmp_path, f"p{i}", db, pbx.port) for i in range(3)]
    try:
        assert wait(lambda: all(p.health() for p in procs), 40), [p.output() for p in procs]
        holder = wait(lambda: next((p for p in procs if p.holds()), None), 15)
        assert holder is not None, [p.output() for p in procs]
        others = [p for p in procs if p is not holder]
        assert not any(p.health()["ami"]["held"] for p in others)  # type: ignore[index]
        assert holder.health()["ami"]["elected"]  # type: ignore[index]

        # a webhook made on a process that does not read the PBX
        st, sub = api(
            others[0].port,
            "POST",
            "/api/v1/webhooks",
            {"url": f"http://127.0.0.1:{receiver.port}/h", "dialect": "callhook", "secret": SECRET},
        )
        assert st == 201, sub
        made_at = time.time()

        # calls flow; then the disruption, mid-stream
        assert wait(lambda: sum(b.get("type") == "call.new" for _, b in receiver.snapshot()) >= 4, 30)
        assert pbx.sessions() == 1
        logins = pbx.server.logins
        began = time.monotonic()
        candidates = disrupt(holder, others)
        new_holder = wait(lambda: next((p for p in candidates if p.holds()), None), TAKEOVER_LIMIT + 5, 0.05)
        takeover = time.monotonic() - began
        print(f"AMI reader again {takeover:.2f} s after {what}")
        assert new_holder is not None, [p.output() for p in candidates]
        assert takeover < TAKEOVER_LIMIT

        # the load ends, the PBX empties, the outbox drains
        assert wait(lambda: pbx.channels() == 0 and pbx.sim.next_time() is None, 60, 0.25)
        # (a deadline, not a timing: a loaded machine's reader may still be catching up)
        # on every process: the reader (whichever holds the PBX by now) ended its calls, and a
        # process that lost the PBX shows none (its live state would be stale)
        live = wait(lambda: all(api(p.port, "GET", "/api/v1/calls/live")[1] == [] for p in candidates), 30)
        assert live, ("no ghost call", [(api(p.port, "GET", "/api/v1/calls/live")[1], p.health()) for p in candidates])
        assert wait(lambda: all((p.health() or {}).get("backlog") == 0 for p in candidates), 60)

        assert pbx.server.peak == 1, "never two AMI sessions at once"
        assert pbx.server.logins == logins + 1, "one new session: the one that took over"

        got = receiver.snapshot()
        assert all(wid == body["id"] for wid, body in got), "webhook-id is the event id"
        stored = _stored(db)
        due = {i for i, _, _ in stored if _ms(i) / 1000 >= made_at + 2.0}
        received = {wid for wid, _ in got}
        assert due, "events were stored after the webhook was made"
        assert due <= received, f"{len(due - received)} stored event(s) never delivered"
        # no call told twice: one call.new and at most one call.ended id per call
        per_call: dict[tuple[str, str], set[str]] = defaultdict(set)
        for wid, body in got:
            if body["type"] in ("call.new", "call.ended"):
                per_call[(body["call_id"], body["type"])].add(wid)
        assert all(len(ids) == 1 for ids in per_call.values()), {k: v for k, v in per_call.items() if len(v) > 1}
        assert any(t == "call.ended" for (_, t) in per_call), "calls ended and were told"
    finally:
        for p in procs:
            p.stop()
        receiver.close()
        pbx.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_the_holder_killed_mid_stream(tmp_path: Path, pg_db_url: str) -> None:
    def kill(holder: Serve, others: list[Serve]) -> list[Serve]:
        holder.proc.kill()  # SIGKILL: no logoff, no unlock; PostgreSQL ends its session
        return others

    _three_processes(tmp_path, pg_db_url, kill, "SIGKILL of the holder")


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_restarted_mid_stream(tmp_path: Path, pg_cluster: PgCluster) -> None:
    def restart(holder: Serve, others: list[Serve]) -> list[Serve]:
        pg_cluster.stop("fast")  # every session ends, the lock with it
        assert wait(lambda: not holder.holds(), TAKEOVER_LIMIT), "the holder stops reading without its lock"
        pg_cluster.start()
        return [holder, *others]

    _three_processes(tmp_path, pg_cluster.url, restart, "a PostgreSQL restart")


def _ms(event_id: str) -> int:
    from callhook.core.events import ulid_ms

    return ulid_ms(event_id)


def test_a_second_process_on_one_sqlite_database_refuses_to_start(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'callhook.db'}"
    first = Serve(tmp_path, "first", db, free_port())
    try:
        assert wait(first.health, 30), first.output()
        second = subprocess.run(
            [sys.executable, "-m", "callhook", "serve", "--listen", f"127.0.0.1:{free_port()}", "--db", db],
            cwd=tmp_path,
            env={"CALLHOOK_ADMIN_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert second.returncode == 2
        assert "already served by pid" in second.stderr
        assert "one callhook process per database" in second.stderr
        assert first.health() is not None, "the first one keeps running"
    finally:
        first.stop()

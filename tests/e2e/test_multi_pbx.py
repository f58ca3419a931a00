"""Several PBXs in one deployment (docs/deployment.md, "Several PBXs"): ``[[pbx]]`` tables
in the config file, each with its name, AMI URL, directory and tenant.

Two simulated Asterisks with calls flowing, read by ``callhook serve`` processes:

- on SQLite, one process reads both: every event and call carries its PBX's name, the
  second PBX's calls belong to its tenant, the ids of the two PBXs never collide, and the
  API (``?pbx=``), ``/healthz`` and ``/metrics`` tell the PBXs apart;
- on PostgreSQL, two processes: each PBX is elected separately (one AMI session per PBX
  at any time); the holder of a PBX killed -> the other process takes it over.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from callhook.sources.simulator.load import Load

from ha_support import DIRECTORY, Receiver, Serve, SimPbx, api, wait

TAKEOVER_LIMIT = 10.0  # seconds (issue 12)


def _load(seconds: float) -> Load:
    return Load(
        rate=1.0,
        duration_s=seconds,
        first_s=2.0,
        talk_mean_s=1.5,
        answer_s=(0.3, 1.0),
        patience_s=(2.0, 4.0),
        lunch_p=0.0,
    )


def _config(tmp: Path, prague: SimPbx, brno: SimPbx) -> Path:
    """prague uses the deployment's directory (tenant "lab"); brno has a directory of its
    own without a tenant, and the config gives it tenant "globex"."""
    own = json.loads(DIRECTORY.read_text())
    del own["tenant"]
    (tmp / "brno.json").write_text(json.dumps(own))
    path = tmp / "callhook.toml"
    path.write_text(
        f'directory = "{DIRECTORY}"\n\n'
        "[[pbx]]\n"
        'name = "prague"\n'
        f'ami = "ami://lab:labsecret@127.0.0.1:{prague.port}"\n\n'
        "[[pbx]]\n"
        'name = "brno"\n'
        f'ami = "ami://lab:labsecret@127.0.0.1:{brno.port}"\n'
        f'directory = "{tmp / "brno.json"}"\n'
        'tenant = "globex"\n'
    )
    return path


def _pbxes(proc: Serve) -> dict[str, dict[str, Any]]:
    h = proc.health()
    return {p["pbx"]: p for p in h["ami"]["pbxes"]} if h else {}


def _holds(proc: Serve, name: str) -> bool:
    p = _pbxes(proc).get(name)
    return bool(p and p["held"] and p["connected"])


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return str(r.read().decode())


def _subscribe(port: int, receiver: Receiver) -> None:
    st, body = api(
        port, "POST", "/api/v1/webhooks", {"url": f"http://127.0.0.1:{receiver.port}/h", "dialect": "callhook"}
    )
    assert st == 201, body


@pytest.mark.slow
def test_one_process_reads_two_pbxs_and_tells_them_apart(tmp_path: Path) -> None:
    prague, brno, receiver = SimPbx(_load(8.0), seed=3), SimPbx(_load(8.0), seed=4), Receiver()
    config = _config(tmp_path, prague, brno)
    proc = Serve(tmp_path, "one", f"sqlite:///{tmp_path / 'callhook.db'}", 0, config_file=config)
    try:
        assert wait(lambda: _holds(proc, "prague") and _holds(proc, "brno"), 30), proc.output()
        _subscribe(proc.port, receiver)
        assert prague.sessions() == 1
        assert brno.sessions() == 1

        def told(pbx: str, etype: str) -> list[dict[str, Any]]:
            return [b for _, b in receiver.snapshot() if b.get("pbx") == pbx and b["type"] == etype]

        # live calls of each PBX, filtered by ?pbx=
        both = wait(
            lambda: (
                (a := api(proc.port, "GET", "/api/v1/calls/live?pbx=prague")[1])
                and (b := api(proc.port, "GET", "/api/v1/calls/live?pbx=brno")[1])
                and (a, b)
            ),
            30,
            0.05,
        )
        assert both, proc.output()
        assert {c["pbx"] for c in both[0]} == {"prague"}
        assert {c["pbx"] for c in both[1]} == {"brno"}
        assert {c["tenant"] for c in both[1]} == {"globex"}  # brno's tenant, from the config

        # the load ends; every call of both PBXs ended and was told with its PBX's name
        assert wait(lambda: prague.channels() == 0 and prague.sim.next_time() is None, 60, 0.25)
        assert wait(lambda: brno.channels() == 0 and brno.sim.next_time() is None, 60, 0.25)
        assert wait(lambda: told("prague", "call.ended") and told("brno", "call.ended"), 30), proc.output()
        assert wait(lambda: (proc.health() or {}).get("backlog") == 0, 30)
        got = [b for _, b in receiver.snapshot()]
        assert {b["pbx"] for b in got if b["type"].startswith("call.")} == {"prague", "brno"}
        assert all(b["tenant"] == "globex" for b in got if b.get("pbx") == "brno")
        assert all(b["tenant"] == "lab" for b in got if b.get("pbx") == "prague" and b["type"].startswith("call."))
        ids = [b["id"] for b in got]
        assert len(ids) == len(set(ids)), "the two PBXs' event ids never collide"
        # call ids carry the PBX's name: the two simulators number their calls alike
        calls = {(b["pbx"], b["call_id"]) for b in got if b["type"] == "call.new"}
        assert all(call_id.startswith(f"{pbx}:") for pbx, call_id in calls), calls
        own = [{c.split(":", 1)[1] for p, c in calls if p == name} for name in ("prague", "brno")]
        print(f"Linkedids told by both PBXs: {len(own[0] & own[1])} of {len(calls)} calls")
        one = next(c for p, c in calls if p == "brno")
        st, timeline = api(proc.port, "GET", f"/api/v1/calls/{one}")
        assert st == 200
        assert timeline["events"]
        assert {e["pbx"] for e in timeline["events"]} == {"brno"}, "a call's timeline is one PBX's"

        # the ended calls, filtered by ?pbx=
        st, page = api(proc.port, "GET", "/api/v1/calls?pbx=brno&limit=200")
        assert st == 200
        assert page["items"]
        assert {c["pbx"] for c in page["items"]} == {"brno"}
        assert {c["call_id"] for c in page["items"]} == {b["call_id"] for b in told("brno", "call.ended")}
        st, page = api(proc.port, "GET", "/api/v1/calls?limit=200")
        assert {c["pbx"] for c in page["items"]} == {"prague", "brno"}
        assert api(proc.port, "GET", "/api/v1/calls/live?pbx=ostrava")[0] == 404
        assert api(proc.port, "GET", "/api/v1/calls?pbx=ostrava")[0] == 200  # a filter of stored calls: none

        # each PBX's directory: brno's own (tenant globex), prague's the deployment's
        st, d = api(proc.port, "GET", "/api/v1/directory?pbx=brno")
        assert (st, d["tenant"]) == (200, "globex")
        st, d = api(proc.port, "GET", "/api/v1/directory?pbx=prague")
        assert (st, d["tenant"]) == (200, "lab")

        # the metrics, one series per PBX
        text = _metrics(proc.port)
        for name in ("prague", "brno"):
            assert f'callhook_pbx_connected{{pbx="{name}"}} 1.0' in text
            assert f'callhook_ami_held{{pbx="{name}"}} 1.0' in text
            m = re.search(rf'callhook_pbx_events_total{{pbx="{name}"}} (\d+)', text)
            assert m, text
            assert int(m.group(1)) >= len(told(name, "call.ended"))
    finally:
        proc.stop()
        receiver.close()
        prague.close()
        brno.close()


@pytest.mark.postgres
@pytest.mark.slow
def test_each_pbx_is_elected_separately_and_taken_over(tmp_path: Path, pg_db_url: str) -> None:
    prague, brno = SimPbx(_load(20.0), seed=5), SimPbx(_load(20.0), seed=6)
    config = _config(tmp_path, prague, brno)
    procs = [Serve(tmp_path, f"p{i}", pg_db_url, 0, config_file=config) for i in range(2)]
    try:
        assert wait(lambda: all(p.health() for p in procs), 40), [p.output() for p in procs]
        holders = wait(
            lambda: (
                (a := next((p for p in procs if _holds(p, "prague")), None))
                and (b := next((p for p in procs if _holds(p, "brno")), None))
                and (a, b)
            ),
            20,
        )
        assert holders, [p.output() for p in procs]
        for name, pbx in (("prague", prague), ("brno", brno)):
            assert sum(_pbxes(p)[name]["held"] for p in procs) == 1, f"one holder of {name}"
            assert pbx.sessions() == 1
        assert all(_pbxes(p)["prague"]["elected"] for p in procs)

        # the holder of prague dies: the other process reads prague within the limit
        victim = holders[0]
        survivor = next(p for p in procs if p is not victim)
        victim.proc.kill()
        victim.proc.wait(10)
        began = time.monotonic()
        assert wait(lambda: _holds(survivor, "prague"), TAKEOVER_LIMIT + 5, 0.05), survivor.output()
        assert time.monotonic() - began < TAKEOVER_LIMIT
        assert wait(lambda: _holds(survivor, "brno"), TAKEOVER_LIMIT + 5, 0.05), survivor.output()
        assert prague.server.peak == 1, "never two AMI sessions on prague"
        assert brno.server.peak == 1, "never two AMI sessions on brno"
        health = survivor.health()
        assert health is not None
        assert {p["pbx"] for p in health["ami"]["pbxes"]} == {"prague", "brno"}
        assert api(survivor.port, "GET", "/api/v1/calls/live?pbx=brno")[0] == 200
    finally:
        for p in procs:
            p.stop()
        prague.close()
        brno.close()

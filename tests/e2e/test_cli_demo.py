"""``callhook demo`` as a user runs it: the API address and token, calls flowing, every dialect received."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import json
import re
import signal
import socket
import urllib.request
from pathlib import Path

import pytest
from test_cli_support import Running, cli, counts, free_port, running, start  # noqa: F401

DIALECTS = ("voipex", "pbx2is", "telphin", "webitel", "callhook")

pytestmark = pytest.mark.slow


def test_demo_runs_for_its_duration_and_every_dialect_is_received(tmp_path: Path) -> None:
    port = free_port()
    done = cli(
        "demo",
        "--listen",
        f"127.0.0.1:{port}",
        "--duration",
        "8",
        "--no-ui",
        "--rate",
        "2",
        "--seed",
        "1",
        cwd=tmp_path,
        timeout=45,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"demo: API: http://127.0.0.1:{port}/api/v1" in out
    token = re.search(r"^demo: admin token: (\S+)$", out, re.MULTILINE)
    assert token is not None
    assert len(token.group(1)) >= 24
    assert out.count("demo: subscribed wh_") == len(DIALECTS)
    summary = re.search(r"^receiver: (received .*)$", out, re.MULTILINE)
    assert summary is not None, out[-2000:]
    got = counts(summary.group(1))
    assert {d for d in DIALECTS if got.get(d, 0) > 0} == set(DIALECTS), summary.group(1)
    assert "unknown" not in got
    assert re.search(r"signatures OK \d+$", summary.group(1)), "the signed dialect must verify, and only OK"
    assert "auth basic demo OK" in out
    assert "auth basic demo BAD" not in out
    assert re.search(r"^event    call\.new ", out, re.MULTILINE)
    assert re.search(r"^demo: stopped after \d+\.\d+s: [1-9]\d* calls", out, re.MULTILINE)
    # the temporary database and directory are gone, nothing was written to the working directory
    assert list(tmp_path.iterdir()) == []
    assert token.group(1) not in done.stderr


def test_demo_stops_cleanly_on_sigint_and_serves_the_api_meanwhile(tmp_path: Path, running: list[Running]) -> None:
    port = free_port()
    db = tmp_path / "kept.db"
    demo = start(
        running, "demo", "--listen", f"127.0.0.1:{port}", "--no-ui", "--rate", "1", "--db", str(db), cwd=tmp_path
    )
    token = demo.wait_for(r"^demo: admin token: (\S+)$").group(1)
    demo.wait_for(r"^demo: subscribed \S+ callhook ")
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        hooks = json.load(resp)
    assert sorted(h["dialect"] for h in hooks) == sorted(DIALECTS)
    assert [h["auth"]["username"] for h in hooks if h["dialect"] == "voipex"] == ["demo"]
    assert all("password" not in (h["auth"] or {}) for h in hooks)  # write-only: only has_password
    assert [h["auth"]["has_password"] for h in hooks if h["dialect"] == "voipex"] == [True]
    rc, out = demo.stop(signal.SIGINT)
    assert rc == 0, demo.stderr[-3000:]
    assert re.search(r"^receiver: received \d+ requests", out, re.MULTILINE)
    assert db.exists(), "--db keeps the database"


def test_demo_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli("demo", "--listen", f"127.0.0.1:{port}", "--duration", "5", "--no-ui", cwd=tmp_path)
    assert done.returncode == 2
    assert f"--listen: 127.0.0.1:{port} is in use" in done.stderr

"""``callhook serve`` for operators: a taken port is one clear error, JSON logs, the access log."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from pathlib import Path

from test_cli_support import Running, cli, free_port, running, start  # noqa: F401

TOKEN = "serve-ops-admin-token-0123456789"


def wait_healthy(url: str, hub: Running, within: float = 30.0) -> None:
    """Poll /healthz with a deadline (the hub logs to stderr, in JSON, so there is no line to wait for)."""
    deadline = time.monotonic() + within
    while True:
        assert hub.proc.poll() is None, hub.stderr
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the hub did not become healthy"
        time.sleep(0.05)


def test_a_port_in_use_is_one_clear_error_before_anything_listens(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cli("serve", "--listen", f"127.0.0.1:{port}", "--db", f"sqlite:///{tmp_path / 'h.db'}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"callhook: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "listening" not in done.stdout + done.stderr
    assert "admin token" not in done.stdout  # nothing was started
    assert not (tmp_path / "h.db").exists()


def test_json_logs_and_the_access_log(tmp_path: Path, running: list[Running]) -> None:
    port = free_port()
    hub = start(
        running,
        "--log-format",
        "json",
        "serve",
        "--listen",
        f"127.0.0.1:{port}",
        "--db",
        f"sqlite:///{tmp_path / 'h.db'}",
        "--access-log",
        cwd=tmp_path,
        env={"CALLHOOK_ADMIN_TOKEN": TOKEN},
    )
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, hub)
    req = urllib.request.Request(f"{url}/api/v1/webhooks", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
    rc, _ = hub.stop(signal.SIGTERM)
    assert rc == 0
    records = [json.loads(line) for line in hub.stderr.splitlines() if line.strip()]  # every line is JSON
    listening = [r for r in records if r["message"].startswith("listening on")]
    assert [r["logger"] for r in listening] == ["callhook.serve"]
    access = [r for r in records if r["logger"] == "callhook.access"]
    paths = {(r["method"], r["path"], r["status"]) for r in access}
    assert ("GET", "/healthz", 200) in paths
    assert ("GET", "/api/v1/webhooks", 200) in paths
    assert all(r["ts"].endswith("+00:00") for r in records)

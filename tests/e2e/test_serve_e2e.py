"""End to end: a fake Asterisk replays a recording -> `callhook serve` (a subprocess) ->
webhooks created through the API -> a local receiver gets the events in each dialect.

Expected events are written from the scenario's truth (inbound_direct_answered: 604198497
calls DID 910104219, extension 20 answers, 20 hangs up) and seed 000/003.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from labdata import FIXTURES, truth
from replay_ami import ReplayAmi

TOKEN = "e2e-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _take(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                outer.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _take

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, path: str) -> list[dict[str, Any]]:
        out = []
        for r in self.requests:
            if urlsplit(r["path"]).path != path:
                continue
            if r["body"].startswith(b"{"):
                out.append(json.loads(r["body"]))
            else:
                out.append(dict(parse_qsl(urlsplit(r["path"]).query, keep_blank_values=True)))
        return out


def api(port: int, method: str, path: str, body: Any = None, token: str = TOKEN) -> tuple[int, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except OSError:  # not listening yet
        return 0, None


def wait(pred: Any, within: float = 20.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[ReplayAmi, Receiver, int, subprocess.Popen[bytes]]]:
    ami = ReplayAmi(FIXTURES / "inbound_direct_answered.ami").start()
    receiver = Receiver()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env["CALLHOOK_ADMIN_TOKEN"] = TOKEN
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callhook",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            f"sqlite:///{tmp_path / 'callhook.db'}",
            "--ami",
            f"ami://lab:labsecret@127.0.0.1:{ami.port}",
            "--directory",
            str(FIXTURES / "lab-directory.json"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        yield ami, receiver, port, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        receiver.server.shutdown()
        receiver.server.server_close()
        ami.stop()


def test_recording_to_webhooks_in_two_dialects(world: tuple[ReplayAmi, Receiver, int, Any]) -> None:
    ami, receiver, port, proc = world
    assert wait(lambda: api(port, "GET", "/healthz")[0] == 200 if proc.poll() is None else True)
    assert proc.poll() is None
    assert wait(lambda: ami.logins == [True])
    base = f"http://127.0.0.1:{receiver.port}"
    st, voipex = api(
        port,
        "POST",
        "/api/v1/webhooks",
        {
            "url": base + "/voipex",
            "dialect": "voipex",
            "auth": {"type": "basic", "username": "crm", "password": "e2e-basic-pw-31"},
        },
    )
    assert st == 201
    assert "e2e-basic-pw-31" not in json.dumps(voipex)
    assert voipex["auth"] == {"type": "basic", "username": "crm", "has_password": True}
    st, _ = api(port, "POST", "/api/v1/webhooks", {"url": base + "/pbx2is", "dialect": "pbx2is", "method": "GET"})
    assert st == 201
    time.sleep(1.2)  # let the accepter see the new subscriptions
    ami.go()
    assert wait(
        lambda: (
            any(r.get("event") == "endcall" for r in receiver.of("/pbx2is"))
            and any(r.get("EventName") == "CDR" for r in receiver.of("/voipex"))
        )
    )
    t = truth("inbound_direct_answered")["truth"]
    names = [(r["EventName"], r.get("Line"), r.get("Reason")) for r in receiver.of("/voipex")]
    assert names == [
        ("NewCall", None, None),
        ("Ringing", t["answered_by"], None),
        ("Answered", t["answered_by"], None),
        ("Hangup", t["answered_by"], "Normal Clearing"),
        ("CDR", t["answered_by"], None),
    ]
    assert receiver.of("/voipex")[0]["From"] == t["caller"]
    assert receiver.of("/voipex")[0]["To"] == t["did"]
    auth = {r["headers"].get("authorization") for r in receiver.requests if r["path"] == "/voipex"}
    assert auth == {"Basic " + base64.b64encode(b"crm:e2e-basic-pw-31").decode()}
    assert [r["event"] for r in receiver.of("/pbx2is")] == ["dial", "answer_internal", "hangup_internal", "endcall"]
    assert all(r["method"] == "GET" for r in receiver.requests if r["path"].startswith("/pbx2is"))


def test_bad_ami_credentials_exit_non_zero_without_retrying(tmp_path: Path) -> None:
    ami = ReplayAmi(FIXTURES / "inbound_direct_answered.ami", secret="other").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env["CALLHOOK_ADMIN_TOKEN"] = TOKEN
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "callhook",
                "serve",
                "--listen",
                f"127.0.0.1:{free_port()}",
                "--db",
                f"sqlite:///{tmp_path / 'c.db'}",
                "--ami",
                f"ami://lab:labsecret@127.0.0.1:{ami.port}",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
        )
    finally:
        ami.stop()
    assert proc.returncode != 0
    assert b"auth" in proc.stderr.lower()
    assert ami.logins == [False]  # one attempt: no retry storm

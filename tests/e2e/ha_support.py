"""What the scale-out tests share: a simulated PBX (the simulator's AMI server, in a
thread), a webhook receiver, and ``callhook serve`` processes on one database."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from callhook.core.directory import Directory
from callhook.sources.simulator.load import Load
from callhook.sources.simulator.server import ServerConfig, SimulatorServer
from callhook.sources.simulator.simulation import Simulation

from labdata import FIXTURES

TOKEN = "ha-admin-token-0123456789"
DIRECTORY = FIXTURES / "lab-directory.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(pred: Callable[[], Any], within: float = 20.0, step: float = 0.1) -> Any:
    """Poll ``pred`` until it is truthy (its value) or ``within`` seconds passed (None)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(step)
    return None


class SimPbx:
    """The simulated PBX in a thread of its own, with a bounded call-centre load."""

    def __init__(self, load: Load, seed: int = 12) -> None:
        directory = Directory.from_mapping(json.loads(DIRECTORY.read_text()))
        self.sim = Simulation(directory, start=time.time(), seed=seed, load=load)
        self.loop = asyncio.new_event_loop()
        self.server = SimulatorServer(
            self.sim, ServerConfig(host="127.0.0.1", port=0, username="lab", secret="labsecret")
        )
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start())
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert started.wait(10)
        self.port = self.server.port

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the simulator's loop (its state is the loop's)."""

        async def on_loop() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(on_loop(), self.loop).result(10)

    def sessions(self) -> int:
        return int(self.call(lambda: sum(1 for s in self.server.sessions if s.logged_in)))

    def channels(self) -> int:
        return int(self.call(lambda: len(self.sim.pbx.channels)))

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class Receiver:
    """Webhooks in: each request's ``webhook-id`` and JSON body, in arrival order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                with outer.lock:
                    outer.got.append((self.headers.get("webhook-id", ""), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return list(self.got)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def api(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")
    except OSError:  # not listening (yet, or any more)
        return 0, None


class Serve:
    """One ``callhook serve`` subprocess; its output goes to a file (read on failure)."""

    def __init__(
        self, tmp: Path, name: str, db: str, ami_port: int, config_file: Path | None = None, **env: str
    ) -> None:
        """``config_file``: the PBXs and directories from that TOML file instead of
        ``--ami`` (of ``ami_port``) and ``--directory``."""
        self.name, self.port = name, free_port()
        sources = (
            ["--config", str(config_file)]
            if config_file is not None
            else ["--ami", f"ami://lab:labsecret@127.0.0.1:{ami_port}", "--directory", str(DIRECTORY)]
        )
        self.log = tmp / f"{name}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
        environ.update(
            {
                "CALLHOOK_ADMIN_TOKEN": TOKEN,
                "CALLHOOK_ELECTION_POLL": "0.5",
                # deliveries a killed process had claimed go out again from another within ~6 s
                "CALLHOOK_DELIVERY_LEASE": "5",
                **env,
            }
        )
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "callhook",
                    "serve",
                    "--listen",
                    f"127.0.0.1:{self.port}",
                    "--db",
                    db,
                    *sources,
                ],
                cwd=tmp,
                env=environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def health(self) -> dict[str, Any] | None:
        if self.proc.poll() is not None:
            return None
        status, body = api(self.port, "GET", "/healthz")
        return body if status == 200 else None

    def holds(self) -> bool:
        h = self.health()
        return bool(h and h["ami"]["held"] and h["ami"]["connected"])

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

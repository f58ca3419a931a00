"""The world the browser tests run in, shared by them (one per session, ~3 s to start):

    SimulatorServer (AMI, in a thread of this process, real time)
        --AMI--> `callhook serve` (a subprocess; SQLite in a temp dir)
        --webhooks--> Receiver (HTTP in a thread; answers 500 while ``failing``)
    Chromium (Debian's /usr/bin/chromium, headless, through Playwright) --> the dashboard

The PBX directory is the lab's plus extension 30 of another tenant ("other"), so a
tenant token can be shown not to see the lab's calls. Without /usr/bin/chromium the
tests skip, unless ``CALLHOOK_REQUIRE_BROWSER=1`` (CI): then they fail.
``CALLHOOK_SCREENSHOTS=1`` writes the screenshots to docs/img/ (else to a temp dir).
"""

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
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from callhook.core.directory import Directory
from callhook.sources.simulator import Simulation
from callhook.sources.simulator.server import ServerConfig, SimulatorServer

from labdata import FIXTURES, REPO

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = "dashboard-admin-token-0123456789"
LAB = "dashboard-lab-tenant-token-0123"
OTHER = "dashboard-other-tenant-token-01"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
WAIT_MS = 15_000


def directory_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "lab-directory.json").read_text())
    for ext in data["extensions"]:
        ext["tenant"] = "lab"
    data["extensions"].append(
        {"number": "30", "name": "Olga Other", "login": "olga", "channel": "IAX2/30", "tenant": "other"}
    )
    data["dids"]["910104230"] = "extension 30"
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(pred: Callable[[], Any], within: float = 15.0, what: str = "condition") -> Any:
    """Poll a condition of the world outside the browser (the browser waits on its own selectors)."""
    end = time.monotonic() + within
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Pbx:
    """The simulated Asterisk, run on its own event loop in a thread."""

    def __init__(self, directory: Directory) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = SimulatorServer(Simulation(directory, start=time.time(), seed=7), ServerConfig(speed=1.0))
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._call(self.server.start())

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    @property
    def port(self) -> int:
        return self.server.port

    def play(self, name: str, **params: Any) -> str:
        done: Future[str] = Future()

        def go() -> None:
            try:
                done.set_result(self.server.play(name, **params))
            except Exception as exc:  # surfaced in the test thread
                done.set_exception(exc)

        self.loop.call_soon_threadsafe(go)
        return done.result(10)

    def close(self) -> None:
        self._call(self.server.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


class Receiver:
    """A webhook receiver that answers 500 while ``failing``, else 200 (or ``statuses[path]``);
    it records everything."""

    def __init__(self) -> None:
        self.failing = False
        self.statuses: dict[str, int] = {}
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                status = 500 if outer.failing else outer.statuses.get(self.path, 200)
                outer.requests.append(
                    {"path": self.path, "body": body, "status": status, "id": self.headers.get("webhook-id", "")}
                )
                self.send_response(status)
                reply = b"boom" if status >= 400 else b""
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class World:
    """``branch``: a second simulated PBX ("branch", with a directory of its own) next to
    the first ("hq"), both read by the one serve process through ``[[pbx]]`` tables."""

    def __init__(self, tmp: Path, *, branch: bool = False) -> None:
        self.tmp = tmp
        data = directory_data()
        (tmp / "directory.json").write_text(json.dumps(data), encoding="utf-8")
        self.pbx = Pbx(Directory.from_mapping(data))
        self.branch = Pbx(Directory.from_mapping(data)) if branch else None
        ami = f"ami://lab:labsecret@127.0.0.1:{self.pbx.port}"
        sources = ["--ami", ami, "--directory", str(tmp / "directory.json")]
        if self.branch is not None:
            (tmp / "branch.json").write_text(json.dumps(data), encoding="utf-8")
            (tmp / "callhook.toml").write_text(
                f'directory = "{tmp / "directory.json"}"\n\n'
                f'[[pbx]]\nname = "hq"\nami = "ami://lab:labsecret@127.0.0.1:{self.pbx.port}"\n\n'
                f'[[pbx]]\nname = "branch"\nami = "ami://lab:labsecret@127.0.0.1:{self.branch.port}"\n'
                f'directory = "{tmp / "branch.json"}"\n',
                encoding="utf-8",
            )
            sources = ["--config", str(tmp / "callhook.toml")]
        self.receiver = Receiver()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
        env.update(CALLHOOK_ADMIN_TOKEN=ADMIN, CALLHOOK_TENANT_TOKENS=f"lab:{LAB},other:{OTHER}")
        self.log = (tmp / "serve.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "callhook",
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--db",
                f"sqlite:///{tmp / 'callhook.db'}",
                *sources,
            ],
            cwd=tmp,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for(
            lambda: self.proc.poll() is not None or self.api("GET", "/healthz")[1].get("ami", {}).get("connected"),
            30,
            "callhook serve to connect to the simulator",
        )
        assert self.proc.poll() is None, (tmp / "serve.log").read_text()

    def api(self, method: str, path: str, body: Any = None, token: str = ADMIN) -> tuple[int, Any]:
        req = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw = resp.read()
                return resp.status, json.loads(raw) if raw else {}
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return 0, {}

    def ended_call(self, number: str) -> dict[str, Any] | None:
        items = self.api("GET", f"/api/v1/calls?number={number}")[1].get("items", [])
        return items[0] if items else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()
        self.receiver.close()
        self.pbx.close()
        if self.branch is not None:
            self.branch.close()


def require_browser() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CALLHOOK_REQUIRE_BROWSER") == "1":
            pytest.fail("CALLHOOK_REQUIRE_BROWSER=1 but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is missing (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_browser()
    w = World(tmp_path_factory.mktemp("dashboard"))
    try:
        yield w
    finally:
        w.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # module scope: Playwright's sync API runs an event loop in this thread until it stops,
    # and later tests call asyncio.run()
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def shots_dir(tmp_path: Path) -> Path:
    return REPO / "docs" / "img" if os.environ.get("CALLHOOK_SCREENSHOTS") == "1" else tmp_path


def new_page(browser: Any, *, width: int = 1280, height: int = 720, locale: str = "en-GB") -> Any:
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale=locale, timezone_id="Europe/Prague")
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


def sign_in(page: Any, world: World, token: str = ADMIN, name: str = "Supervisor") -> None:
    from playwright.sync_api import expect

    page.goto(world.base + "/")
    page.fill("#signin-token", token)
    page.fill("#signin-name", name)
    page.click("#signin-form button[type=submit]")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#view-wallboard")).to_be_visible()

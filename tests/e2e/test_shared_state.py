"""Two `callhook serve` processes on one PostgreSQL database agree.

As behind a load balancer: a dashboard session made through one works through the
other, a one-time sign-in code used through one is refused by the other, a revoked
token's session ends on both, a directory edit made through one is in force on the
other within 2 s (and after a restart), and a webhook made through one is used by
the other within 2 s. No AMI: these processes serve the API and dispatch only.
"""

from __future__ import annotations

import http.cookies
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

ADMIN = "shared-state-admin-token-0123"
TOKEN_A = "acme-tenant-token-0123456789"
DIRECTORY = {
    "tenant": "acme",
    "extensions": [
        {"number": "20", "name": "Anna", "channel": "PJSIP/20"},
        {"number": "30", "name": "Gleb", "channel": "PJSIP/30", "tenant": "globex"},
    ],
    "dids": {"910104219": "main line"},
}


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(pred: Callable[[], Any], within: float = 20.0, what: str = "condition") -> Any:
    end = time.monotonic() + within
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def call(port: int, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    """(status, body, headers) of one request, redirects not followed."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, _json(raw), resp.headers
    except urllib.error.HTTPError as exc:
        return exc.code, _json(exc.read()), exc.headers
    except OSError:
        return 0, None, {}


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def bearer(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Serve:
    def __init__(self, db: str, tmp: Path, directory: Path) -> None:
        self.db, self.tmp, self.directory = db, tmp, directory
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
        env |= {"CALLHOOK_ADMIN_TOKEN": ADMIN, "CALLHOOK_TENANT_TOKENS": f"acme:{TOKEN_A}"}
        env["CALLHOOK_ALLOW_PRIVATE_NETWORKS"] = "true"
        args = ["--listen", f"127.0.0.1:{self.port}", "--db", self.db, "--directory", str(self.directory)]
        log = (self.tmp / f"serve-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callhook", "serve", *args], cwd=self.tmp, env=env, stdout=log, stderr=log
        )
        log.close()
        _until(lambda: self._up(), 30, f"serve on :{self.port}")
        return self

    def _up(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.tmp / f"serve-{self.port}.log").read_text()
            raise AssertionError(f"serve exited with {self.proc.returncode}:\n{log[-3000:]}")
        return bool(call(self.port, "GET", "/healthz")[0] == 200)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __call__(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        return call(self.port, method, path, body, headers)


class Receiver:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(json.loads(raw))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Several processes on one database is a PostgreSQL deployment: on SQLite a second
# `callhook serve` on the same file refuses to start (docs/deployment.md).
@pytest.fixture(params=[pytest.param("postgres", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Serve, Serve]]:
    db = request.getfixturevalue("pg_db_url")
    directory = tmp_path / "directory.json"
    directory.write_text(json.dumps(DIRECTORY))
    a = Serve(db, tmp_path, directory).start()  # the first one applies the migrations
    b = Serve(db, tmp_path, directory)
    try:
        b.start()
        yield a, b
    finally:
        a.stop()
        b.stop()


def _cookie(headers: Any) -> str:
    jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
    jar.load(headers["set-cookie"])
    return f"callhook_session={jar['callhook_session'].value}"


def test_sessions_and_codes_are_shared(pair: tuple[Serve, Serve]) -> None:
    a, b = pair
    st, session, headers = a("POST", "/dashboard/api/signin", {"token": ADMIN, "name": "Jana"})
    assert st == 200
    browser = {"Cookie": _cookie(headers), "X-Callhook-CSRF": session["csrf"]}
    assert b("GET", "/api/v1/calls/live", headers=browser)[0] == 200  # made on A, works on B
    assert b("GET", "/dashboard/api/session", headers=browser)[1]["name"] == "Jana"
    assert b("GET", "/api/v1/calls/live", headers={"Cookie": browser["Cookie"]})[0] == 403  # CSRF still checked
    assert b("POST", "/dashboard/api/signout", headers=browser)[0] == 200
    assert a("GET", "/dashboard/api/session", headers=browser)[1] == {"signed_in": False}  # ended on B: gone on A
    assert a("GET", "/api/v1/calls/live", headers=browser)[0] == 401

    # a one-time code: made on A, used on B, refused on A afterwards
    st, link, _ = a("POST", "/api/v1/dashboard-links", {"name": "wall"}, bearer(TOKEN_A))
    assert (st, link["tenant"]) == (201, "acme")
    st, _, headers = b("GET", link["path"])
    assert st == 303
    tenant_browser = {"Cookie": _cookie(headers)}
    assert a("GET", "/dashboard/api/session", headers=tenant_browser)[1]["tenant"] == "acme"
    st, page, headers = a("GET", link["path"])
    assert st == 400
    assert "Sign-in link expired" in page  # the page saying so and how to get a new link
    assert "set-cookie" not in headers
    assert b("GET", link["path"])[0] == 400

    # a token made through the API, signed in on B, revoked on A: the session ends on B at once
    st, made, _ = a("POST", "/api/v1/tokens", {"name": "desk", "tenant": "acme"}, bearer())
    assert st == 201
    # B knows a new token once it reads the token table again (within TOKEN_REFRESH, 2 s)
    signin = _until(lambda: (r := b("POST", "/dashboard/api/signin", {"token": made["token"]}))[0] == 200 and r, 5)
    _, session, headers = signin
    desk = {"Cookie": _cookie(headers), "X-Callhook-CSRF": session["csrf"]}
    assert a("GET", "/api/v1/calls/live", headers=desk)[0] == 200
    assert a("DELETE", f"/api/v1/tokens/{made['id']}", headers=bearer())[0] == 204
    assert b("GET", "/api/v1/calls/live", headers=desk)[0] == 401
    assert b("GET", "/dashboard/api/session", headers=desk)[1] == {"signed_in": False}


def test_directory_edits_reach_every_process_and_survive_a_restart(pair: tuple[Serve, Serve]) -> None:
    a, b = pair
    assert b("GET", "/api/v1/directory", headers=bearer())[1]["version"] == 0  # the file, unedited
    body = {"number": "20", "name": "Anna Karenina", "channel": "PJSIP/20"}
    st, _, _ = a("PUT", "/api/v1/directory/extensions/20", body, bearer())
    edited = time.monotonic()
    assert st == 200

    def seen() -> bool:
        got = b("GET", "/api/v1/directory/extensions/20", headers=bearer())[1]
        return bool(got and got.get("name") == "Anna Karenina")

    _until(seen, 10, "the edit on B")
    took = time.monotonic() - edited
    print(f"directory edit on A seen on B after {took:.2f}s")
    assert took < 2.0

    # B judges its own edits against the stored version: the number A just added is taken
    st, _, _ = a("POST", "/api/v1/directory/extensions", {"number": "21", "channel": "PJSIP/21"}, bearer())
    assert st == 201
    st, problem, _ = b("POST", "/api/v1/directory/extensions", {"number": "21", "channel": "PJSIP/22"}, bearer())
    assert st == 409, problem
    # the ownership rules as before: a tenant cannot see globex's 30, nor add an extension
    assert b("PUT", "/api/v1/directory/extensions/30", {"number": "30", "name": "x"}, bearer(TOKEN_A))[0] == 404
    assert b("POST", "/api/v1/directory/extensions", {"number": "22"}, bearer(TOKEN_A))[0] == 403
    st, mine, _ = b("PUT", "/api/v1/directory/extensions/20", {**body, "email": "anna@acme.example"}, bearer(TOKEN_A))
    assert (st, mine["email"]) == (200, "anna@acme.example")
    versions = _until(
        lambda: (v := a("GET", "/api/v1/directory/versions", headers=bearer())[1]) and len(v) == 3 and v, 5, "3"
    )
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["actor"] == "tenant acme (configured token)"
    assert a("GET", "/api/v1/directory/versions", headers=bearer(TOKEN_A))[0] == 403

    # a restart (of both) starts from the newest stored version, not the file
    a.stop()
    b.stop()
    a.start()
    d = a("GET", "/api/v1/directory", headers=bearer())[1]
    assert d["version"] == 3
    by_number = {e["number"]: e for e in d["extensions"]}
    assert by_number["20"]["name"] == "Anna Karenina"
    assert by_number["20"]["email"] == "anna@acme.example"
    assert "21" in by_number


def test_a_webhook_made_on_one_process_is_used_by_the_other_within_2s(pair: tuple[Serve, Serve]) -> None:
    a, b = pair
    rx = Receiver()
    try:
        warm = {"id": "01HXAMPQE0000000000000W000", "type": "call.new", "ts": "2024-05-06T08:59:00+00:00"}
        warm |= {"call_id": "before", "party": {"caller_num": "777", "called_num": "20"}}
        assert b("POST", "/ingest/callhook", warm, bearer())[0] == 200  # B has read the (empty) subscriptions now
        st, sub, _ = a("POST", "/api/v1/webhooks", {"url": rx.url, "dialect": "callhook"}, bearer())
        assert st == 201, sub
        made = time.monotonic()
        sent: dict[str, float] = {}
        n = 0
        deadline = made + 10
        while not rx.bodies and time.monotonic() < deadline:  # one event every 0.1 s, posted to B
            n += 1
            event_id = f"01HXAMPQE00000000000000{n:03d}"
            body = {
                "id": event_id,
                "type": "call.new",
                "ts": "2024-05-06T09:00:00+00:00",
                "call_id": f"shared-{n}",
                "party": {"caller_num": "777", "called_num": "20"},
            }
            sent[event_id] = time.monotonic() - made
            assert b("POST", "/ingest/callhook", body, bearer())[0] == 200
            time.sleep(0.1)
        _until(lambda: rx.bodies, 10, "a delivery")
        time.sleep(0.5)  # deliveries of different calls may arrive out of order: let the stragglers in
        assert warm["id"] not in {got["id"] for got in rx.bodies}  # made before the webhook: not for it
        earliest = min(sent[got["id"]] for got in list(rx.bodies))
        print(f"the earliest event delivered was posted {earliest:.2f}s after the webhook was made")
        assert earliest < 2.0
    finally:
        rx.close()

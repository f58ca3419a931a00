"""``callhook webhooks``, ``deliveries`` and ``simulate --target`` against a ``callhook serve`` subprocess."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_cli_support import TOKEN, Running, cli, free_port, start


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A serve on a free port with a temporary SQLite store, and two receivers: one good, one answering 500."""
    cwd = tmp_path_factory.mktemp("hub")
    port = free_port()
    procs: list[Running] = []
    try:
        serve = start(
            procs,
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--db",
            f"sqlite:///{cwd / 'hub.db'}",
            cwd=cwd,
            env={"CALLHOOK_ADMIN_TOKEN": TOKEN},
        )
        good = start(procs, "receive", "--port", "0", "--quiet", cwd=cwd)
        bad = start(procs, "receive", "--port", "0", "--quiet", "--status", "500", cwd=cwd)
        rx = r"listening on (http://127\.0\.0\.1:\d+)"
        env = {
            "CALLHOOK_URL": f"http://127.0.0.1:{port}",
            "CALLHOOK_TOKEN": TOKEN,
            "cwd": str(cwd),
            "good": good.wait_for(rx).group(1),
            "bad": bad.wait_for(rx).group(1),
        }
        for _ in range(100):  # the API answers
            if cli("webhooks", "list", "--json", cwd=cwd, env=env).returncode == 0:
                break
        else:
            raise AssertionError(f"serve did not come up: {serve.stderr}")
        yield env
    finally:
        for p in procs:
            p.kill()


def ch(hub: dict[str, str], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in hub.items() if k.startswith("CALLHOOK_")}
    return cli(*args, cwd=Path(hub["cwd"]), env=base | (env or {}))


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def add(hub: dict[str, str], url: str, *args: str) -> str:
    w = as_json(ch(hub, "webhooks", "add", url, "--json", *args))
    return str(w["id"])


def test_webhooks_add_list_remove(hub: dict[str, str]) -> None:
    done = ch(
        hub,
        "webhooks",
        "add",
        f"{hub['good']}/voipex",
        "--dialect",
        "voipex",
        "--auth",
        "crm:pa55word",
        "--description",
        "crm",
        "--event",
        "Ringing",
        "--event",
        "Hangup",
    )
    assert done.returncode == 0, done.stderr
    wid = re.fullmatch(r"added (wh_\w+): voipex POST http://\S+/voipex\n", done.stdout)
    assert wid is not None, done.stdout
    signed = add(hub, f"{hub['good']}/pbx2is", "--dialect", "pbx2is", "--secret", "s3cret-value")
    listed = {w["id"]: w for w in as_json(ch(hub, "webhooks", "list", "--json"))}
    assert listed[wid.group(1)]["auth"] == {"type": "basic", "username": "crm", "has_password": True}
    assert listed[wid.group(1)]["events"] == ["call.hangup", "call.ringing"]
    assert listed[signed]["method"] == "GET"
    assert listed[signed]["has_secret"] is True
    table = ch(hub, "webhooks", "list").stdout
    assert re.search(rf"{wid.group(1)} .* voipex .* basic .* crm", table)
    assert "pa55word" not in table
    assert "s3cret-value" not in table
    assert ch(hub, "webhooks", "remove", wid.group(1)).stdout == f"removed {wid.group(1)}\n"
    again = ch(hub, "webhooks", "remove", wid.group(1))
    assert again.returncode == 1
    assert f"404 no webhook '{wid.group(1)}'" in again.stderr
    ch(hub, "webhooks", "remove", signed)


class _Receiver:
    """A local webhook receiver in a thread: records every request, answers 200."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _post(hub: dict[str, str], path: str, body: Any) -> tuple[int, Any]:
    req = urllib.request.Request(
        hub["CALLHOOK_URL"] + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def test_webhooks_test_sends_to_that_webhook_only(hub: dict[str, str]) -> None:
    rx = _Receiver()
    try:
        one = add(
            hub,
            f"{rx.url}/one",
            "--dialect",
            "callhook",
            "--secret",
            "whsec_" + base64.b64encode(b"cli-ops-test-key-24-bytes").decode(),
        )
        other = add(hub, f"{rx.url}/other", "--dialect", "callhook")  # matches every event too
        done = ch(hub, "webhooks", "test", one)
        assert done.returncode == 0, done.stdout + done.stderr
        assert re.search(rf"^sent a test call\.new event \S+ to {one} only ", done.stdout, re.MULTILINE)
        assert re.search(r"^OK: delivery \d+ answered HTTP 200 in \d+ ms$", done.stdout, re.MULTILINE)
        assert [r["path"] for r in rx.requests] == ["/one"], "the other webhook must not get the test event"
        got = rx.requests[0]
        assert json.loads(got["body"])["party"]["caller_num"] == "000000000"
        assert got["headers"].get("webhook-signature", "").startswith("v1,")
        assert as_json(ch(hub, "deliveries", "list", "--webhook", other, "--json"))["items"] == []
        # the API route itself: the attempt's outcome and what was sent
        status, result = _post(hub, f"/api/v1/webhooks/{other}/test", {"wait": 10})
        assert status == 200, result
        assert result["ok"] is True
        assert result["webhook"] == other
        assert result["attempt"]["status"] == 200
        assert result["attempt"]["response_body"] == "ok"
        assert result["attempt"]["duration_ms"] > 0
        assert result["sent"]["method"] == "POST"
        assert result["sent"]["url"] == f"{rx.url}/other"
        assert json.loads(result["sent"]["body"])["id"] == result["event_id"]
        assert [r["path"] for r in rx.requests] == ["/one", "/other"]
        assert _post(hub, "/api/v1/webhooks/wh_nope/test", {})[0] == 404
        assert _post(hub, f"/api/v1/webhooks/{other}/test", {"wait": 61})[0] == 422
        missing = ch(hub, "webhooks", "test", "wh_nope")
        assert missing.returncode == 1
        assert "404 no webhook 'wh_nope'" in missing.stderr
        assert ch(hub, "webhooks", "test", one, "--wait", "-1").returncode == 2
        for w in (one, other):
            ch(hub, "webhooks", "remove", w)
    finally:
        rx.close()


def test_webhooks_test_says_why_a_test_failed(hub: dict[str, str]) -> None:
    bad = add(hub, f"{hub['bad']}/telphin", "--dialect", "telphin")
    failed = ch(hub, "webhooks", "test", bad, "--json")
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["event_type"] == "agent.login", "telphin carries agent events only"
    assert report["delivery"]["last_status"] == 500
    assert report["test"]["attempt"]["status"] == 500
    assert report["ok"] is False
    text = ch(hub, "webhooks", "test", bad)
    assert re.search(r"FAILED: delivery \d+ is pending: HTTP 500 .*callhook will retry it", text.stdout)
    status, body = _post(hub, f"/api/v1/webhooks/{bad}/test", {"wait": 0})
    assert status == 200
    assert body["ok"] is False
    ch(hub, "webhooks", "remove", bad)
    # a disabled webhook is refused with the reason
    off = add(hub, f"{hub['good']}/x", "--dialect", "callhook", "--disabled")
    refused = ch(hub, "webhooks", "test", off)
    assert refused.returncode == 1
    assert "is disabled" in refused.stderr
    ch(hub, "webhooks", "remove", off)


def test_deliveries_list_retry_replay(hub: dict[str, str]) -> None:
    wid = add(hub, f"{hub['good']}/webitel", "--dialect", "webitel")
    assert ch(hub, "webhooks", "test", wid).returncode == 0
    page = as_json(ch(hub, "deliveries", "list", "--webhook", wid, "--json"))
    assert [d["status"] for d in page["items"]] == ["done"]
    first = page["items"][0]["id"]
    assert re.search(
        rf"^│ {first} +│ {wid} .*│ done ", ch(hub, "deliveries", "list", "--webhook", wid).stdout, re.MULTILINE
    )
    refused = ch(hub, "deliveries", "retry", str(first))
    assert refused.returncode == 1
    assert "409" in refused.stderr
    assert "only a dead or expired" in refused.stderr
    assert as_json(ch(hub, "deliveries", "list", "--dead", "--webhook", wid, "--json"))["items"] == []
    replay = ch(hub, "deliveries", "replay", "--webhook", wid)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.splitlines() == ["replaying 1 deliveries", "replay: 1 new deliveries, 1 finished"]
    items = as_json(ch(hub, "deliveries", "list", "--webhook", wid, "--json"))["items"]
    assert [(d["status"], d["replay_of"]) for d in items] == [("done", first), ("done", None)]
    ch(hub, "webhooks", "remove", wid)


def test_simulate_target_posts_native_events(hub: dict[str, str]) -> None:
    wid = add(hub, f"{hub['good']}/all", "--dialect", "callhook")
    done = ch(hub, "simulate", "--target", hub["CALLHOOK_URL"], "--rate", "3", "--duration", "3", "--seed", "2")
    assert done.returncode == 0, done.stderr
    m = re.search(
        r"^simulate: \d+\.\ds: (\d+) calls, \d+ AMI messages, (\d+) events posted to "
        r"http://127\.0\.0\.1:\d+/ingest/callhook$",
        done.stdout,
        re.MULTILINE,
    )
    assert m is not None, done.stdout
    assert int(m.group(1)) >= 1
    assert int(m.group(2)) >= 1
    items = as_json(ch(hub, "deliveries", "list", "--webhook", wid, "--limit", "1000", "--json"))["items"]
    assert len(items) == int(m.group(2))
    refused = ch(
        hub,
        "simulate",
        "--target",
        hub["CALLHOOK_URL"],
        "--rate",
        "5",
        "--duration",
        "3",
        env={"CALLHOOK_TOKEN": "not-the-token-at-all"},
    )
    assert refused.returncode == 1
    assert "the hub refused the token" in refused.stderr
    assert "not-the-token" not in refused.stderr
    ch(hub, "webhooks", "remove", wid)


def test_ops_without_a_hub_or_token(hub: dict[str, str]) -> None:
    nobody = ch(hub, "webhooks", "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 1
    assert "cannot reach http://127.0.0.1:" in nobody.stderr
    denied = ch(hub, "deliveries", "list", "--token", "wrong-token-0123456789")
    assert denied.returncode == 1
    assert "401 the token was refused" in denied.stderr

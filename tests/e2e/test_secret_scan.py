"""The secrets of a run never come back out (issue 13): a real `callhook serve` at DEBUG, with
webhooks holding every kind of secret, delivers a recorded call; then every API answer, the
CLI's output and every log line are searched for each secret (and its encodings)."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography.fernet import Fernet
from test_serve_e2e import Receiver, api, free_port, wait

from labdata import FIXTURES
from replay_ami import ReplayAmi

TOKEN = "scan-admin-token-0123456789"
KEY = Fernet.generate_key().decode()
SKIP = {"/api/v1/stream", "/ingest/{dialect}", "/dial", "/hangup"}  # endless, or acts
SIGNING = "whsec_" + base64.b64encode(b"scan-signing-key-0123456789abcd").decode()
PLAIN = {
    "url password": "UrlPass0931",
    "query token": "QryTok7719",
    "basic password": "BasicPw5520",
    "header value": "HdrKey3384",
    "template key": "TplKey6642",
    "telphin url password": "TphPass1207",
    "signing secret": SIGNING,
    "signing key": SIGNING.removeprefix("whsec_"),
    "basic header": base64.b64encode(b"crm:BasicPw5520").decode(),
    "secret key": KEY,
    "admin token": TOKEN,
}


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[ReplayAmi, Receiver, int, subprocess.Popen[bytes]]]:
    ami = ReplayAmi(FIXTURES / "inbound_direct_answered.ami").start()
    receiver = Receiver()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env |= {"CALLHOOK_ADMIN_TOKEN": TOKEN, "CALLHOOK_SECRET_KEYS": KEY, "CALLHOOK_LOG_LEVEL": "DEBUG"}
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "callhook", "serve", "--listen", f"127.0.0.1:{port}"),
            *("--db", f"sqlite:///{tmp_path / 'callhook.db'}", "--ami", f"ami://lab:labsecret@127.0.0.1:{ami.port}"),
            *("--directory", str(FIXTURES / "lab-directory.json")),
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
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()
        receiver.server.shutdown()
        receiver.server.server_close()
        ami.stop()


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    forms = {name: {v, quote(v, safe=""), quote(v)} for name, v in secrets.items()}
    return [name for name, vs in forms.items() if any(v in text for v in vs)]


def _fill(template: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)


def test_no_secret_of_a_run_in_any_answer_cli_output_or_log_line(hub: tuple[Any, Receiver, int, Any]) -> None:
    ami, receiver, port, proc = hub
    assert wait(lambda: api(port, "GET", "/healthz", token=TOKEN)[0] == 200 if proc.poll() is None else True)
    assert wait(lambda: ami.logins == [True])
    base = f"127.0.0.1:{receiver.port}"
    answers: list[str] = []

    def call(method: str, path: str, body: Any = None) -> Any:
        """The answer's status and JSON (None for another type); its raw text is kept for the scan."""
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                st, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            st, raw, ctype = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        answers.append(f"{method} {path} {st} {raw.decode('utf-8', 'replace')}")
        return st, (json.loads(raw) if raw and "json" in ctype else None)

    st, voipex = call(
        "POST",
        "/api/v1/webhooks",
        {
            "url": f"http://crm:UrlPass0931@{base}/voipex?token=QryTok7719&x=1",
            "dialect": "voipex",
            "auth": {"type": "basic", "username": "crm", "password": "BasicPw5520"},
            "headers": {"X-Api-Key": "HdrKey3384"},
            "secret": SIGNING,
        },
    )
    assert st == 201, voipex
    st, pbx = call(
        "POST",
        "/api/v1/webhooks",
        {
            "url": f"http://{base}/",
            "dialect": "pbx2is",
            "url_template": f"http://{base}/pbx2is?apikey=TplKey6642&e={{event}}",
        },
    )
    assert st == 201, pbx
    st, tph = call(
        "POST",
        "/client/7/agent/local/20/event/",
        {"url": f"http://t:TphPass1207@{base}/t", "event_type": "agent-login", "method": "POST"},
    )
    assert st == 200, tph  # Telphin's answer
    st, made = api(port, "POST", "/api/v1/tokens", {"name": "scan", "tenant": "lab"}, token=TOKEN)  # shown once
    assert st == 201
    secrets = PLAIN | {"made token": made["token"]}
    ami.go()  # the recorded call, once the webhooks exist (creating one re-reads the subscriptions)
    assert wait(lambda: any(r.get("EventName") == "CDR" for r in receiver.of("/voipex")), 40)
    assert wait(lambda: any(r["path"].startswith("/pbx2is") for r in receiver.requests), 20)
    # the secrets were real: the receiver got them
    got = repr(receiver.requests)
    assert "HdrKey3384" in got
    assert "TplKey6642" in got
    assert "webhook-signature" in got

    ids = {
        "sub_id": voipex["id"],
        "call_id": "",
        "number": "20",
        "name": "NOC",
        "client_id": "7",
        "agent_type": "local",
        "agent_id": "20",
        "event_id": str(tph["id"]),
        "dialect": "pbx2is",
        "token_id": made["id"],
        "delivery_id": "1",
        "file": "none.wav",  # a recording download (no recordings served here: 404/422)
    }
    st, page = call("GET", "/api/v1/deliveries?limit=1000")
    assert page["items"]
    for d in page["items"]:
        call("GET", f"/api/v1/deliveries/{d['id']}")
    st, calls = call("GET", "/api/v1/calls")
    ids["call_id"] = calls["items"][0]["call_id"]
    st, doc = api(port, "GET", "/openapi.json", token=TOKEN)
    for template, ops in doc["paths"].items():  # every read route of the document
        if "get" not in ops or template in SKIP or template.startswith("/agent/"):
            continue
        call("GET", _fill(template, ids))
    for path in (
        f"/api/v1/webhooks/{pbx['id']}",
        "/api/v1/webhooks?tenant=",
        f"/client/7/agent/local/20/event/{tph['id']}",
    ):
        call("GET", path)
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    cli_env |= {"CALLHOOK_URL": f"http://127.0.0.1:{port}", "CALLHOOK_TOKEN": TOKEN, "CALLHOOK_LOG_LEVEL": "DEBUG"}
    outputs = []
    for args in (
        ["webhooks", "list"],
        ["webhooks", "list", "--json"],
        ["deliveries", "list"],
        ["deliveries", "list", "--json"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "callhook", *args],
            capture_output=True,
            text=True,
            env=cli_env,
            timeout=60,
            check=False,
        )
        assert out.returncode == 0, (args, out.stderr)
        outputs.append(out.stdout + out.stderr)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    log = stdout.decode() + stderr.decode()
    assert "listening on" in log  # the log was captured (CALLHOOK_LOG_LEVEL=DEBUG: every line callhook writes)
    assert "WARNING" not in log  # a key is set: no "stored unencrypted" warning
    the_cli = "\n".join(outputs)
    assert voipex["id"] in the_cli
    assert "crm:****@" in the_cli  # the CLI shows the masked URL
    for where, text in (("API", "\n".join(answers)), ("CLI", the_cli), ("log", log)):
        assert _leaks(text, secrets) == [], where
    assert _leaks(got, {"x": "HdrKey3384"}) == ["x"]  # the scan itself finds a secret where there is one

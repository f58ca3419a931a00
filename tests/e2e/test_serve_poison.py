"""End to end, the case of issue 11: an AMI header with an integer past 2**64
(``Position: 18446744073709551616``) once stopped all capture while ``/healthz`` said ok.
Through a real socket and `callhook serve`: the poisoned call and the call after it
both reach the webhook, the value clamped, and capture goes on.

Expected events from the truth of inbound_ringall_answered (777888999 -> queue NOC,
21 answers) and inbound_direct_answered (604198497 -> 20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from test_serve_e2e import TOKEN, Receiver, api, free_port, wait

from labdata import FIXTURES, truth
from replay_ami import ReplayAmi


def poisoned_stream(tmp: Path) -> Path:
    first = (FIXTURES / "inbound_ringall_answered.ami").read_bytes()
    assert b"\r\nPosition: 1\r\n" in first
    first = first.replace(b"\r\nPosition: 1\r\n", b"\r\nPosition: 18446744073709551616\r\n", 1)
    second = (FIXTURES / "inbound_direct_answered.ami").read_bytes()
    _banner, _, rest = second.partition(b"\r\n")
    _login, _, events = rest.partition(b"\r\n\r\n")
    path = tmp / "poisoned.ami"
    path.write_bytes(first + events)
    return path


def test_a_poisoned_header_does_not_stop_capture(tmp_path: Path) -> None:
    ami = ReplayAmi(poisoned_stream(tmp_path)).start()
    receiver = Receiver()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env["CALLHOOK_ADMIN_TOKEN"] = TOKEN
    cmd = [sys.executable, "-m", "callhook", "serve", "--listen", f"127.0.0.1:{port}"]
    cmd += ["--db", f"sqlite:///{tmp_path / 'callhook.db'}", "--ami", f"ami://lab:labsecret@127.0.0.1:{ami.port}"]
    cmd += ["--directory", str(FIXTURES / "lab-directory.json")]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait(lambda: api(port, "GET", "/healthz")[0] == 200 if proc.poll() is None else True)
        assert wait(lambda: ami.logins == [True])
        base = f"http://127.0.0.1:{receiver.port}"
        st, _ = api(port, "POST", "/api/v1/webhooks", {"url": base + "/webitel", "dialect": "webitel"})
        assert st == 201
        st, _ = api(port, "POST", "/api/v1/webhooks", {"url": base + "/voipex", "dialect": "voipex"})
        assert st == 201
        time.sleep(1.2)  # the accepter reads subscriptions again after its 1 s TTL (nothing to poll)
        ami.go()
        t1, t2 = truth("inbound_ringall_answered")["truth"], truth("inbound_direct_answered")["truth"]
        assert wait(lambda: sum(r.get("EventName") == "CDR" for r in receiver.of("/voipex")) == 2)
        cdrs = [r for r in receiver.of("/voipex") if r["EventName"] == "CDR"]
        # two calls: their webhooks do not wait for each other, so either may come first
        expected = {t1["caller"]: t1["answered_by"], t2["caller"]: t2["answered_by"]}
        assert {r["From"]: r["Line"] for r in cdrs} == expected
        joined = [r for r in receiver.of("/webitel") if r.get("event") == "Joined"]
        assert len(joined) == 1
        assert joined[0]["queue"] == t1["queue"]
        st, health = api(port, "GET", "/healthz")
        assert st == 200
        assert health["status"] == "ok"
        assert health["capture"]["unstored"] == 0
        st, calls = api(port, "GET", "/api/v1/calls")
        assert st == 200
        assert len(calls["items"]) == 2
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(15)
        receiver.server.shutdown()
        receiver.server.server_close()
        ami.stop()

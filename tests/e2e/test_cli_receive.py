"""``callhook receive``: what it prints for each dialect, signatures, and the failures it fakes."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import base64
import json
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

from test_cli_support import Running, running, start  # noqa: F401

from callhook.core.dialects.base import Request
from callhook.core.dialects.signing import sign

SECRET = "whsec_" + base64.b64encode(b"receive-test-key-0123456789").decode()


def _send(url: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, float]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
            return resp.status, time.monotonic() - t0
    except urllib.error.HTTPError as exc:
        exc.read()
        exc.close()
        return exc.code, time.monotonic() - t0


def _receiver(running: list[Running], tmp_path: Path, *args: str) -> tuple[Running, str]:
    proc = start(running, "receive", "--port", "0", *args, cwd=tmp_path)
    url = proc.wait_for(r"listening on (http://127\.0\.0\.1:\d+)").group(1)
    return proc, url


def test_receive_prints_each_dialect_and_checks_signatures(tmp_path: Path, running: list[Running]) -> None:
    proc, url = _receiver(running, tmp_path, "--secret", SECRET)
    voipex = json.dumps(
        {
            "EventName": "Ringing",
            "From": "777888999",
            "To": "20",
            "Line": "20",
            "UniqueId": "1795270964.1",
            "Direction": "incoming",
        }
    ).encode()
    auth = "Basic " + base64.b64encode(b"crm:hunter2-password").decode()
    assert _send(f"{url}/voipex", voipex, {"Content-Type": "application/json", "Authorization": auth})[0] == 200
    query = (
        "event=dial&ts=2026-11-21T14%3A22%3A44%2B00%3A00&call_id=1795270964.1&caller_type=external"
        "&caller_num=777888999&called_num=222333444"
    )
    assert _send(f"{url}/pbx2is?{query}")[0] == 200
    form = b"agent_id=7&agent_status=available&agent_type=local&extension_name=20%40lab&event_source=phone"
    assert _send(f"{url}/telphin", form, {"Content-Type": "application/x-www-form-urlencoded"})[0] == 200
    webitel = json.dumps({"event": "Joined", "queue": "NOC", "channel": "call"}).encode()
    assert _send(f"{url}/webitel", webitel, {"Content-Type": "application/json"})[0] == 200
    native = json.dumps(
        {
            "id": "01KAKXK0000000000000000000",
            "type": "call.new",
            "ts": "2026-11-21T14:22:44+00:00",
            "call_id": "1795270964.1",
            "party": {"caller_num": "777888999"},
        }
    ).encode()
    signed = sign(
        Request("POST", "/callhook", (("Content-Type", "application/json"),), native),
        SECRET,
        "01KAKXK0000000000000000000",
        int(time.time()),
    )
    assert _send(f"{url}/callhook", native, dict(signed.headers))[0] == 200
    forged = dict(signed.headers) | {"webhook-signature": "v1," + base64.b64encode(b"x" * 32).decode()}
    assert _send(f"{url}/callhook", native, forged)[0] == 200
    rc, out = proc.stop(signal.SIGINT)
    assert rc == 0, proc.stderr
    assert re.search(r"#1 POST /voipex +-> 200 +voipex +auth basic crm", out)
    assert "= call.ringing call=1795270964.1 777888999 -> 20 leg=20" in out
    assert '"EventName": "Ringing"' in out, "JSON bodies are printed indented"
    assert "hunter2" not in out
    assert "Authorization: [redacted]" in out
    assert re.search(r"#2 GET /pbx2is\?event=dial\S* +-> 200 +pbx2is", out)
    assert "= call.new call=1795270964.1 777888999 -> 222333444" in out
    assert "  caller_num = 777888999" in out, "a GET's query is printed as name = value"
    assert re.search(r"#3 POST /telphin +-> 200 +telphin", out)
    assert "= agent.login" in out
    assert re.search(r"#4 POST /webitel +-> 200 +webitel", out)
    assert "= queue.joined queue=NOC" in out
    assert re.search(r"#5 POST /callhook +-> 200 +callhook +signature OK", out)
    assert re.search(r"#6 POST /callhook +-> 200 +callhook +signature BAD \(no matching signature\)", out)
    summary = out.splitlines()[-1]
    assert summary == (
        "receive: received 6 requests: callhook 2, pbx2is 1, telphin 1, voipex 1, webitel 1; "
        "answered 200 x6; signatures BAD 1, OK 1"
    )


def test_receive_answers_the_status_it_is_told(tmp_path: Path, running: list[Running]) -> None:
    proc, url = _receiver(running, tmp_path, "--status", "500", "--quiet")
    assert _send(f"{url}/x", b'{"EventName": "NewCall"}', {"Content-Type": "application/json"})[0] == 500
    assert _send(f"{url}/y?hello=1")[0] == 500
    rc, out = proc.stop()
    assert rc == 0
    lines = out.splitlines()
    # --quiet: exactly one line per request (the banner, two requests, the summary)
    assert len(lines) == 4, out
    assert re.fullmatch(r"#1 POST /x +-> 500 +voipex +! UniqueId: required.*", lines[1]), "says why it did not decode"
    assert re.fullmatch(r"#2 GET /y\?hello=1 +-> 500 +unknown dialect.*", lines[2])
    assert lines[-1].endswith("answered 500 x2")


def test_receive_fails_at_random_with_a_seed_and_waits_with_a_delay(tmp_path: Path, running: list[Running]) -> None:
    proc, url = _receiver(running, tmp_path, "--fail-rate", "0.5", "--seed", "7", "--quiet")
    statuses = [_send(f"{url}/r{i}", b"{}")[0] for i in range(20)]
    assert set(statuses) == {200, 500}
    proc.stop()
    again, url2 = _receiver(running, tmp_path, "--fail-rate", "0.5", "--seed", "7", "--quiet")
    assert [_send(f"{url2}/r{i}", b"{}")[0] for i in range(20)] == statuses, "a seed repeats the failures"
    again.stop()
    slow, url3 = _receiver(running, tmp_path, "--delay", "0.5", "--quiet", "--duration", "20")
    status, took = _send(f"{url3}/slow", b"{}")
    assert status == 200
    assert took >= 0.5
    slow.stop()

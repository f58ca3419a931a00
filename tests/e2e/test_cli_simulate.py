"""``callhook simulate --ami-listen``: real AMI for a raw client; the summary at the end."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

from test_cli_support import Running, cli, free_port, running, start  # noqa: F401

from callhook.core.ami.codec import AmiParser
from callhook.core.ami.message import AmiMessage


def _read_until(sock: socket.socket, parser: AmiParser, want: str, timeout: float = 10.0) -> list[AmiMessage]:
    got: list[AmiMessage] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        data = sock.recv(65536)
        assert data, "the simulator closed the connection"
        got.extend(parser.feed(data))
        if any(m.event == want or m.response == want for m in got):
            return got
    raise AssertionError(f"no {want} within {timeout}s; got {[m.event or m.response for m in got][:20]}")


def test_simulate_serves_ami_to_a_raw_socket(tmp_path: Path, running: list[Running]) -> None:
    sim = start(
        running,
        "simulate",
        "--ami-listen",
        "127.0.0.1:0",
        "--rate",
        "3",
        "--duration",
        "5",
        "--scenario",
        "inbound_ringall_answered",
        cwd=tmp_path,
    )
    port = int(sim.wait_for(r"^simulate: AMI on 127\.0\.0\.1:(\d+) \(user lab\)").group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        parser = AmiParser()
        sock.sendall(b"Action: Login\r\nActionID: 1\r\nUsername: lab\r\nSecret: labsecret\r\n\r\n")
        got = _read_until(sock, parser, "Success")
        assert parser.banner == "Asterisk Call Manager/12.0.0"
        assert [m.get("ActionID") for m in got if m.response == "Success"] == ["1"]
        events = _read_until(sock, parser, "Newchannel")
        assert any(m.event == "Newchannel" and m.get("Linkedid") for m in events)
        rc, out = sim.finish(timeout=20)
    assert rc == 0, sim.stderr
    m = re.search(r"^simulate: \d+\.\ds: (\d+) calls, (\d+) AMI messages, 1 sessions \(peak 1\)$", out, re.MULTILINE)
    assert m is not None, out
    assert int(m.group(1)) >= 1
    assert int(m.group(2)) > int(m.group(1))


def test_simulate_refuses_a_bad_login_like_asterisk(tmp_path: Path, running: list[Running]) -> None:
    sim = start(running, "simulate", "--ami-listen", "127.0.0.1:0", "--rate", "0", "--duration", "10", cwd=tmp_path)
    port = int(sim.wait_for(r"AMI on 127\.0\.0\.1:(\d+)").group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        parser = AmiParser()
        sock.sendall(b"Action: Login\r\nActionID: 9\r\nUsername: lab\r\nSecret: wrong\r\n\r\n")
        got = _read_until(sock, parser, "Error")
    assert [m.get("Message") for m in got if m.response == "Error"] == ["Authentication failed"]
    rc, out = sim.stop()
    assert rc == 0
    assert "0 calls" in out


def test_simulate_target_that_is_not_there_is_a_clear_error(tmp_path: Path) -> None:
    done = cli(
        "simulate", "--target", f"http://127.0.0.1:{free_port()}", "--duration", "1", "--token", "x" * 20, cwd=tmp_path
    )
    assert done.returncode == 2
    assert "callhook simulate: cannot reach http://127.0.0.1:" in done.stderr
    assert "x" * 20 not in done.stderr + done.stdout

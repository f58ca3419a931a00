"""``callhook simulate --ami-listen``: real AMI for a raw client; the summary at the end."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import re
import signal
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


def test_simulate_runs_until_stopped_and_ctrl_c_with_a_client_is_clean(tmp_path: Path, running: list[Running]) -> None:
    """No --duration: it stands in for a PBX, so it runs until SIGINT; a logged-in client is no problem."""
    sim = start(running, "simulate", "--ami-listen", "127.0.0.1:0", "--rate", "2", cwd=tmp_path)
    head = sim.wait_for(r"^simulate: AMI on 127\.0\.0\.1:(\d+) .* until stopped; Ctrl-C to stop$")
    with socket.create_connection(("127.0.0.1", int(head.group(1))), timeout=5) as sock:
        parser = AmiParser()
        sock.sendall(b"Action: Login\r\nUsername: lab\r\nSecret: labsecret\r\n\r\n")
        _read_until(sock, parser, "Newchannel")
        assert sim.proc.poll() is None
        rc, out = sim.stop(signal.SIGINT)
    assert rc == 0
    assert re.search(r"^simulate: \d+\.\ds: \d+ calls, \d+ AMI messages, 1 sessions \(peak 1\)$", out, re.M), out
    assert "Traceback" not in sim.stderr
    assert "CancelledError" not in sim.stderr


def test_simulate_takes_the_user_and_its_eventfilters_from_a_manager_conf(
    tmp_path: Path, running: list[Running]
) -> None:
    conf = tmp_path / "manager.conf"
    conf.write_text(
        "[general]\nenabled = yes\n\n[crm]\nsecret = s3cret\nread = call\n"
        "eventfilter(action(exclude),name(Newstate)) =\n"
        "eventfilter(action(exclude),name(Hangup))\n",  # no '=': Asterisk ignores it, and so does the simulator
        encoding="utf-8",
    )
    sim = start(
        running,
        "simulate",
        "--ami-listen",
        "127.0.0.1:0",
        "--rate",
        "0",
        "--manager-conf",
        str(conf),
        cwd=tmp_path,
    )
    head = sim.wait_for(r"AMI on 127\.0\.0\.1:(\d+) \(user crm, 1 eventfilters\)")
    with socket.create_connection(("127.0.0.1", int(head.group(1))), timeout=5) as sock:
        parser = AmiParser()
        sock.sendall(b"Action: Login\r\nUsername: crm\r\nSecret: s3cret\r\n\r\n")
        _read_until(sock, parser, "Success")
        sock.sendall(b"Action: Originate\r\nChannel: IAX2/20\r\nExten: 777888999\r\nContext: click2dial\r\n\r\n")
        got = _read_until(sock, parser, "Hangup", timeout=30)
    sim.stop(signal.SIGINT)
    events = {m.event for m in got if m.event}
    assert "Newchannel" in events
    assert "Newstate" not in events  # the user's filter
    assert not events & {"VarSet", "Newexten", "FullyBooted", "QueueMemberStatus"}  # read = call only
    assert "No '=' (equal sign) in line 8 of manager.conf" in sim.stderr

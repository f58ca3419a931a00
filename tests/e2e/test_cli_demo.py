"""``callhook demo`` as a user runs it: the API address and token, calls flowing, every dialect received."""

# ruff: noqa: F811 -- the fixtures imported from test_cli_support are the test parameters

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_cli_support import Running, clean_env, cli, counts, free_port, running, start  # noqa: F401

DIALECTS = ("voipex", "pbx2is", "telphin", "webitel", "callhook")

pytestmark = pytest.mark.slow


def test_demo_runs_for_its_duration_and_every_dialect_is_received(tmp_path: Path) -> None:
    port = free_port()
    done = cli(
        "demo",
        "--listen",
        f"127.0.0.1:{port}",
        "--duration",
        "8",
        "--no-ui",
        "--rate",
        "2",
        "--seed",
        "1",
        cwd=tmp_path,
        timeout=45,
    )
    out = done.stdout
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"demo: API: http://127.0.0.1:{port}/api/v1" in out
    token = re.search(r"^demo: admin token: (\S+)$", out, re.MULTILINE)
    assert token is not None
    assert len(token.group(1)) >= 24
    assert out.count("demo: subscribed wh_") == len(DIALECTS)
    summary = re.search(r"^receiver: (received .*)$", out, re.MULTILINE)
    assert summary is not None, out[-2000:]
    got = counts(summary.group(1))
    assert {d for d in DIALECTS if got.get(d, 0) > 0} == set(DIALECTS), summary.group(1)
    assert "unknown" not in got
    assert re.search(r"signatures OK \d+$", summary.group(1)), "the signed dialect must verify, and only OK"
    assert "auth basic demo OK" in out
    assert "auth basic demo BAD" not in out
    assert re.search(r"^event    call\.new ", out, re.MULTILINE)
    assert re.search(r"^demo: stopped after \d+\.\d+s: [1-9]\d* calls", out, re.MULTILINE)
    # the temporary database and directory are gone, nothing was written to the working directory
    assert list(tmp_path.iterdir()) == []
    assert token.group(1) not in done.stderr


def test_demo_stops_cleanly_on_sigint_and_serves_the_api_meanwhile(tmp_path: Path, running: list[Running]) -> None:
    port = free_port()
    db = tmp_path / "kept.db"
    demo = start(
        running, "demo", "--listen", f"127.0.0.1:{port}", "--no-ui", "--rate", "1", "--db", str(db), cwd=tmp_path
    )
    token = demo.wait_for(r"^demo: admin token: (\S+)$").group(1)
    demo.wait_for(r"^demo: subscribed \S+ callhook ")
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/webhooks", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        hooks = json.load(resp)
    assert sorted(h["dialect"] for h in hooks) == sorted(DIALECTS)
    assert [h["auth"]["username"] for h in hooks if h["dialect"] == "voipex"] == ["demo"]
    assert all("password" not in (h["auth"] or {}) for h in hooks)  # write-only: only has_password
    assert [h["auth"]["has_password"] for h in hooks if h["dialect"] == "voipex"] == [True]
    rc, out = demo.stop(signal.SIGINT)
    assert rc == 0, demo.stderr[-3000:]
    assert re.search(r"^receiver: received \d+ requests", out, re.MULTILINE)
    assert db.exists(), "--db keeps the database"


def test_demo_on_a_port_in_use_says_so(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli("demo", "--listen", f"127.0.0.1:{port}", "--duration", "5", "--no-ui", cwd=tmp_path)
    assert done.returncode == 2
    assert f"--listen: 127.0.0.1:{port} is in use" in done.stderr


class Terminal:
    """``callhook demo`` in a pseudo-terminal of ``cols`` x ``rows``, its output read as it comes."""

    def __init__(self, tmp: Path, *args: str, cols: int = 80, rows: int = 24) -> None:
        import fcntl
        import pty
        import struct
        import termios

        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = clean_env({"TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callhook", "demo", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tmp,
            close_fds=True,
        )
        os.close(slave)
        self.data = b""

    @property
    def raw(self) -> str:
        return self.data.decode("utf-8", "replace")  # whole: a character may span two reads

    def read_until(self, pattern: str, within: float = 30.0) -> re.Match[str]:
        """The first match of ``pattern`` in the screen text (escape sequences removed) from now on."""
        start = len(self.text())
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = re.search(pattern, self.text()[start:], re.MULTILINE)
            if found is not None:
                return found
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    self.data += os.read(self.master, 65536)
                except OSError:
                    break
        raise AssertionError(f"no {pattern!r} on the screen within {within}s:\n{self.text()[-3000:]}")

    def text(self) -> str:
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", self.raw).replace("\r\n", "\n").replace("\r", "\n")

    def frame_heights(self) -> list[int]:
        """The height of each redraw of the live view (rich moves the cursor up over the last one)."""
        return [m.group(0).count("\x1b[1A") + 1 for m in re.finditer(r"(?:\x1b\[2K\x1b\[1A)+\x1b\[2K", self.raw)]

    def close(self) -> int:
        """SIGINT, reading the terminal meanwhile (a full terminal would block the demo); its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 30.0
        try:
            while self.proc.poll() is None and time.monotonic() < deadline:
                ready, _, _ = select.select([self.master], [], [], 0.2)
                if ready:
                    try:
                        self.data += os.read(self.master, 65536)
                    except OSError:
                        break
            return self.proc.wait(max(0.1, deadline - time.monotonic()))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(5)
            os.close(self.master)


def _get(url: str, token: str = "") -> tuple[int, str, dict[str, str]]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kw: object) -> None:
            return None

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as resp:
            return resp.status, resp.read().decode(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def test_demo_in_an_80x24_terminal_shows_a_whole_link_that_renews(tmp_path: Path) -> None:
    port = free_port()
    term = Terminal(tmp_path, "--listen", f"127.0.0.1:{port}", "--seed", "3")
    try:
        base = f"http://127.0.0.1:{port}"
        link_rx = rf"^│ dashboard +({re.escape(base)}/s/[A-Za-z0-9_-]{{16}}) +│$"
        link = term.read_until(link_rx).group(1)
        token = term.read_until(r"^│ token +(\S{24,}) +│$").group(1)
        shown_at = time.monotonic()
        # lively at once: calls within ten seconds
        term.read_until(r"^│ running +\d+s: [1-9]\d* calls", within=10.0)
        assert time.monotonic() - shown_at < 12.0
        assert _get(f"{base}/api/v1/webhooks", token)[0] == 200, "the token on the screen is whole"
        status, _, headers = _get(link)
        assert status == 303, "the link on the screen is whole and signs in"
        assert "callhook_session=" in headers.get("set-cookie", "")
        # used: the board shows a new link, and the old one says what to do
        fresh = term.read_until(link_rx, within=10.0).group(1)
        while fresh == link:
            fresh = term.read_until(link_rx, within=10.0).group(1)
        gone, page, _ = _get(link)
        assert gone == 400
        assert "This sign-in link no longer works" in page
        assert _get(fresh)[0] == 303
        # a running demo hands out a link on request too
        asked = cli("dashboard-link", "--url", base, "--token", token, cwd=tmp_path)
        assert asked.returncode == 0, asked.stderr
        assert re.fullmatch(rf"{re.escape(base)}/s/[A-Za-z0-9_-]{{16}}\n", asked.stdout), asked.stdout
        assert "works once, within 5 minutes" in asked.stderr
        assert _get(asked.stdout.strip())[0] == 303
        screen = [line for line in term.text().splitlines() if line[:1] in "╭│╰┏┃┡└" or line.startswith("live calls")]
        assert max(len(line) for line in screen) <= 80, max(screen, key=len)
        heights = term.frame_heights()
        assert heights, "the live view was drawn"
        assert max(heights) <= 24, max(heights)
    finally:
        assert term.close() == 0


def test_dashboard_link_without_a_hub_or_with_a_bad_token(tmp_path: Path) -> None:
    nobody = cli("dashboard-link", "--url", f"http://127.0.0.1:{free_port()}", "--token", "x" * 24, cwd=tmp_path)
    assert nobody.returncode == 1
    assert "callhook dashboard-link: cannot reach" in nobody.stderr

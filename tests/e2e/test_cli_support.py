"""What the CLI tests share: run ``python -m callhook`` as a subprocess, watch its output.

Every process runs in a temporary working directory with no ``CALLHOOK_*`` variable
from the caller's environment, listens on 127.0.0.1 only, and is stopped (SIGTERM,
then SIGKILL) when the test ends, whatever happened.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

TOKEN = "test-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLHOOK_")}
    env["COLUMNS"] = "200"
    env.update(extra or {})
    return env


def cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callhook", *args],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Running:
    """A ``callhook`` subprocess whose stdout is read line by line as it comes."""

    def __init__(self, *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "callhook", *args],
            cwd=cwd,
            env=clean_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []
        self._threads = [
            threading.Thread(target=self._pump, daemon=True),
            threading.Thread(target=self._pump_err, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def _pump_err(self) -> None:
        assert self.proc.stderr is not None
        self._err.extend(self.proc.stderr)

    @property
    def stderr(self) -> str:
        return "".join(self._err)

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first line (from now on, or already read) that matches ``pattern``."""
        rx = re.compile(pattern)
        for line in self.lines:
            if (m := rx.search(line)) is not None:
                return m
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                got = self._q.get(timeout=left)
            except queue.Empty:
                break
            if got is None:
                self._q.put(None)
                break
            self.lines.append(got)
            if (m := rx.search(got)) is not None:
                return m
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout}s; stdout:\n"
            + "\n".join(self.lines[-40:])
            + f"\nstderr:\n{self.stderr[-3000:]}"
        )

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        """Wait for the process to end; (exit status, all of stdout)."""
        rc = self.proc.wait(timeout=timeout)
        while (line := self._q.get(timeout=5)) is not None:
            self.lines.append(line)
        self._q.put(None)
        self._close()
        return rc, "\n".join(self.lines)

    def _close(self) -> None:
        for t in self._threads:
            t.join(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.finish(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[list[Running]]:
    """Processes a test starts are appended here; all are stopped at the end."""
    procs: list[Running] = []
    yield procs
    for p in procs:
        p.kill()


def start(procs: list[Running], *args: str, cwd: Path, env: Mapping[str, str] | None = None) -> Running:
    p = Running(*args, cwd=cwd, env=env)
    procs.append(p)
    return p


def counts(summary: str) -> dict[str, int]:
    """``received 9 requests: callhook 3, voipex 2, ...`` -> {"callhook": 3, "voipex": 2, ...}."""
    head = summary.partition("requests:")[2].partition(";")[0]
    out: dict[str, int] = {}
    for item in head.split(","):
        name, _, n = item.strip().rpartition(" ")
        if name:
            out[name] = int(n)
    return out

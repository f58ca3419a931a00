"""Shared fixtures: a throwaway PostgreSQL for the tests marked ``postgres``.

``pg_url`` (session): ``CALLHOOK_TEST_PG_URL`` when set; otherwise a cluster started
here (initdb + pg_ctl on 127.0.0.1, a free port, a temporary data directory; as the
``postgres`` user when running as root) and stopped at the end. No PostgreSQL
binaries: the tests skip, unless ``CALLHOOK_REQUIRE_PG=1`` (CI), then they fail.
``pg_db_url``: a fresh database per test.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]), reverse=True)
    return Path(dirs[0]) if dirs else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgCluster:
    """A throwaway PostgreSQL cluster of a test's own, which the test may restart."""

    def __init__(self, bindir: Path) -> None:
        self.bindir, self.base = bindir, Path(tempfile.mkdtemp(prefix="callhook-pg-"))
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.base, "postgres")
        self.data, self.port = self.base / "data", _free_port()
        initdb = ["-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]
        subprocess.run(
            [*self.prefix, str(bindir / "initdb"), *initdb],
            check=True,
            capture_output=True,
        )
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), *args], check=True, capture_output=True
        )

    def start(self) -> None:
        opts = (
            f"-k {self.base} -h 127.0.0.1 -p {self.port} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._ctl("-l", str(self.base / "log"), "-w", "-o", opts, "start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("-m", mode, "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[PgCluster]:
    """A cluster of the test's own (started), for tests that restart PostgreSQL."""
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("CALLHOOK_REQUIRE_PG") == "1":
            pytest.fail("CALLHOOK_REQUIRE_PG=1 but no PostgreSQL binaries (pg_ctl) were found")
        pytest.skip("no PostgreSQL binaries found")
    cluster = PgCluster(bindir)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    given = os.environ.get("CALLHOOK_TEST_PG_URL")
    if given:
        yield given
        return
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("CALLHOOK_REQUIRE_PG") == "1":
            pytest.fail("CALLHOOK_REQUIRE_PG=1 but no PostgreSQL binaries (pg_ctl) were found")
        pytest.skip("no PostgreSQL binaries found (set CALLHOOK_TEST_PG_URL or install postgresql)")
    base = Path(tempfile.mkdtemp(prefix="callhook-pg-"))
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
    data, port = base / "data", _free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    opts = (
        f"-k {base} -h 127.0.0.1 -p {port} -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o", opts, "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_db_url(pg_url: str) -> Iterator[str]:
    import psycopg

    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url, sep, query = pg_url.partition("?")
    base, _, _ = url.rpartition("/")
    try:
        yield f"{base}/{name}{sep}{query}"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

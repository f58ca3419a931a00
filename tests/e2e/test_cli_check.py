"""``callhook check``: each check passes or fails on its own, with a message that says why."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from test_cli_support import Running, cli, free_port, start

from callhook.store import open_store


@pytest.fixture(scope="module")
def ami_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    cwd = tmp_path_factory.mktemp("ami")
    procs: list[Running] = []
    sim = start(procs, "simulate", "--ami-listen", "127.0.0.1:0", "--rate", "0", "--duration", "60", cwd=cwd)
    try:
        yield int(sim.wait_for(r"AMI on 127\.0\.0\.1:(\d+)").group(1))
    finally:
        sim.kill()


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hub.db'}"

    async def make() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(make())
    return url


def _directory() -> str:
    return str(resources.files("callhook.cli").joinpath("demo_directory.json"))


def _checks(stdout: str) -> dict[str, dict[str, object]]:
    return {c["name"]: c for c in json.loads(stdout)["checks"]}


def test_check_passes_a_good_configuration(tmp_path: Path, ami_port: int, store_url: str) -> None:
    done = cli(
        "check",
        "--ami",
        f"ami://lab:labsecret@127.0.0.1:{ami_port}",
        "--db",
        store_url,
        "--directory",
        _directory(),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:4]] == [
        ["config", "OK"],
        ["directory", "OK"],
        ["ami", "OK"],
        ["database", "OK"],
    ]
    assert "4 extensions, 1 trunks, 2 queues, 6 DIDs" in lines[1]
    assert "Asterisk Call Manager/12.0.0; logged in as 'lab' and off again" in lines[2]
    assert "0 webhooks, backlog 0, dead 0, expired 0" in lines[3]
    assert "ami://lab:***@127.0.0.1" in lines[0]
    assert "labsecret" not in done.stdout
    assert lines[-1] == "check: all OK"


def test_check_via_environment_and_json(tmp_path: Path, ami_port: int, store_url: str) -> None:
    env = {"CALLHOOK_AMI_URL": f"ami://lab:labsecret@127.0.0.1:{ami_port}", "CALLHOOK_DATABASE_URL": store_url}
    done = cli("check", "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is True
    assert str(_checks(done.stdout)["directory"]["message"]).startswith("none configured")


def test_check_reports_every_failure(tmp_path: Path, ami_port: int) -> None:
    bad_dir = tmp_path / "dir.json"
    bad_dir.write_text('{"extensions": [', encoding="utf-8")
    bad_db = tmp_path / "not-a.db"
    bad_db.write_bytes(b"this is not an SQLite database, not at all" * 4)
    done = cli(
        "check",
        "--json",
        "--ami",
        f"ami://lab:wrong@127.0.0.1:{ami_port}",
        "--db",
        f"sqlite:///{bad_db}",
        "--directory",
        str(bad_dir),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    checks = _checks(done.stdout)
    assert [n for n, c in checks.items() if not c["ok"]] == ["directory", "ami", "database"]
    assert "not valid JSON" in str(checks["directory"]["message"])
    assert "login refused for user 'lab': Authentication failed" in str(checks["ami"]["message"])
    assert "file is not a database" in str(checks["database"]["message"])
    assert "wrong" not in done.stdout


def test_check_ami_nobody_listening_and_a_missing_database_directory(tmp_path: Path) -> None:
    port = free_port()
    done = cli(
        "check",
        "--ami",
        f"ami://lab:labsecret@127.0.0.1:{port}",
        "--db",
        f"sqlite:///{tmp_path / 'no' / 'such.db'}",
        "--timeout",
        "2",
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert f"ami        FAIL  cannot connect to 127.0.0.1:{port}: Connection refused" in done.stdout
    assert "database   FAIL" in done.stdout
    assert "does not exist" in done.stdout
    assert done.stderr.strip().endswith("check: 2 failed: ami, database")


def test_check_a_configuration_error_is_exit_2(tmp_path: Path) -> None:
    done = cli("check", "--ami", "http://example.com", cwd=tmp_path)
    assert done.returncode == 2
    assert "configuration error: ami: expected ami://" in done.stderr

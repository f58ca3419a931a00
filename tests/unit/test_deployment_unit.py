"""docs/examples/callhook@.service is a unit systemd accepts (``systemd-analyze verify``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "docs" / "examples" / "callhook@.service"


def test_the_documented_unit_verifies(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    assert "ExecStart=/opt/callhook/bin/callhook serve" in text
    # the documented path does not exist here: point ExecStart at an executable that does
    (tmp_path / "callhook@.service").write_text(text.replace("/opt/callhook/bin/callhook", sys.executable))
    (tmp_path / "callhook@8081.service").symlink_to("callhook@.service")
    done = subprocess.run(
        [analyze, "verify", str(tmp_path / "callhook@8081.service")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "callhook@8081.service" not in done.stderr, done.stderr

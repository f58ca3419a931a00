"""Fixtures for the delivery engine: a store of each backend (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    if request.param == "sqlite":
        return str(tmp_path / "callhook.db")
    url: str = request.getfixturevalue("pg_db_url")
    return url

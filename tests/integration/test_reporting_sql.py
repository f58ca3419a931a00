"""The reporting tables on SQLite and PostgreSQL: filled as the events are stored,
queried with plain SQL, and giving the statistics API's numbers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_api_support import T0, Api, ended_call, make_api, queue_visit

from callhook.store.postgres import PostgresStore
from callhook.store.sqlite import SqliteStore


class Db:
    """Plain SQL on the store's database, as a BI tool would read it."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            conn = sqlite3.connect(f"file:{self.target}?mode=ro", uri=True)
            try:
                return [tuple(r) for r in conn.execute(sql)]
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.target) as pg:
            return [tuple(r) for r in pg.execute(sql).fetchall()]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Api, Db]]:
    if request.param == "sqlite":
        path = str(tmp_path / "r.db")
        yield from ((a, Db("sqlite", path)) for a in make_api(SqliteStore(path, synchronous="NORMAL")))
    else:
        url: str = request.getfixturevalue("pg_db_url")
        yield from ((a, Db("postgres", url)) for a in make_api(PostgresStore(url)))


def _load(api: Api) -> None:
    # NOC: 4 visits -- answered after 5 s (talk 60) and 30 s (talk 120), one abandoned, one cancelled
    api.accept(*queue_visit("q1", "NOC", wait=5, talk=60))
    api.accept(*queue_visit("q2", "NOC", wait=30, talk=120, at=timedelta(minutes=1)))
    api.accept(*queue_visit("q3", "NOC", wait=None, abandoned=True, at=timedelta(minutes=2)))
    api.accept(*queue_visit("q4", "NOC", wait=None, at=timedelta(minutes=3)))
    # Sales: 1 visit answered after 12 s
    api.accept(*queue_visit("q5", "Sales", wait=12, talk=30, at=timedelta(minutes=4)))
    # three ended calls: two answered, one missed
    api.accept(*ended_call("c1", "777", "20", answered=True, duration=60))
    api.accept(*ended_call("c2", "778", "21", answered=False, duration=25, at=timedelta(minutes=5)))
    api.accept(*ended_call("c3", "779", "20", answered=True, duration=100, at=timedelta(minutes=6)))


def test_queue_visits_give_the_statistics_apis_numbers(world: tuple[Api, Db]) -> None:
    api, db = world
    _load(api)
    r = api.get(
        "/api/v1/queues/stats",
        params={"since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat(), "service_level": 20},
    )
    assert r.status_code == 200, r.text
    by_api = {
        q["queue"]: (q["offered"], q["answered"], q["abandoned"], q["answered_within"], q["asa"], q["aht"])
        for q in r.json()["queues"]
        if q["offered"]
    }
    since, until = T0.timestamp(), (T0 + timedelta(hours=1)).timestamp()
    by_sql = {
        row[0]: (int(row[1]), int(row[2]), int(row[3]), int(row[4]), row[5], row[6])
        for row in db.rows(
            "SELECT queue, count(*), count(wait), sum(abandoned), "
            "sum(CASE WHEN wait <= 20 THEN 1 ELSE 0 END), avg(wait), avg(talk) "
            f"FROM report_queue_visits WHERE joined_at >= {since} AND joined_at < {until} GROUP BY queue"
        )
    }
    assert by_sql == by_api
    # the truth, from the visits above
    assert by_sql["NOC"] == (4, 2, 1, 1, 17.5, 90.0)
    assert by_sql["Sales"] == (1, 1, 0, 1, 12.0, 30.0)


def test_call_records_are_rows(world: tuple[Api, Db]) -> None:
    api, db = world
    _load(api)
    rows = db.rows(
        "SELECT call_id, duration, billsec, disposition, answered_by, source, destination, direction, "
        "answer_at IS NULL FROM report_calls ORDER BY start_at"
    )
    assert [r[:8] for r in rows] == [
        ("c1", 60, 55, "ANSWERED", "20", "777", "20", "incoming"),
        ("c2", 25, 0, "NO ANSWER", "", "778", "21", "incoming"),
        ("c3", 100, 95, "ANSWERED", "20", "779", "20", "incoming"),
    ]
    assert [bool(r[8]) for r in rows] == [False, True, False]
    # the same records as the CDR API
    cdrs = api.get("/api/v1/cdrs", params={"limit": 100}).json()["items"]
    assert sorted(c["call_id"] for c in cdrs) == ["c1", "c2", "c3"]
    # one row per call.record: the same event accepted again adds none
    api.accept(*ended_call("c9", "1", "2", answered=True))
    n = db.rows("SELECT count(*) FROM report_calls")[0][0]
    assert n == 4

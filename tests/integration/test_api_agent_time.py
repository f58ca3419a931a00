"""Agent time per day and queue through the statistics API and its CSV: login, paused
by reason, talk and idle seconds (the qpanel / QueueMetrics staples)."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from test_api_support import T0, Api, api, ev  # noqa: F401

from callhook.core.agent_time import agent_time
from callhook.core.events import AgentInfo, EventType, Leg, QueueCall

M = timedelta(minutes=1)


def _agent(etype: EventType, number: str, at: timedelta, reason: str = "", queue: str = "NOC") -> object:
    return ev(
        etype,
        tenant="acme",
        at=at,
        queue=queue,
        agent=AgentInfo(login=f"l{number}", number=number, pause_reason=reason),
    )


def _load(api: Api) -> None:
    api.accept(
        _agent(EventType.AGENT_LOGIN, "20", timedelta(0)),
        _agent(EventType.AGENT_PAUSED, "20", 10 * M, "lunch"),
        _agent(EventType.AGENT_UNPAUSED, "20", 40 * M),
        ev(EventType.QUEUE_BRIDGED, "q1", at=50 * M, queue="NOC", leg=Leg(number="20"), queue_call=QueueCall(wait=4)),
        ev(
            EventType.QUEUE_LEFT,
            "q1",
            at=55 * M,
            queue="NOC",
            leg=Leg(number="20"),
            queue_call=QueueCall(wait=4, call_voice_sec=300, cc_result="success"),
        ),
        _agent(EventType.AGENT_LOGOUT, "20", 60 * M),
        _agent(EventType.AGENT_LOGIN, "21", 30 * M),
        _agent(EventType.AGENT_PAUSED, "21", 100 * M),  # no reason given, still paused at the end
    )


def test_agent_time_per_day_and_queue(api: Api) -> None:
    _load(api)
    params = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=2)).isoformat()}
    r = api.get("/api/v1/agents/time", params=params)
    assert r.status_code == 200, r.text
    rows = {(x["extension"], x["queue"]): x for x in r.json()["rows"]}
    a = rows[("20", "NOC")]
    # logged in 60 min, 30 min at lunch, 5 min on a call: 25 min idle
    assert (a["day"], a["login"], a["paused"], a["talk"], a["idle"]) == ("2024-05-06", 3600, 1800, 300, 1500)
    assert a["paused_by_reason"] == {"lunch": 1800}
    b = rows[("21", "NOC")]
    # logged in from +30 min to the end of the range (+120): 90 min; paused the last 20
    assert (b["login"], b["paused"], b["talk"], b["idle"]) == (5400, 1200, 0, 4200)
    assert b["paused_by_reason"] == {"": 1200}
    csv_r = api.get("/api/v1/agents/time/csv", params=params)
    assert csv_r.status_code == 200
    assert csv_r.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(csv_r.text)))
    got = {(x["extension"], x["queue"]): x for x in lines}
    assert got[("20", "NOC")]["login"] == "3600.0"
    assert got[("20", "NOC")]["paused_by_reason"] == "lunch=1800"
    assert got[("21", "NOC")]["idle"] == "4200.0"
    assert api.get("/api/v1/agents/time", params={"since": "yesterday"}).status_code == 422


def test_a_login_across_midnight_is_split_by_day() -> None:
    events = [
        ev(EventType.AGENT_LOGIN, at=timedelta(hours=14, minutes=30), queue="NOC", agent=AgentInfo(number="30")),
        ev(EventType.AGENT_LOGOUT, at=timedelta(hours=15, minutes=30), queue="", agent=AgentInfo(number="30")),
    ]  # T0 is 09:00 UTC: 23:30 to 00:30
    start = datetime(2024, 5, 6, tzinfo=UTC)
    rows = agent_time(events, start, start + timedelta(days=2), UTC)
    assert [(r.day.isoformat(), r.queue, r.login, r.idle) for r in rows] == [
        ("2024-05-06", "NOC", 1800.0, 1800.0),
        ("2024-05-07", "NOC", 1800.0, 1800.0),
    ]

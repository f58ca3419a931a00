"""Calls (live and ended), one call's timeline, CDRs (JSON and CSV), agents, queues,
queue statistics and missed calls."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import csv
import io
from datetime import timedelta

from test_api_support import (  # noqa: F401
    T0,
    TOKEN_A,
    TOKEN_B,
    Api,
    api,
    ended_call,
    mapi,
    queue_visit,
)

from callhook.core.events import Direction
from callhook.core.tracker.agents import Member
from callhook.core.tracker.machine import LegState
from callhook.core.tracker.state import Call, Chan, QueueVisit


def _live(api: Api) -> None:
    """A call from outside queued in NOC ringing 20, and a globex internal call, in the tracker."""
    d = api.hub.directory
    tr = api.hub.pbxes[0].tracker
    c1 = Call(
        id="live-1",
        start=T0,
        first_uid="u1",
        caller_type="external",
        caller_num="777888999",
        called_num="222333444",
        direction=Direction.INCOMING,
        announced=True,
    )
    c1.channels["u1"] = Chan("u1", "PJSIP/trunk-0001", "live-1", T0, trunk=True)
    c1.channels["u2"] = Chan(
        "u2", "PJSIP/20-0002", "live-1", T0, ext=d.extension("20"), dialed=True, leg=LegState.RINGING
    )
    c1.visit = QueueVisit(queue="NOC", member_uid="u1", joined=T0, position=1)
    c2 = Call(
        id="live-2",
        start=T0 + timedelta(seconds=5),
        first_uid="u3",
        caller_type="internal",
        caller_num="30",
        called_num="777",
        caller_ext=d.extension("30"),
        announced=True,
    )
    c2.channels["u3"] = Chan(
        "u3", "PJSIP/30-0003", "live-2", T0, ext=d.extension("30"), leg=LegState.ANSWERED, answered_at=T0
    )
    tr.calls.update({"live-1": c1, "live-2": c2})
    tr.chans.update({ch.uid: ch for c in (c1, c2) for ch in c.channels.values()})
    tr.agents.members[("NOC", "pjsip/20")] = Member("NOC", "PJSIP/20", "jana", since=T0)
    tr.agents.members[("NOC", "pjsip/21")] = Member("NOC", "PJSIP/21", "petr", paused=True, reason="lunch")
    tr.agents.members[("SALES", "pjsip/30")] = Member("SALES", "PJSIP/30", "olga", in_call=True)


def test_live_calls_per_tenant(mapi: Api) -> None:
    _live(mapi)
    calls = mapi.get("/api/v1/calls/live").json()
    assert [c["call_id"] for c in calls] == ["live-1", "live-2"]
    first = calls[0]
    assert (first["state"], first["queue"], first["direction"]) == ("ringing", "NOC", "incoming")
    assert [(leg["extension"], leg["state"]) for leg in first["legs"]] == [("20", "ringing")]
    assert [c["call_id"] for c in mapi.get("/api/v1/calls/live", TOKEN_A).json()] == ["live-1"]
    assert [c["call_id"] for c in mapi.get("/api/v1/calls/live", TOKEN_B).json()] == ["live-2"]
    r = mapi.get("/api/v1/calls/live-2")
    assert r.status_code == 200
    assert r.json()["live"]["state"] == "talking"
    assert r.json()["events"] == []
    assert mapi.get("/api/v1/calls/live-2", TOKEN_A).status_code == 404


def test_ended_calls_and_timeline(api: Api) -> None:
    api.accept(*ended_call("c1", "777888999", "20", answered=True))
    api.accept(*ended_call("c2", "604198497", "21", answered=False, at=timedelta(minutes=5)))
    api.accept(
        *ended_call(
            "c3", "30", "777", answered=True, tenant="globex", direction=Direction.OUTGOING, at=timedelta(minutes=9)
        )
    )
    calls = api.get("/api/v1/calls").json()
    assert [c["call_id"] for c in calls["items"]] == ["c3", "c2", "c1"]
    assert calls["items"][1]["missed"] is True
    assert calls["items"][2]["answering_exten"] == "20"
    assert [c["call_id"] for c in api.get("/api/v1/calls", TOKEN_A).json()["items"]] == ["c2", "c1"]
    assert [c["call_id"] for c in api.get("/api/v1/calls", params={"number": "777888999"}).json()["items"]] == ["c1"]
    assert [c["call_id"] for c in api.get("/api/v1/calls", params={"answered": False}).json()["items"]] == ["c2"]
    window = {"since": (T0 + timedelta(minutes=2)).isoformat(), "until": (T0 + timedelta(minutes=8)).isoformat()}
    assert [c["call_id"] for c in api.get("/api/v1/calls", params=window).json()["items"]] == ["c2"]
    page = api.get("/api/v1/calls", params={"limit": 2}).json()
    rest = api.get("/api/v1/calls", params={"before": page["next_cursor"]}).json()
    assert [c["call_id"] for c in page["items"] + rest["items"]] == ["c3", "c2", "c1"]
    t = api.get("/api/v1/calls/c1").json()
    assert [e["type"] for e in t["events"]] == ["call.new", "call.ended", "call.record"]
    assert t["live"] is None
    assert api.get("/api/v1/calls/c1", TOKEN_B).status_code == 404
    assert api.get("/api/v1/calls/nope").status_code == 404


def test_cdrs_filters_and_csv(api: Api) -> None:
    api.accept(*ended_call("c1", "777888999", "20", answered=True))
    api.accept(*ended_call("c2", "604198497", "21", answered=False, at=timedelta(minutes=5)))
    api.accept(*ended_call("c3", "=1+2", "30", answered=True, by="30", tenant="globex", at=timedelta(minutes=9)))
    rows = api.get("/api/v1/cdrs").json()["items"]
    assert [r["call_id"] for r in rows] == ["c3", "c2", "c1"]
    assert rows[2]["disposition"] == "ANSWERED"
    assert rows[2]["billsec"] == 55
    assert [r["call_id"] for r in api.get("/api/v1/cdrs", params={"disposition": "no answer"}).json()["items"]] == [
        "c2"
    ]
    assert [r["call_id"] for r in api.get("/api/v1/cdrs", params={"extension": "20"}).json()["items"]] == ["c1"]
    assert [r["call_id"] for r in api.get("/api/v1/cdrs", params={"number": "604198497"}).json()["items"]] == ["c2"]
    assert [r["call_id"] for r in api.get("/api/v1/cdrs", TOKEN_B).json()["items"]] == ["c3"]
    r = api.get("/api/v1/cdrs/csv")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["call_id"] for row in table] == ["c3", "c2", "c1"]
    assert table[0]["source"] == "'=1+2"  # never a formula in a spreadsheet
    assert table[2]["answer"] == (T0 + timedelta(seconds=5)).isoformat()
    only_a = list(csv.DictReader(io.StringIO(api.get("/api/v1/cdrs/csv", TOKEN_A).text)))
    assert [row["call_id"] for row in only_a] == ["c2", "c1"]


def test_agents_and_queues(mapi: Api) -> None:
    _live(mapi)
    agents = mapi.get("/api/v1/agents").json()
    assert [(a["queue"], a["extension"], a["paused"], a["tenant"]) for a in agents] == [
        ("NOC", "20", False, "acme"),
        ("NOC", "21", True, "acme"),
        ("SALES", "30", False, "globex"),
    ]
    assert agents[1]["reason"] == "lunch"
    assert [a["extension"] for a in mapi.get("/api/v1/agents", TOKEN_B).json()] == ["30"]
    queues = {q["name"]: q for q in mapi.get("/api/v1/queues").json()}
    assert (queues["NOC"]["logged_in"], queues["NOC"]["paused"]) == (2, 1)
    assert [w["call_id"] for w in queues["NOC"]["waiting"]] == ["live-1"]
    assert queues["SALES"]["in_call"] == 1
    assert queues["SALES"]["service_level"] == 10
    assert [q["name"] for q in mapi.get("/api/v1/queues", TOKEN_A).json()] == ["NOC"]
    assert [q["name"] for q in mapi.get("/api/v1/queues", TOKEN_B).json()] == ["SALES"]


def test_queue_stats_and_missed_calls(api: Api) -> None:
    api.accept(*queue_visit("q1", "NOC", wait=10, talk=100))
    api.accept(*queue_visit("q2", "NOC", wait=30, talk=200, at=timedelta(minutes=1)))
    api.accept(*queue_visit("q3", "NOC", wait=None, abandoned=True, at=timedelta(minutes=2)))
    api.accept(*queue_visit("q4", "SALES", wait=5, talk=50, tenant="globex", at=timedelta(minutes=3)))
    api.accept(*ended_call("m1", "604198497", "222333444", answered=False, at=timedelta(minutes=4)))
    api.accept(*ended_call("m2", "604198497", "222333444", answered=False, at=timedelta(minutes=6)))
    api.accept(*ended_call("m3", "777000111", "222333444", answered=False, at=timedelta(minutes=7)))
    api.accept(
        *ended_call("m4", "20", "777000111", answered=True, direction=Direction.OUTGOING, at=timedelta(minutes=8))
    )
    api.accept(*ended_call("m5", "555", "30", answered=False, tenant="globex", at=timedelta(minutes=9)))
    rng = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
    stats = {q["queue"]: q for q in api.get("/api/v1/queues/stats", params=rng).json()["queues"]}
    noc = stats["NOC"]
    assert (noc["offered"], noc["answered"], noc["abandoned"], noc["answered_within"]) == (3, 2, 1, 1)
    assert noc["service_level"] == 1 / 3
    assert noc["asa"] == 20
    assert noc["aht"] == 150
    assert noc["abandon_rate"] == 1 / 3
    custom = api.get("/api/v1/queues/stats", params={**rng, "service_level": 30}).json()["queues"]
    assert {q["queue"]: q["answered_within"] for q in custom}["NOC"] == 2
    assert [q["queue"] for q in api.get("/api/v1/queues/stats", TOKEN_B, params=rng).json()["queues"]] == ["SALES"]
    assert api.get("/api/v1/queues/stats", params={"service_level": 0}).status_code == 422
    missed = api.get("/api/v1/missed-calls", params=rng).json()["numbers"]
    assert [(m["number"], m["count"]) for m in missed] == [("555", 1), ("604198497", 2)]  # 777000111 called back
    assert [m["number"] for m in api.get("/api/v1/missed-calls", TOKEN_A, params=rng).json()["numbers"]] == [
        "604198497"
    ]

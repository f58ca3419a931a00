"""What the API gained for the dashboard: statistics per hour/day and as CSV, agents'
answered/missed calls, call search by extension and outcome, one call's deliveries,
"send now", replaying one call to one webhook, and delivery health."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import datetime, timedelta

from test_api_support import T0, TOKEN_A, TOKEN_B, Api, api, ended_call, ev, mapi, queue_visit  # noqa: F401

from callhook.core.events import CallOutcome, CallParty, Direction, EventType, Leg
from callhook.store.base import Attempt, Finish, Status

RNG = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=3)).isoformat()}


def test_queue_stats_per_hour_add_up_and_match_the_csv(api: Api) -> None:
    api.accept(*queue_visit("q1", "NOC", wait=10, talk=100))
    api.accept(*queue_visit("q2", "NOC", wait=30, talk=200, at=timedelta(minutes=59, seconds=50)))  # answered at 10:00
    api.accept(*queue_visit("q3", "NOC", wait=None, abandoned=True, at=timedelta(hours=1, minutes=5)))
    api.accept(*queue_visit("q4", "SALES", wait=5, talk=50, tenant="globex", at=timedelta(hours=2)))
    page = api.get("/api/v1/queues/stats", params={**RNG, "bucket": "hour"}).json()
    assert [b["start"][11:16] for b in page["buckets"]] == ["09:00", "10:00", "11:00"]
    first = {q["queue"]: q for q in page["buckets"][0]["queues"]}
    assert (first["NOC"]["offered"], first["NOC"]["answered"], first["NOC"]["asa"]) == (2, 2, 20)
    for key in ("offered", "answered", "abandoned", "answered_within"):
        for total in page["queues"]:
            assert total[key] == sum(
                q[key] for b in page["buckets"] for q in b["queues"] if q["queue"] == total["queue"]
            ), key
    assert api.get("/api/v1/queues/stats", params=RNG).json()["buckets"] is None
    r = api.get("/api/v1/queues/stats/csv", params={**RNG, "bucket": "hour"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 3 * 2
    for row, (_b, q) in zip(rows, [(b, q) for b in page["buckets"] for q in b["queues"]], strict=True):
        assert row["queue"] == q["queue"]
        assert int(row["offered"]) == q["offered"]
        assert (float(row["asa"]) if row["asa"] else None) == q["asa"]
    days = api.get("/api/v1/queues/stats", params={**RNG, "bucket": "day"}).json()["buckets"]
    assert len(days) == 1
    assert (
        api.get("/api/v1/queues/stats", params={"since": "2000-01-01T00:00:00Z", "bucket": "hour"}).status_code == 422
    )
    assert (
        api.get("/api/v1/queues/stats", TOKEN_B, params={**RNG, "bucket": "day"}).json()["buckets"][0]["queues"][0][
            "queue"
        ]
        == "SALES"
    )


def test_agents_answered_and_missed(mapi: Api) -> None:
    party = CallParty(caller_num="777", called_num="222", direction=Direction.INCOMING)

    def leg(n: str) -> Leg:
        return Leg(number=n, channel=f"PJSIP/{n}-1")

    mapi.accept(
        ev(EventType.CALL_RINGING, "c1", party=party, leg=leg("20")),
        ev(EventType.CALL_RINGING, "c1", party=party, leg=leg("21")),
        ev(EventType.CALL_ANSWERED, "c1", party=party, leg=leg("21")),
        ev(EventType.CALL_ENDED, "c1", party=party, outcome=CallOutcome(answered=True)),
        ev(EventType.CALL_RINGING, "c2", party=party, leg=leg("20")),
        ev(EventType.CALL_ENDED, "c2", party=party, outcome=CallOutcome(missed=True)),
        ev(EventType.CALL_RINGING, "c3", party=party, leg=leg("30"), tenant="globex"),
        ev(EventType.CALL_ENDED, "c3", party=party, outcome=CallOutcome(missed=True), tenant="globex"),
    )
    agents = {a["extension"]: a for a in mapi.get("/api/v1/agents/stats", params=RNG).json()["agents"]}
    assert {k: (a["answered"], a["missed"]) for k, a in agents.items()} == {"20": (0, 1), "21": (1, 0), "30": (0, 1)}
    assert agents["20"]["name"] == "Jana"
    mine = mapi.get("/api/v1/agents/stats", TOKEN_A, params=RNG).json()["agents"]
    assert [a["extension"] for a in mine] == ["20", "21"]


def test_call_search_by_extension_and_outcome(mapi: Api) -> None:
    mapi.accept(*ended_call("a", "777", "222", answered=True, by="21"))
    mapi.accept(*ended_call("m", "778", "222", answered=False, at=timedelta(minutes=1)))
    out = ended_call("o", "20", "601", answered=False, direction=Direction.OUTGOING, at=timedelta(minutes=2))
    mapi.accept(*[replace(e, outcome=CallOutcome()) if e.outcome else e for e in out])  # outgoing: never missed
    ids = lambda **q: [c["call_id"] for c in mapi.get("/api/v1/calls", params={**RNG, **q}).json()["items"]]  # noqa: E731
    assert ids(extension="21") == ["a"]
    assert ids(extension="20") == ["o"]
    assert ids(outcome="answered") == ["a"]
    assert ids(outcome="missed") == ["m"]
    assert ids(outcome="unanswered") == ["o", "m"]
    assert mapi.get("/api/v1/calls", params={"outcome": "maybe"}).status_code == 422


def _subscribe(api: Api, url: str = "http://crm.example/hook", token: str = TOKEN_A) -> str:
    r = api.post("/api/v1/webhooks", token, json={"url": url, "dialect": "callhook"})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _fail_head(api: Api, status: Status) -> int:
    store, now = api.hub.store, api.hub.now()
    [d] = api.run(store.claim(now + 1, 1, 30.0))
    attempt = Attempt(d.id, d.subscription_id, now, d.request.method, d.request.url, (), 500, b"boom", 12.0)
    api.run(store.finish([Finish(d.id, d.lease_id, status, now + 600, "HTTP 500", 500, attempt)], now + 1))
    return d.id


def test_one_calls_deliveries_send_now_and_replay(api: Api) -> None:
    sub = _subscribe(api)
    other = _subscribe(api, "http://other.example/hook")
    api.accept(*ended_call("c1", "777", "20", answered=True))
    api.accept(*ended_call("c2", "778", "20", answered=True))
    trace = api.get("/api/v1/calls/c1/deliveries").json()
    assert len(trace) == 6  # 3 events x 2 webhooks
    assert {d["subscription_id"] for d in trace} == {sub, other}
    assert [d["id"] for d in trace] == sorted(d["id"] for d in trace)
    assert api.get("/api/v1/calls/c1/deliveries", TOKEN_B).json() == []
    did = _fail_head(api, Status.PENDING)
    detail = next(
        d
        for d in api.get(f"/api/v1/calls/{'c1' if did in [t['id'] for t in trace] else 'c2'}/deliveries").json()
        if d["id"] == did
    )
    assert (detail["status"], detail["last_error"], detail["attempt_log"][0]["status"]) == ("pending", "HTTP 500", 500)
    assert api.post(f"/api/v1/deliveries/{did}/send-now", TOKEN_B).status_code == 404
    r = api.post(f"/api/v1/deliveries/{did}/send-now")
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["next_at"]).timestamp() <= api.hub.now()  # ISO 8601 with offset
    store, now = api.hub.store, api.hub.now()
    claimed = api.run(store.claim(now + 0.5, 100, 30.0))
    assert did in [d.id for d in claimed]
    assert api.post(f"/api/v1/deliveries/{did}/send-now").status_code == 409  # inflight now
    # every delivery done; replay call c1 to one webhook only
    api.run(store.finish([Finish(d.id, d.lease_id, Status.DONE) for d in claimed], now))
    while claimed := api.run(store.claim(now + 1, 100, 30.0)):
        api.run(store.finish([Finish(d.id, d.lease_id, Status.DONE) for d in claimed], now + 1))
    r = api.post("/api/v1/deliveries/replay", json={"subscription_id": sub, "call_id": "c1"})
    assert r.json() == {"count": 3}
    pending = api.get("/api/v1/deliveries", params={"status": "pending"}).json()["items"]
    assert {(d["subscription_id"], d["order_key"]) for d in pending} == {(sub, "c1")}
    assert api.post("/api/v1/deliveries/replay", TOKEN_B, json={"call_id": "c1"}).json() == {"count": 0}


def test_delivery_health(mapi: Api) -> None:
    sub = _subscribe(mapi, "http://user:secret@crm.example/hook")
    _subscribe(mapi, "http://b.example/hook", TOKEN_B)
    mapi.accept(*ended_call("c1", "777", "20", answered=True))
    mapi.accept(*ended_call("c2", "778", "20", answered=True))
    _fail_head(mapi, Status.DEAD)
    rows = {w["id"]: w for w in mapi.get("/api/v1/delivery-health").json()}
    assert len(rows) == 2
    w = rows[sub]
    assert (w["attempts"], w["successes"], w["success_rate"], w["dead"], w["last_error"]) == (1, 0, 0.0, 1, "HTTP 500")
    assert w["backlog"] == 5
    assert w["breaker"]["state"] == "closed"
    assert "secret" not in w["url"]
    assert [x["id"] for x in mapi.get("/api/v1/delivery-health", TOKEN_A).json()] == [sub]
    r = mapi.post("/api/v1/dead-letters/retry", params={"subscription_id": sub})
    assert r.json() == {"count": 1}
    assert mapi.get("/api/v1/delivery-health").json()[0]["dead"] == 0

"""Missed calls carry their queue (from the call's queue.joined), are paged and filter by
queue; agents' figures per queue add up to the queue's figures."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from datetime import timedelta

from test_api_support import T0, Api, api, ended_call, ev, mapi, queue_visit  # noqa: F401

from callhook.core.events import EventType, Leg, QueueCall

RNG = {"since": T0.isoformat(), "until": (T0 + timedelta(hours=3)).isoformat()}


def _missed_in(api: Api, call_id: str, caller: str, queue: str, minute: int) -> None:
    at = timedelta(minutes=minute)
    api.accept(ev(EventType.QUEUE_JOINED, call_id, at=at, queue=queue, queue_call=QueueCall()))
    api.accept(*ended_call(call_id, caller, "910", answered=False, at=at))


def test_missed_calls_name_their_queue_page_and_filter(api: Api) -> None:
    _missed_in(api, "a", "601000001", "NOC", 1)
    _missed_in(api, "b", "601000002", "SALES", 2)
    _missed_in(api, "c", "601000003", "NOC", 3)
    api.accept(*ended_call("d", "601000004", "20", answered=False, at=timedelta(minutes=4)))  # no queue
    page = api.get("/api/v1/missed-calls", params=RNG).json()
    assert [(m["number"], m["queue"]) for m in page["numbers"]] == [
        ("601000004", ""),
        ("601000003", "NOC"),
        ("601000002", "SALES"),
        ("601000001", "NOC"),
    ]
    assert (page["total"], page["offset"], page["queues"]) == (4, 0, ["NOC", "SALES"])
    second = api.get("/api/v1/missed-calls", params={**RNG, "limit": 2, "offset": 2}).json()
    assert [m["number"] for m in second["numbers"]] == ["601000002", "601000001"]
    assert (second["total"], second["limit"]) == (4, 2)
    noc = api.get("/api/v1/missed-calls", params={**RNG, "queue": "NOC"}).json()
    assert [m["number"] for m in noc["numbers"]] == ["601000003", "601000001"]
    assert noc["total"] == 2
    assert api.get("/api/v1/missed-calls", params={**RNG, "queue": "NONE"}).json()["numbers"] == []
    # an answered call clears the number, whichever queue it went through
    api.accept(*ended_call("e", "601000003", "910", answered=True, at=timedelta(minutes=10)))
    assert [m["number"] for m in api.get("/api/v1/missed-calls", params={**RNG, "queue": "NOC"}).json()["numbers"]] == [
        "601000001"
    ]
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"queue": "x" * 129}):
        assert api.get("/api/v1/missed-calls", params={**RNG, **bad}).status_code == 422, bad


def _offer(call_id: str, number: str, queue: str = "NOC", at: timedelta = timedelta(seconds=1)) -> object:
    return ev(EventType.QUEUE_OFFERED, call_id, at=at, queue=queue, leg=Leg(number=number), queue_call=QueueCall())


def test_agent_figures_per_queue_add_up_to_the_queues(mapi: Api) -> None:
    # q1: offered to 20 and 21 (ring-all), 21 answers; q2: offered to 20, answered by 20;
    # q3: offered to both, abandoned: missed by both; q4 in SALES, answered by 20
    for call_id, wait, by in (("q1", 5, "21"), ("q2", 4, "20"), ("q3", None, ""), ("q4", 3, "20")):
        queue = "SALES" if call_id == "q4" else "NOC"
        visit = queue_visit(call_id, queue, wait=wait, talk=30, abandoned=wait is None)
        offers = [_offer(call_id, n, queue) for n in (("20", "21") if call_id in ("q1", "q3") else (by,))]
        if wait is not None:  # the bridge names the agent's leg
            visit[1] = ev(
                EventType.QUEUE_BRIDGED,
                call_id,
                at=timedelta(seconds=wait),
                queue=queue,
                leg=Leg(number=by),
                queue_call=QueueCall(wait=wait),
            )
        mapi.accept(visit[0], *offers, *visit[1:])
    agents = {a["extension"]: a for a in mapi.get("/api/v1/agents/stats", params=RNG).json()["agents"]}
    per = {(n, q["queue"]): (q["answered"], q["missed"]) for n, a in agents.items() for q in a["queues"]}
    assert per == {("20", "NOC"): (1, 1), ("20", "SALES"): (1, 0), ("21", "NOC"): (1, 1)}
    queues = {q["queue"]: q for q in mapi.get("/api/v1/queues/stats", params=RNG).json()["queues"]}
    for name, q in queues.items():
        assert sum(a for (_, qn), (a, _) in per.items() if qn == name) == q["answered"], name

"""``/ingest``: a value callhook cannot store is a 400 naming the field, never a 500, and
never fails the other requests committed with it; ``/healthz`` and ``/metrics`` report
events that could not be stored."""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from test_api_support import ADMIN, TOKEN_A, TOKEN_B, Api, api, ev, mapi  # noqa: F401

from callhook.core.events import EventType
from callhook.delivery.accept import Rejected
from callhook.store.base import EventQuery

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def voipex(n: int, **kw: Any) -> dict[str, Any]:
    return {"EventName": "NewCall", "UniqueId": f"1700000000.{n}", "From": "777888999", "To": "20", **kw}


@pytest.mark.parametrize(
    ("dialect", "kw", "field"),
    [
        # a lone surrogate: valid JSON, not valid Unicode (was a 500, and failed other tenants' requests)
        ("voipex", {"content": b'{"EventName": "NewCall", "UniqueId": "1.1", "From": "\\ud800"}'}, "party.caller_num"),
        (
            "voipex",
            {"content": b'{"EventName": "NewCall", "UniqueId": "1.1", "From": "77\\u00007"}'},
            "party.caller_num",
        ),
        ("voipex", {"json": voipex(1, From="7" * 9000)}, "party.caller_num"),
        ("voipex", {"content": b'{"EventName": "NewCall", "UniqueId": "1.1", "From": "\xff"}'}, "body"),  # bad UTF-8
        ("pbx2is", {"content": "event=dial&ts=1999-12-31T23:00:00%2B00:00&call_id=1.1", "headers": FORM}, "ts"),
        (
            "callhook",
            {
                "json": {
                    "type": "call.new",
                    "ts": "9999-01-01T00:00:00+00:00",
                    "call_id": "n-1",
                    "id": "01HXAMPQE0000000000000000A",
                }
            },
            "ts",
        ),
        (
            "callhook",
            {
                "json": {
                    "type": "call.new",
                    "ts": "2024-05-06T09:00:00+00:00",
                    "call_id": "n-1",
                    "seq": 18446744073709551616,
                }
            },
            "seq",
        ),
    ],
)
def test_a_value_that_cannot_be_stored_is_400_naming_the_field(
    api: Api, dialect: str, kw: dict[str, Any], field: str
) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}", **kw.pop("headers", {})}
    r = api.client.post(f"/ingest/{dialect}", headers=headers, **kw)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field
    assert r.json()["error"]
    assert api.run(api.hub.store.list_events(EventQuery(limit=10))).items == []


def test_a_poisoned_request_does_not_fail_other_tenants_requests(api: Api) -> None:
    bad = b'{"EventName": "NewCall", "UniqueId": "9.9", "From": "\\ud800"}'

    def post(n: int) -> int:
        if n == 13:
            return int(
                api.client.post(
                    "/ingest/voipex", content=bad, headers={"Authorization": f"Bearer {TOKEN_A}"}
                ).status_code
            )
        token = TOKEN_A if n % 2 else TOKEN_B
        return int(api.post("/ingest/voipex", token, json=voipex(n)).status_code)

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(40)))
    assert codes[13] == 400
    assert codes[:13] + codes[14:] == [200] * 39
    stored = api.run(api.hub.store.list_events(EventQuery(limit=100))).items
    assert len(stored) == 39


def test_an_event_given_up_makes_healthz_degraded_and_is_counted(mapi: Api) -> None:
    good = ev(EventType.CALL_NEW, "c1")
    bad = ev(EventType.CALL_NEW, "c2")
    store = mapi.hub.store  # refuses one event as a database refuses a value (a seam; the real
    # refusals are in test_accept_split.py)
    original = store.append

    async def append(items: Any, now: float) -> int:
        if any(i.event.id == bad.id for i in items):
            raise ValueError("value out of range for the column")
        n: int = await original(items, now)
        return n

    store.append = append
    with pytest.raises(Rejected):
        mapi.run(mapi.hub.accepter.accept([bad]))
    mapi.accept(good)
    r = mapi.client.get("/healthz")
    assert r.status_code == 200  # the store answers; capture goes on
    body = r.json()
    assert body["status"] == "degraded"
    assert body["store"] == {"reachable": True, "error": ""}
    assert body["capture"]["unstored"] == 1
    assert body["capture"]["queued"] == 0
    assert "could not be stored" in body["reasons"][0]
    assert "out of range" in body["reasons"][0]
    lines = {
        ln.split(" ")[0]: ln.split(" ")[1]
        for ln in mapi.client.get("/metrics").text.splitlines()
        if ln and ln[0] != "#"
    }
    assert float(lines["callhook_events_unstored_total"]) == 1
    assert float(lines["callhook_accept_queue"]) == 0
    assert float(lines["callhook_events_total"]) >= 1


def test_a_request_the_store_refuses_is_400_body_and_the_others_are_stored(mapi: Api) -> None:
    store = mapi.hub.store  # refuses one caller's event as a database refuses a value (a seam)
    original = store.append

    async def append(items: Any, now: float) -> int:
        if any(i.event.call_id == "1700000000.13" for i in items):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        n: int = await original(items, now)
        return n

    store.append = append

    def post(n: int) -> Any:
        return mapi.post("/ingest/voipex", TOKEN_A if n % 2 else TOKEN_B, json=voipex(n))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(post, range(30)))
    assert answers[13].status_code == 400
    assert answers[13].json()["field"] == "body"
    assert "too large" in answers[13].json()["error"]
    assert [a.status_code for i, a in enumerate(answers) if i != 13] == [200] * 29
    stored = mapi.run(store.list_events(EventQuery(limit=100))).items
    assert sorted(e.call_id for e in stored) == sorted(f"1700000000.{n}" for n in range(30) if n != 13)
    assert mapi.hub.accepter.unstored == 1

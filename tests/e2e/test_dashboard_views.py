"""The dashboard's views as a supervisor uses them for a while, in a real browser (see
test_dashboard_support.py for the world): what stays right after the first second,
what a whole session logs, the missed calls' queue and pages, the agents' figures per
queue, the chart's labels, the page width, and delivery health's actions.

Waits are on selectors, on functions of the page or on facts of the world; the one
fixed wait (the statistics test) is the length of time over which nothing may change.
"""

# ruff: noqa: F811 -- the fixtures imported from test_dashboard_support are the test parameters

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest
from test_dashboard_support import (  # noqa: F401
    WAIT_MS,
    World,
    browser,
    new_page,
    sign_in,
    wait_for,
    world,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(120)]

TICKS_MS = 3100  # three ticks of the once-a-second duration ticker, and a bit


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return expect


def _watch(page: Any) -> list[str]:
    """Console errors, failed requests and HTTP errors of the page, as they happen."""
    seen: list[str] = []
    page.on("console", lambda m: seen.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("requestfailed", lambda r: seen.append(f"failed {r.method} {r.url}: {r.failure}"))
    page.on("response", lambda r: seen.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    return seen


def _rows(page: Any, table: str) -> list[list[str]]:
    return list(
        page.evaluate(
            f"""() => Array.from(document.querySelectorAll('#{table} tbody tr')).map((tr) =>
            Array.from(tr.cells).map((c) => c.textContent.trim()))"""
        )
    )


def test_statistics_table_stays_after_the_ticker_and_after_show(world: World, browser: Any) -> None:
    expect = _expect()
    world.pbx.play("inbound_ringall_answered", caller="606100100", answered_by="22", ring_s=0.5, talk_s=0.5)
    wait_for(lambda: world.ended_call("606100100"), what="a queue call to end")
    page = new_page(browser)
    sign_in(page, world)
    page.goto(world.base + "/#/stats")
    total = page.locator("#stats-table tbody tr.total").first
    expect(total).to_be_visible()
    first = _rows(page, "stats-table")
    assert first
    assert all(len(r) == 8 for r in first), first
    page.wait_for_timeout(TICKS_MS)  # the ticker has run: the table must be the same table
    assert _rows(page, "stats-table") == first
    assert page.locator("#stats-table tbody").count() == 1
    page.click("#stats-form button[type=submit]")  # "Show"
    expect(total).to_be_visible()
    page.wait_for_timeout(TICKS_MS)
    assert _rows(page, "stats-table") == first
    expect(page.locator("#notice")).to_be_hidden()
    assert page.errors == []


def test_a_whole_session_through_every_view_has_no_error(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    seen = _watch(page)
    sign_in(page, world)
    world.pbx.play("inbound_ringall_answered", caller="606200200", answered_by="21", ring_s=0.5, talk_s=1)
    expect(page.locator("#calls-table tbody tr", has_text="606200200")).to_have_count(1)
    wait_for(lambda: world.ended_call("606200200"), what="the call to end")
    page.click("#nav a[data-view=calls]")
    page.fill("#calls-search input[name=number]", "606200200")
    page.click("#calls-search button[type=submit]")
    page.locator("#search-table tbody tr", has_text="606200200").get_by_role("link").click()
    expect(page.locator("#trace ol.timeline")).to_contain_text("queue.joined")
    page.click("#nav a[data-view=health]")
    expect(page.locator("#health-table")).to_be_visible()
    page.click("#health-refresh")
    page.click("#nav a[data-view=stats]")
    expect(page.locator("#stats-table tbody tr.total").first).to_be_visible()
    page.select_option("#stats-form select[name=bucket]", "day")
    page.click("#stats-form button[type=submit]")
    expect(page.locator("#stats-table")).to_have_attribute("data-bucket", "day")
    csv = page.request.get(world.base + page.locator("#stats-csv").get_attribute("href"))
    assert csv.status == 200
    page.click("#nav a[data-view=wallboard]")
    expect(page.locator("#queues-table tbody tr").first).to_be_visible()
    page.wait_for_timeout(1200)  # a tick on the wallboard too
    icon = page.request.get(world.base + "/favicon.ico")
    assert icon.status == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    expect(page.locator("#notice")).to_be_hidden()
    assert seen == []
    assert page.errors == []


def test_missed_calls_carry_their_queue_and_are_paged_and_filtered(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world)
    callers = [f"6073000{i:02d}" for i in range(11)]
    for i, caller in enumerate(callers):
        if i % 4 == 3:
            world.pbx.play("inbound_ringall_missed", caller=caller, did="222333445", queue="SALES", patience_s=1.0)
        else:
            world.pbx.play("inbound_ringall_missed", caller=caller, patience_s=1.0)
    wait_for(
        lambda: {n["number"] for n in world.api("GET", "/api/v1/missed-calls")[1]["numbers"]} >= set(callers),
        30,
        "every missed call to be listed",
    )
    # the queue the wallboard shows is the one in the call's own timeline
    listed = {n["number"]: n for n in world.api("GET", "/api/v1/missed-calls")[1]["numbers"]}
    call_id = listed[callers[3]]["call_ids"][-1]
    timeline = world.api("GET", f"/api/v1/calls/{call_id}")[1]["events"]
    joined = [e["queue"] for e in timeline if e["type"] == "queue.joined"]
    assert joined == ["SALES"]
    panel = page.locator("#panel-missed")
    total = world.api("GET", "/api/v1/missed-calls")[1]["total"]
    assert total > 10
    expect(panel.locator(".count")).to_have_text(f"({total})")
    expect(page.locator("#missed-table tbody tr")).to_have_count(10)
    expect(page.locator("#missed-range")).to_have_text(f"1–10 of {total}")
    page.click("#missed-next")
    expect(page.locator("#missed-range")).to_have_text(f"11–{min(20, total)} of {total}")
    page.click("#missed-prev")
    expect(page.locator("#missed-range")).to_have_text(f"1–10 of {total}")
    page.select_option("#missed-queue", "SALES")
    sales = world.api("GET", "/api/v1/missed-calls?queue=SALES")[1]
    expect(panel.locator(".count")).to_have_text(f"({sales['total']})")
    expect(page.locator("#missed-table tbody tr")).to_have_count(min(10, sales["total"]))
    rows = _rows(page, "missed-table")
    assert {r[3] for r in rows} == {"SALES"}
    assert callers[3] in {r[0] for r in rows}
    page.select_option("#missed-queue", "")
    expect(page.locator("#missed-range")).to_have_text(f"1–10 of {total}")
    row = page.locator("#missed-table tbody tr", has_text=callers[-1])
    expect(row.locator("td").nth(2)).to_have_text("NOC")
    assert page.errors == []


def test_agents_figures_per_queue_add_up_to_the_queues(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world)
    for caller, by in (("608000001", "21"), ("608000002", "22"), ("608000003", "21")):
        world.pbx.play("inbound_ringall_answered", caller=caller, answered_by=by, ring_s=0.5, talk_s=0.5)
    for caller in ("608000001", "608000002", "608000003"):
        wait_for(lambda c=caller: world.ended_call(c), what=f"call {caller} to end")
    queues = page.locator("#queues-table tbody tr")
    expect(queues.first).to_be_visible()
    # "Queues (N)" counts the queues, not the callers waiting
    expect(page.locator("#panel-queues .count")).to_have_text(f"({queues.count()})")
    agents_stats = world.api("GET", "/api/v1/agents/stats")[1]["agents"]
    noc_answered = {q["queue"]: q for q in world.api("GET", "/api/v1/queues/stats")[1]["queues"]}["NOC"]["answered"]
    assert noc_answered >= 3
    assert sum(q["answered"] for a in agents_stats for q in a["queues"] if q["queue"] == "NOC") == noc_answered
    # the page's own numbers: each queue's Answered is the sum of its agents' rows
    page.wait_for_function(
        """(want) => {
          const q = Array.from(document.querySelectorAll('#queues-table tbody tr'))
            .find((tr) => tr.cells[0].textContent === 'NOC');
          return q && Number(q.cells[7].dataset.value) === want;
        }""",
        arg=noc_answered,
    )

    def mismatches() -> list[tuple[str, int, list[list[str]]]]:
        out = []
        for qrow in _rows(page, "queues-table"):
            name, answered = qrow[0], int(qrow[7].replace(",", ""))
            members = [r for r in _rows(page, "agents-table") if r[1] == name]
            if members and sum(int(r[4]) for r in members) != answered:
                out.append((name, answered, members))
        return out

    # the agents' figures are fetched again after the events that change them (throttled)
    deadline = time.monotonic() + 10.0
    while mismatches() and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert mismatches() == []
    assert page.errors == []


def test_chart_labels_do_not_overlap_at_1280_px(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser, locale="en-US")  # "12 AM", "01 AM": the longest hour labels
    sign_in(page, world)
    page.goto(world.base + "/#/stats")
    expect(page.locator("#stats-chart svg > rect.bar-offered")).to_have_count(24)
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('#stats-chart text.tick')).map((t) => {
          const b = t.getBoundingClientRect(); return [b.left, b.right, t.textContent]; })"""
    )
    assert len(boxes) >= 6, boxes
    assert any("AM" in b[2] for b in boxes)
    for (_, right, a), (left, _, b) in itertools.pairwise(boxes):
        assert right <= left, f"{a!r} overlaps {b!r}"
    font = page.evaluate(
        "() => parseFloat(getComputedStyle(document.querySelector('#stats-chart text.tick')).fontSize)"
    )
    assert font >= 10
    assert page.errors == []


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (390, 844)])
def test_no_horizontal_overflow_in_any_view(world: World, browser: Any, width: int, height: int) -> None:
    expect = _expect()
    world.pbx.play("inbound_ringall_answered", caller="609000001", answered_by="22", ring_s=0.5, talk_s=0.5)
    ended = wait_for(lambda: world.ended_call("609000001"), what="a call to end")
    page = new_page(browser, width=width, height=height)
    sign_in(page, world)
    for view, ready in (
        ("wallboard", "#queues-table tbody tr"),
        ("calls", "#calls-search"),
        (f"call/{ended['call_id']}", "#trace ol.timeline li"),
        ("health", "#health-table"),
        ("stats", "#stats-table tbody tr"),
    ):
        page.goto(f"{world.base}/#/{view}")
        expect(page.locator(ready).first).to_be_visible()
        got = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert got[0] <= got[1], (view, got)
    assert page.errors == []


def test_delivery_health_send_now_and_retry_all_dead(world: World, browser: Any) -> None:
    expect = _expect()
    rx = world.receiver
    status, hook = world.api(
        "POST",
        "/api/v1/webhooks",
        {"url": f"http://127.0.0.1:{rx.port}/health-crm", "dialect": "callhook", "description": "flaky CRM"},
    )
    assert status == 201
    hid = hook["id"]
    page = new_page(browser)
    sign_in(page, world)
    # the CRM fails: five test events fail, and the endpoint's circuit opens (5 failures in a row)
    rx.failing = True
    try:
        for _ in range(5):
            assert world.api("POST", f"/api/v1/webhooks/{hid}/test", {"wait": 10})[1]["attempt"]["status"] == 500
    finally:
        rx.failing = False
    page.goto(world.base + "/#/health")
    row = page.locator("#health-table tbody tr", has_text=hid)
    expect(row.locator("td.circuit-open")).to_contain_text("open: tries again at")
    api_row = {w["id"]: w for w in world.api("GET", "/api/v1/delivery-health")[1]}[hid]
    assert api_row["breaker"]["state"] == "open"
    assert api_row["backlog"] == 5
    # the CRM is back: "Send now" sends the five at once, without waiting for the cool-down
    before = len(rx.requests)
    row.get_by_role("button", name="Send now").click()
    wait_for(
        lambda: sum(1 for r in rx.requests[before:] if r["path"] == "/health-crm" and r["status"] == 200) == 5,
        what="the five deliveries to arrive",
    )
    expect(page.locator("#notice")).to_contain_text(f"deliveries of {hid} are due now")
    page.click("#health-refresh")
    expect(row.locator("td").nth(6)).to_have_text("closed")  # the circuit (the first cell is a th)
    # the ledger: every routed delivery in one bucket (docs/delivery.md)
    led = {w["id"]: w for w in world.api("GET", "/api/v1/delivery-health")[1]}[hid]["ledger"]
    assert led["delivered"] >= 5
    assert led["routed"] == led["delivered"] + led["pending"] + led["inflight"] + led["dead"] + led["expired"]
    expect(row.locator("td").nth(5)).to_contain_text(" delivered + ")
    # the CRM answers 410 Gone: the delivery is dead and the webhook disabled; enable, "Retry all dead"
    rx.statuses["/health-crm"] = 410
    world.api("POST", f"/api/v1/webhooks/{hid}/test", {"wait": 10})
    rx.statuses.clear()
    page.click("#health-refresh")
    expect(row).to_contain_text("(disabled: 410 Gone, ")  # the webhook.disabled notice says why
    expect(row.locator("td").nth(5)).to_contain_text("1 dead (1 gave up)")  # the 410: given up
    row.get_by_role("button", name="Enable").click()
    retry = row.get_by_role("button", name="Retry all 1 dead")
    before = len(rx.requests)
    retry.click()
    wait_for(
        lambda: any(r["path"] == "/health-crm" and r["status"] == 200 for r in rx.requests[before:]),
        what="the dead delivery to arrive after the retry",
    )
    expect(page.locator("#notice")).to_contain_text(f"1 dead deliveries of {hid} are pending again")
    assert world.api("PATCH", f"/api/v1/webhooks/{hid}", {"enabled": False})[0] == 200
    assert page.errors == []


def test_the_agents_phones_show_their_presence(world: World, browser: Any) -> None:
    """Extension presence (Asterisk's hints, extension.presence) on the wallboard: the
    answering agent's phone is "in use" while the call lasts and "idle" after it."""
    page = new_page(browser)
    sign_in(page, world)
    world.pbx.play("inbound_ringall_answered", caller="606300300", answered_by="22", ring_s=0.5, talk_s=3.0)

    def phone_of(number: str) -> set[str]:
        return {r[6] for r in _rows(page, "agents-table") if f"({number})" in r[0]}

    deadline = time.monotonic() + 15.0
    while phone_of("22") != {"in use"} and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert phone_of("22") == {"in use"}
    wait_for(lambda: world.ended_call("606300300"), what="call 606300300 to end")
    deadline = time.monotonic() + 10.0
    while phone_of("22") != {"idle"} and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert phone_of("22") == {"idle"}
    status, presence = world.api("GET", "/api/v1/extensions/presence")
    assert status == 200
    assert {"extension": "22", "state": "idle"}.items() <= next(p for p in presence if p["extension"] == "22").items()
    assert page.errors == []

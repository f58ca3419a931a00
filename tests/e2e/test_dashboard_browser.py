"""The dashboard in a real browser (Debian's Chromium through Playwright) against
`callhook serve` fed by the simulated PBX: see test_dashboard_support.py for the world.

Every wait is on a selector or on a fact of the world (a request the receiver got,
a call the API lists), never a fixed sleep; each test takes a few seconds of
simulated calls in real time.
"""

# ruff: noqa: F811 -- the fixtures imported from test_dashboard_support are the test parameters

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from test_dashboard_support import (  # noqa: F401
    LAB,
    OTHER,
    WAIT_MS,
    World,
    browser,
    new_page,
    shots_dir,
    sign_in,
    wait_for,
    world,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(90)]


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    return expect


def test_wallboard_follows_a_call_from_ringing_to_talking_to_gone(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world)
    expect(page.locator("#pbx-filter option")).to_have_count(2)  # the one PBX (and "all") are listed
    expect(page.locator("#pbx-pick")).to_be_hidden()  # one PBX: no filter to offer
    world.pbx.play("inbound_direct_answered", caller="604111222", ring_s=2.5, talk_s=3.0)
    row = page.locator("#calls-table tbody tr", has_text="604111222")
    expect(row.locator("td.state")).to_have_text("ringing")
    expect(row.locator("td.state")).to_have_text("talking")
    expect(row).to_contain_text("Jana Novakova")
    expect(row).to_have_count(0)
    assert page.errors == []


def test_an_agents_pause_reason_shows_exactly(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world)
    assert world.api("POST", "/api/v1/actions/agent/login", {"exten": "163", "queue": "NOC"})[0] == 200
    row = page.locator("#agents-table tbody tr", has_text="Jan Janecek")
    expect(row.locator("td.state")).to_have_text("available")
    assert world.api("POST", "/api/v1/actions/agent/pause", {"exten": "163", "reason": "Oběd"})[0] == 200
    expect(row.locator("td.state")).to_have_text("paused: Oběd")
    queue = page.locator("#queues-table tbody tr", has_text="NOC")
    expect(queue.locator("td").nth(4)).to_have_text("1")  # paused agents of NOC
    assert page.errors == []


def test_a_missed_call_waits_for_a_call_back_and_clears(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world, name="Petra")
    world.pbx.play("inbound_ringall_missed", caller="601555777", patience_s=1.5)
    world.pbx.play("inbound_ringall_missed", caller="602000111", patience_s=1.5)
    missed = page.locator("#missed-table tbody tr", has_text="601555777")
    expect(missed).to_have_count(1)
    expect(missed.locator("td").nth(0)).to_have_text("1")
    # the number calls again and gets through: the entry clears itself
    world.pbx.play("inbound_direct_answered", caller="601555777", ring_s=0.5, talk_s=0.5)
    expect(missed).to_have_count(0)
    # the other one is called back by hand and marked done
    other = page.locator("#missed-table tbody tr", has_text="602000111")
    other.get_by_role("button", name="Done").click()
    expect(other).to_have_count(0)
    expect(page.locator("#missed-done")).to_contain_text("602000111: done by Petra")
    assert page.errors == []


def test_a_failed_webhook_shows_red_and_retry_delivers_it(world: World, browser: Any, tmp_path: Path) -> None:
    expect = _expect()
    world.receiver.failing = True
    status, hook = world.api(
        "POST",
        "/api/v1/webhooks",
        {"url": f"http://127.0.0.1:{world.receiver.port}/crm", "dialect": "callhook", "description": "CRM"},
    )
    assert status == 201
    page = new_page(browser)
    sign_in(page, world)
    world.pbx.play("inbound_direct_answered", caller="603000444", ring_s=0.5, talk_s=0.5)
    wait_for(lambda: world.receiver.requests, what="the first (failing) attempt")
    wait_for(lambda: world.ended_call("603000444"), what="the call to end")
    page.goto(world.base + "/#/calls")
    page.fill("#calls-search input[name=number]", "603000444")
    page.click("#calls-search button[type=submit]")
    page.locator("#search-table tbody tr", has_text="603000444").get_by_role("link").click()
    section = page.locator(f"#trace section.sub[data-sub='{hook['id']}']")
    head = section.locator("li.delivery").first
    expect(head).to_have_class("delivery bad")
    expect(head).to_contain_text("HTTP 500")
    expect(section).to_contain_text("callhook, POST")
    head.locator("summary").click()
    expect(head.locator("table.attempts")).to_contain_text("500")
    expect(head.locator("pre.body")).to_contain_text('"caller_num":"603000444"')
    page.screenshot(path=str(shots_dir(tmp_path) / "call-trace.png"))
    page.goto(world.base + "/#/health")
    health = page.locator("#health-table tbody tr", has_text=hook["id"])
    expect(health.locator("td.bad").last).to_contain_text("HTTP 500")
    # the receiver recovers; "Retry now" sends the failed delivery (and the rest follow in order)
    world.receiver.failing = False
    page.go_back()
    head = page.locator(f"#trace section.sub[data-sub='{hook['id']}'] li.delivery").first
    head.get_by_role("button", name="Retry now").click()
    first_id = world.receiver.requests[0]["id"]
    wait_for(
        lambda: any(r["id"] == first_id and r["status"] == 200 for r in world.receiver.requests),
        what="the retried delivery to arrive",
    )
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator(f"#trace section.sub[data-sub='{hook['id']}'] li.delivery").first).to_have_attribute(
        "data-status", "done"
    )
    assert world.api("PATCH", f"/api/v1/webhooks/{hook['id']}", {"enabled": False})[0] == 200
    assert page.errors == []


def test_a_tenant_does_not_see_another_tenants_call(world: World, browser: Any) -> None:
    """The simulated PBX is the lab's (its events carry tenant "lab"); tenant "other" posts
    its own PBX's events to the ingest route with its token. Both pages are open while
    both calls are live: each sees its own only."""
    expect = _expect()
    other = new_page(browser)
    sign_in(other, world, token=OTHER, name="Olga")
    expect(other.locator("#who-name")).to_contain_text("tenant other")
    lab = new_page(browser)
    sign_in(lab, world, token=LAB, name="Lab")
    world.pbx.play("inbound_direct_answered", caller="605000020", exten="20", ring_s=4, talk_s=1)
    status, _ = world.api(
        "POST",
        "/ingest/voipex",
        {
            "Line": None,
            "UniqueId": "other.1",
            "EventName": "NewCall",
            "From": "605000030",
            "To": "910104230",
            "Direction": "incoming",
        },
        token=OTHER,
    )
    assert status == 200
    expect(other.locator("#calls-table tbody tr", has_text="605000030")).to_have_count(1)
    expect(lab.locator("#calls-table tbody tr", has_text="605000020")).to_have_count(1)
    assert any(c["caller_num"] == "605000020" for c in world.api("GET", "/api/v1/calls/live")[1])  # still live
    expect(other.locator("#calls-table tbody tr")).to_have_count(1)
    assert "605000020" not in other.content()
    assert "605000030" not in lab.content()
    assert other.errors == []
    assert lab.errors == []
    # the other PBX ends its call as VOIPEX does (the ingested call stays live until then)
    base = {"UniqueId": "other.1", "From": "605000030", "To": "910104230", "Direction": "incoming"}
    hangup = {**base, "EventName": "Hangup", "Line": "", "Email": "", "Login": "", "Reason": "No user response"}
    cdr = {**base, "EventName": "CDR", "Line": "", "Start": "", "End": "", "Disposition": "NO ANSWER"}
    for body in (hangup, cdr):
        assert world.api("POST", "/ingest/voipex", body, token=OTHER)[0] == 200
    wait_for(
        lambda: all(c["call_id"] != "other.1" for c in world.api("GET", "/api/v1/calls/live")[1]),
        what="the ingested call to end",
    )


def test_statistics_equal_the_statistics_api(world: World, browser: Any) -> None:
    expect = _expect()
    world.pbx.play("inbound_ringall_answered", caller="606000111", answered_by="22", ring_s=0.5, talk_s=0.5)
    wait_for(lambda: world.ended_call("606000111"), what="a queue call to end")

    # an agent's session for the agent time table: logged in, paused, back, logged out
    def member() -> dict[str, Any] | None:
        agents = world.api("GET", "/api/v1/agents")[1]
        return next((a for a in agents if a["extension"] == "163" and a["queue"] == "NOC"), None)

    if member() is not None:  # an earlier test left it logged in: start from logged out
        assert world.api("POST", "/api/v1/actions/agent/logout", {"exten": "163", "queue": "NOC"})[0] == 200
        wait_for(lambda: member() is None, what="the agent logged out")
    for action, body, done in (
        ("login", {"exten": "163", "queue": "NOC"}, lambda m: m is not None and not m["paused"]),
        ("pause", {"exten": "163", "reason": "Oběd"}, lambda m: m is not None and m["paused"]),
        ("unpause", {"exten": "163"}, lambda m: m is not None and not m["paused"]),
        ("logout", {"exten": "163", "queue": "NOC"}, lambda m: m is None),
    ):
        assert world.api("POST", f"/api/v1/actions/agent/{action}", body)[0] == 200
        wait_for(lambda done=done: done(member()), what=f"the agent {action}")
    page = new_page(browser)
    sign_in(page, world)
    page.goto(world.base + "/#/stats")
    expect(page.locator("#stats-table tbody tr.total").first).to_be_visible()
    table = page.locator("#stats-table")
    since, until, bucket = (table.get_attribute(f"data-{k}") for k in ("since", "until", "bucket"))
    assert bucket == "hour"
    status, api = world.api(
        "GET", "/api/v1/queues/stats?" + urlencode({"since": since, "until": until, "bucket": bucket})
    )
    assert status == 200
    rows = page.evaluate("""() => Array.from(document.querySelectorAll('#stats-table tbody tr')).map((tr) => ({
        key: tr.dataset.key, values: Array.from(tr.cells).slice(2).map((td) => td.dataset.value ?? null)}))""")
    fields = ("offered", "answered", "abandoned", "service_level", "asa", "aht")
    want = {f"{b['start']}|{q['queue']}": q for b in api["buckets"] for q in b["queues"] if q["offered"]}
    want.update({f"total|{q['queue']}": q for q in api["queues"]})
    assert {r["key"] for r in rows} == set(want)
    assert any(q["offered"] and q["answered"] for q in api["queues"])
    for r in rows:
        q = want[r["key"]]
        assert [None if v is None else float(v) for v in r["values"]] == [
            None if q[f] is None else float(q[f]) for f in fields
        ], r["key"]
    shown = page.locator("#stats-table tbody tr.total td").nth(1).inner_text()
    assert shown == f"{api['queues'][0]['offered']:,}"  # what the eye reads is the same number
    expect(page.locator("#stats-chart svg rect.bar-offered").first).to_be_attached()
    csv_text = page.request.get(world.base + page.locator("#stats-csv").get_attribute("href")).text()
    csv_rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["queue"], int(r["offered"])) for r in csv_rows] == [
        (q["queue"], q["offered"]) for b in api["buckets"] for q in b["queues"]
    ]
    # agent time for the same range: the table shows the API's rows, seconds as data-value
    status, agents = world.api("GET", "/api/v1/agents/time?" + urlencode({"since": since, "until": until}))
    assert status == 200
    want_t = {f"{r['day']}|{r['extension']}|{r['queue']}": r for r in agents["rows"]}
    assert any(r["extension"] == "163" and r["queue"] == "NOC" and r["login"] > 0 for r in agents["rows"])
    wait_for(
        lambda: page.locator("#agent-time-table tbody tr").count() == len(want_t),
        what="the agent time table to show the API's rows",
    )
    shown_t = page.evaluate("""() => Array.from(document.querySelectorAll('#agent-time-table tbody tr')).map((tr) =>
        ({key: tr.dataset.key, values: Array.from(tr.cells).filter((td) => td.dataset.value !== undefined)
            .map((td) => Number(td.dataset.value))}))""")
    for r in shown_t:
        a = want_t[r["key"]]
        assert r["values"] == [a["login"], a["paused"], a["talk"], a["idle"]], r["key"]
    csv_t = page.request.get(world.base + page.locator("#agent-time-csv").get_attribute("href"))
    assert csv_t.status == 200
    assert len(list(csv.DictReader(io.StringIO(csv_t.text())))) == len(want_t)
    assert page.errors == []


def test_phone_sized_viewport_has_no_horizontal_overflow(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser, width=390, height=844)
    sign_in(page, world)
    for view, ready in (
        ("wallboard", "#queues-table tbody tr"),
        ("calls", "#calls-search"),
        ("health", "#health-table"),
        ("stats", "#stats-table tbody tr"),
    ):
        page.goto(f"{world.base}/#/{view}")
        expect(page.locator(ready).first).to_be_visible()
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (view, width)
    assert page.errors == []


def test_keyboard_only_sign_in_and_focus_is_visible(world: World, browser: Any) -> None:
    expect = _expect()
    page = new_page(browser)
    page.goto(world.base + "/")
    expect(page.locator("#signin-token")).to_be_visible()
    active = "() => document.activeElement && (document.activeElement.id || document.activeElement.textContent)"
    assert page.evaluate(active) == "signin-token"  # the sign-in form takes the focus
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(active) == "Skip to content"  # the first stop of the tab order
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "signin-token"
    page.keyboard.type(LAB)
    page.keyboard.press("Tab")
    assert page.evaluate(active) == "signin-name"
    page.keyboard.type("Keyboard")
    page.keyboard.press("Enter")
    expect(page.locator("#live-state")).to_have_text("live")
    page.locator("#nav a").first.focus()
    page.keyboard.press("Tab")
    outline = page.evaluate(
        "() => [document.activeElement.textContent, getComputedStyle(document.activeElement)"
        ".outlineStyle, parseFloat(getComputedStyle(document.activeElement).outlineWidth)]"
    )
    assert outline[0] == "Calls"
    assert outline[1] != "none"
    assert outline[2] >= 2
    page.keyboard.press("Enter")
    expect(page.locator("#view-calls")).to_be_visible()
    assert page.evaluate(
        "() => Array.from(document.querySelectorAll('[data-action]')).every((e) => e.tagName === 'BUTTON')"
    )
    assert page.evaluate("() => document.querySelectorAll('[onclick], [style]').length") == 0
    assert page.errors == []


def test_screenshot_of_a_busy_wallboard(world: World, browser: Any, tmp_path: Path) -> None:
    expect = _expect()
    page = new_page(browser)
    sign_in(page, world)
    # the wallboard's "today" starts at the browser's local midnight; earlier tests of this module
    # answered NOC calls too, so the count is read from the statistics API before and after
    since = page.evaluate("() => { const d = new Date(); d.setHours(0, 0, 0, 0); return d.toISOString(); }")

    def noc_answered() -> int:
        status, stats = world.api("GET", "/api/v1/queues/stats?" + urlencode({"since": since}))
        assert status == 200
        return next((int(q["answered"]) for q in stats["queues"] if q["queue"] == "NOC"), 0)

    before = noc_answered()
    world.pbx.play("inbound_ringall_missed", caller="605123456", did="222333445", queue="SALES", patience_s=1.0)
    expect(page.locator("#missed-table tbody tr", has_text="605123456")).to_have_count(1)
    world.pbx.play("inbound_ringall_answered", caller="777888999", answered_by="21", ring_s=1, talk_s=8)
    world.pbx.play("inbound_direct_answered", caller="604198497", exten="20", ring_s=1, talk_s=8)
    world.pbx.play("rrmemory_ringnoanswer", caller="731222333", answered_by="22", ring_s=6, talk_s=4)
    expect(page.locator("#calls-table tbody tr", has_text="777888999").locator("td.state")).to_have_text("talking")
    expect(page.locator("#calls-table tbody tr", has_text="604198497").locator("td.state")).to_have_text("talking")
    expect(page.locator("#calls-table tbody tr")).to_have_count(3)
    noc = page.locator("#queues-table tbody tr", has_text="NOC")
    wait_for(lambda: noc_answered() == before + 1, what="the NOC answer counted in today's statistics")
    expect(noc.locator("td").nth(6)).to_have_text(str(before + 1))  # today's answered, on the wallboard too
    expect(page.locator("#agents-table tbody tr", has_text="Petr Svoboda").filter(has_text="NOC")).to_contain_text("1")
    page.screenshot(path=str(shots_dir(tmp_path) / "wallboard.png"))
    assert page.errors == []

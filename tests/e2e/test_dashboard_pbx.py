"""The dashboard of a deployment with two PBXs ("hq" and "branch", docs/deployment.md):
the PBX filter is offered, the live calls say which PBX each is on, and choosing a PBX
shows only its calls (loaded again from the API, and from the stream from then on)."""

# ruff: noqa: F811 -- the fixtures imported from test_dashboard_support are the test parameters

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from test_dashboard_support import World, browser, new_page, require_browser, sign_in, wait_for  # noqa: F401


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    require_browser()
    w = World(tmp_path_factory.mktemp("dashboard-pbx"), branch=True)
    try:
        yield w
    finally:
        w.close()


def test_the_pbx_filter_shows_one_pbxs_calls(two: World, browser: Any) -> None:
    from playwright.sync_api import expect

    assert two.branch is not None
    page = new_page(browser)
    sign_in(page, two)
    pick = page.locator("#pbx-filter")
    expect(page.locator("#pbx-pick")).to_be_visible()
    expect(pick.locator("option")).to_have_text(["all PBXs", "hq", "branch"])

    two.pbx.play("inbound_direct_answered", caller="601100200", ring_s=1, talk_s=30)
    two.branch.play("inbound_direct_answered", caller="602300400", ring_s=1, talk_s=30)
    rows = page.locator("#calls-table tbody tr")
    hq = rows.filter(has_text="601100200")
    branch = rows.filter(has_text="602300400")
    expect(hq.locator("td").first).to_contain_text("· hq")  # the Called cell names the PBX
    expect(branch.locator("td").first).to_contain_text("· branch")
    expect(rows).to_have_count(2)

    pick.select_option("branch")
    expect(rows).to_have_count(1)
    expect(branch).to_have_count(1)
    # a new call on hq while branch is shown stays out of the table: the stream's events of
    # hq are skipped (a later branch call showing up proves the earlier hq events came)
    two.pbx.play("inbound_direct_answered", caller="603500600", ring_s=1, talk_s=30)
    wait_for(
        lambda: any(c["caller_num"] == "603500600" for c in two.api("GET", "/api/v1/calls/live?pbx=hq")[1]),
        what="the new hq call to be live",
    )
    two.branch.play("inbound_direct_answered", caller="602700800", ring_s=1, talk_s=30)
    expect(rows.filter(has_text="602700800")).to_have_count(1)
    expect(rows.filter(has_text="603500600")).to_have_count(0)
    expect(rows).to_have_count(2)

    pick.select_option("")
    expect(rows.filter(has_text="603500600")).to_have_count(1)
    expect(rows).to_have_count(4)
    assert page.errors == []

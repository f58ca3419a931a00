"""The dashboard's HTML shell: every view's frame, rendered on the server, filled by the modules.

The shell holds the static structure (navigation, the sign-in form, each panel's
headings and table heads) so the page is readable, keyboard-navigable and
testable before any script runs; the ES modules fill the table bodies. No inline
script or style: the page runs under ``Content-Security-Policy: default-src 'self'``.
Asset URLs carry a version (a hash of the assets) so a new release is not served
from a stale cache.
"""

from __future__ import annotations

from html import escape

__all__ = ["link_gone", "render"]


def _table(tid: str, caption: str, heads: list[str]) -> str:
    cols = "".join(f'<th scope="col">{escape(h)}</th>' for h in heads)
    return (
        f'<div class="table-wrap"><table id="{tid}"><caption class="sr-only">{escape(caption)}</caption>'
        f"<thead><tr>{cols}</tr></thead><tbody></tbody></table></div>"
    )


def _panel(pid: str, title: str, body: str, extra: str = "") -> str:
    return (
        f'<section class="panel" id="{pid}" aria-labelledby="{pid}-h"><div class="panel-head">'
        f'<h2 id="{pid}-h">{escape(title)} <span class="count" aria-live="off"></span></h2>{extra}</div>'
        f"{body}</section>"
    )


_SIGNIN = """
<section id="view-signin" class="view signin" hidden aria-labelledby="signin-h">
  <form id="signin-form" class="card" autocomplete="on">
    <h2 id="signin-h">Sign in</h2>
    <p>Use an API token: the admin token, or a tenant token to see that tenant only. The token is exchanged
    for a session that ends when the browser closes; it is not kept.</p>
    <label for="signin-token">API token</label>
    <input id="signin-token" name="token" type="password" autocomplete="current-password" required maxlength="512">
    <label for="signin-name">Your name <span class="hint">(optional, shown on call-back marks)</span></label>
    <input id="signin-name" name="name" type="text" autocomplete="name" maxlength="128">
    <button type="submit" class="primary">Sign in</button>
    <p id="signin-error" class="error" role="alert"></p>
  </form>
</section>"""

_CALLS_FORM = """
<form id="calls-search" class="filters" role="search" aria-label="Search calls">
  <label>Number <input name="number" inputmode="tel" maxlength="64"></label>
  <label>Extension <input name="extension" inputmode="numeric" maxlength="64"></label>
  <label>From <input name="since" type="datetime-local"></label>
  <label>To <input name="until" type="datetime-local"></label>
  <label>Outcome <select name="outcome"><option value="">any</option><option value="answered">answered</option>
    <option value="missed">missed</option><option value="unanswered">not answered</option></select></label>
  <button type="submit" class="primary">Search</button>
</form>"""

_STATS_FORM = """
<form id="stats-form" class="filters" aria-label="Statistics range">
  <label>From <input name="since" type="date" required></label>
  <label>To (inclusive) <input name="until" type="date" required></label>
  <label>Per <select name="bucket"><option value="hour">hour</option><option value="day">day</option></select></label>
  <button type="submit" class="primary">Show</button>
  <a id="stats-csv" class="button" href="#/stats" download>Download CSV</a>
</form>"""

_MISSED_PAGER = """
<nav class="pager" aria-label="Missed calls pages">
  <button type="button" id="missed-prev" disabled>Previous</button>
  <span id="missed-range" aria-live="polite"></span>
  <button type="button" id="missed-next" disabled>Next</button>
</nav>"""

_STAT_HEADS = ["Time", "Queue", "Offered", "Answered", "Abandoned", "Service level", "ASA", "AHT"]
# agent time per day and queue (GET /api/v1/agents/time), the same range as the queue statistics
_AGENT_TIME_HEADS = ["Day", "Agent", "Queue", "Logged in", "Paused", "Pause reasons", "Talk", "Idle"]


def render(version: str) -> str:
    v = escape(version)
    wallboard = "".join(
        [
            _panel(
                "panel-queues",
                "Queues",
                _table(
                    "queues-table",
                    "Queues now and today",
                    [
                        "Queue",
                        "Waiting",
                        "Longest wait",
                        "Available",
                        "Busy",
                        "Paused",
                        "Offered",
                        "Answered",
                        "Abandoned",
                        "Service level",
                        "ASA",
                        "AHT",
                    ],
                ),
                '<span class="hint waiting-total"></span>',
            ),
            _panel(
                "panel-calls",
                "Calls in progress",
                _table("calls-table", "Calls in progress", ["Caller", "Called", "Agent / queue", "State", "Duration"]),
            ),
            _panel(
                "panel-agents",
                "Agents",
                _table(
                    "agents-table",
                    "Agents by queue; answered and missed today",
                    ["Agent", "Queue", "State", "In state", "Answered", "Missed", "Phone"],
                ),
                '<span class="hint">answered / missed: today, in that queue</span>',
            ),
            _panel(
                "panel-missed",
                "Missed calls to call back",
                _table("missed-table", "Missed calls to call back", ["Number", "Calls", "Last", "Queue", ""])
                + _MISSED_PAGER
                + '<h3 class="sub">Marked done</h3>'
                '<ul id="missed-done" class="plain"></ul>',
                '<label class="inline">Queue <select id="missed-queue"><option value="">all queues</option>'
                "</select></label>",
            ),
        ]
    )
    calls = _panel(
        "panel-search",
        "Calls",
        _CALLS_FORM
        + _table("search-table", "Ended calls", ["Ended", "Caller", "Called", "Answered by", "Outcome"])
        + '<p><button type="button" id="search-more" hidden>More</button></p>',
    )
    trace = '<section id="trace" class="panel" aria-labelledby="trace-h" hidden></section>'
    health = _panel(
        "panel-health",
        "Delivery health (last hour)",
        _table(
            "health-table",
            "Webhooks",
            ["Webhook", "Success", "p50", "p99", "Backlog", "Dead", "Ledger", "Circuit", "Last error", "Actions"],
        ),
        '<button type="button" id="health-refresh">Refresh</button>',
    )
    stats = _panel(
        "panel-stats",
        "Queue statistics",
        _STATS_FORM
        + '<div id="stats-chart" class="chart"></div>'
        + _table("stats-table", "Queue statistics", _STAT_HEADS),
    ) + _panel(
        "panel-agent-time",
        "Agent time",
        '<p><a id="agent-time-csv" class="button" href="#/stats" download>Download CSV</a></p>'
        + _table("agent-time-table", "Agent time per day and queue", _AGENT_TIME_HEADS),
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>callhook</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={v}">
<script type="module" src="/dashboard/static/js/main.js?v={v}"></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <span class="brand">callhook</span>
  <nav id="nav" aria-label="Views" hidden>
    <a href="#/wallboard" data-view="wallboard">Wallboard</a>
    <a href="#/calls" data-view="calls">Calls</a>
    <a href="#/health" data-view="health">Delivery health</a>
    <a href="#/stats" data-view="stats">Statistics</a>
  </nav>
  <div id="who" class="who" hidden>
    <span id="who-name"></span>
    <label class="inline" id="pbx-pick" hidden>PBX <select id="pbx-filter"><option value="">all PBXs</option>
      </select></label>
    <span id="live-state" class="badge" role="status">connecting</span>
    <button type="button" id="signout">Sign out</button>
  </div>
</header>
<main id="main" tabindex="-1">
<p id="notice" class="notice" role="status" hidden></p>
{_SIGNIN}
<div id="view-wallboard" class="view grid" hidden>{wallboard}</div>
<div id="view-calls" class="view" hidden>{calls}{trace}</div>
<div id="view-health" class="view" hidden>{health}</div>
<div id="view-stats" class="view" hidden>{stats}</div>
</main>
</body>
</html>
"""


def link_gone(version: str) -> str:
    """The page of a sign-in link that was used already or has expired: what to do now."""
    v = escape(version)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in link expired · callhook</title>
<link rel="icon" href="/favicon.ico" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard/static/dashboard.css?v={v}">
</head>
<body>
<header class="top"><span class="brand">callhook</span></header>
<main id="main" class="signin">
<section class="card gone" aria-labelledby="gone-h">
  <h1 id="gone-h">This sign-in link no longer works</h1>
  <p>A sign-in link works <strong>once</strong>, for <strong>5 minutes</strong>: it was used already
  (perhaps by this browser a moment ago) or it has expired.</p>
  <h2>Get a new link</h2>
  <ul>
    <li>In the terminal running <code>callhook demo</code>: it always shows a fresh link; copy it again.</li>
    <li>On the hub's machine: run <code>callhook dashboard-link</code> (with <code>--url</code> and
    <code>--token</code>, or <code>CALLHOOK_URL</code> and <code>CALLHOOK_TOKEN</code>) and open the link it
    prints.</li>
  </ul>
  <p>Or sign in with an API token instead.</p>
  <p><a class="button primary" href="/">Sign in with a token</a></p>
</section>
</main>
</body>
</html>
"""

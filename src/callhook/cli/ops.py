"""Daily operation of a running callhook over its HTTP API: ``webhooks`` and ``deliveries``.

    callhook webhooks list | add URL --dialect D ... | remove ID | test ID
    callhook deliveries list [--webhook ID] [--status S] [--dead] | retry ID... | retry --dead
    callhook deliveries replay --webhook ID [--since T] [--until T]
    callhook dashboard-link [--tenant T] [--name N]

Every command takes ``--url`` (env ``CALLHOOK_URL``), ``--token`` (env ``CALLHOOK_TOKEN``)
and ``--json``. Exit status: 0 done, 1 the hub said no (or a test delivery failed),
2 bad usage. ``webhooks test ID`` asks ``POST /api/v1/webhooks/{id}/test`` to send a
test event to that one webhook (no other webhook gets it) and prints the attempt's
outcome: the HTTP status or the error and the time it took.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from callhook.cli.client import Api, ApiError, add_connection_flags, connect
from callhook.config import Config
from callhook.core.subscription import Dialect
from callhook.delivery.redact import mask_url

__all__ = ["add_link_parser", "add_parsers", "run"]

FINAL = ("done", "dead", "expired")
POLL = 0.2
ROUTE_WAIT_MAX = 60.0  # the test route waits at most this long; a longer --wait watches the delivery


def add_parsers(sub: Any) -> None:
    wh = sub.add_parser("webhooks", help="list, add, remove and test webhooks of a running callhook")
    whs = wh.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = whs.add_parser("list", help="every webhook")
    add_connection_flags(p)
    p = whs.add_parser("add", help="subscribe a URL")
    add_connection_flags(p)
    p.add_argument("target_url", metavar="URL")
    p.add_argument("--dialect", required=True, choices=[d.value for d in Dialect])
    p.add_argument("--method", choices=("GET", "POST"), help="default: the dialect's (GET for pbx2is)")
    p.add_argument(
        "--event",
        action="append",
        default=[],
        help="only this event (the dialect's name or a canonical type; repeatable)",
    )
    p.add_argument("--secret", default="", help="sign requests (Standard Webhooks) with this secret")
    p.add_argument("--auth", default="", metavar="USER:PASSWORD", help="HTTP Basic credentials to send")
    p.add_argument("--header", action="append", default=[], metavar="NAME:VALUE", help="extra header (repeatable)")
    for name in ("queue", "extension", "agent"):
        p.add_argument(f"--{name}", default="", help=f"only events of this {name}")
    p.add_argument("--tenant", default="")
    p.add_argument("--description", default="")
    p.add_argument("--disabled", action="store_true", help="create it disabled")
    p = whs.add_parser("remove", help="delete a webhook")
    add_connection_flags(p)
    p.add_argument("id")
    p = whs.add_parser("test", help="send a test event to this webhook only and show the outcome")
    add_connection_flags(p)
    p.add_argument("id")
    p.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the attempt (default 15)")
    wh.set_defaults(func=run)

    dl = sub.add_parser("deliveries", help="list, retry and replay deliveries of a running callhook")
    dls = dl.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = dls.add_parser("list", help="deliveries, newest first")
    add_connection_flags(p)
    p.add_argument("--webhook", help="of this webhook")
    p.add_argument("--status", choices=("pending", "inflight", *FINAL))
    p.add_argument("--call", help="of this call id")
    p.add_argument("--dead", action="store_true", help="dead letters only (dead and expired)")
    p.add_argument("--limit", type=int, default=20, help="how many (1..1000, default 20)")
    p = dls.add_parser("retry", help="a dead or expired delivery back to pending")
    add_connection_flags(p)
    p.add_argument("ids", nargs="*", type=int, metavar="ID")
    p.add_argument("--dead", action="store_true", help="retry every dead delivery (of --webhook)")
    p.add_argument("--webhook")
    p = dls.add_parser("replay", help="send finished deliveries again, with a progress bar")
    add_connection_flags(p)
    p.add_argument("--webhook", help="of this webhook")
    p.add_argument("--since", help="created from then (ISO 8601 or Unix seconds)")
    p.add_argument("--until", help="created before then")
    p.add_argument("--limit", type=int, default=10_000)
    p.add_argument("--wait", type=float, default=60.0, help="seconds to follow the replay (0: do not wait)")
    dl.set_defaults(func=run)


def add_link_parser(sub: Any) -> None:
    p = sub.add_parser(
        "dashboard-link",
        help="print a fresh one-time dashboard sign-in link of a running callhook (serve or demo)",
        description="Asks the hub (POST /api/v1/dashboard-links) for a sign-in link that works once, within "
        "5 minutes, and prints it. An admin token may ask for a tenant's link (--tenant); a tenant token "
        "gets its own tenant's.",
    )
    add_connection_flags(p)
    p.add_argument("--tenant", default="", help="admin token only: sign in as this tenant")
    p.add_argument("--name", default="", help="your name, shown on call-back marks")
    p.set_defaults(func=run, action="")


def dashboard_link(api: Api, args: argparse.Namespace) -> int:
    out = api.request("POST", "/api/v1/dashboard-links", body={"tenant": args.tenant, "name": args.name})
    link = api.url + out["path"]
    _out(args, {**out, "url": link}, link)
    if not args.json:
        who = f"tenant {out['tenant']}" if out["tenant"] else "the admin"
        print(f"one-time sign-in as {who}: works once, within {out['expires_in'] // 60} minutes", file=sys.stderr)
    return 0


def _table(columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(*columns)
    for r in rows:
        t.add_row(*r)
    Console(highlight=False, width=200 if not sys.stdout.isatty() else None).print(t)


def _out(args: argparse.Namespace, data: Any, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text, flush=True)


# ------------------------------------------------------------------ webhooks
def webhooks_list(api: Api, args: argparse.Namespace) -> int:
    items = api.request("GET", "/api/v1/webhooks")
    if args.json:
        _out(args, items, "")
        return 0
    rows = [
        [
            w["id"],
            w["dialect"],
            w["method"],
            mask_url(w["url"]),  # the server masks it already; an older server's answer is masked here
            ",".join(w["events"]) or "all",
            " ".join(
                x for x, on in (("signed", w["has_secret"]), ("basic", w["auth"]), ("disabled", not w["enabled"])) if on
            ),
            w["description"],
        ]
        for w in items
    ]
    _table(["id", "dialect", "method", "url", "events", "flags", "description"], rows)
    return 0


def webhooks_add(api: Api, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {
        "url": args.target_url,
        "dialect": args.dialect,
        "tenant": args.tenant,
        "description": args.description,
        "enabled": not args.disabled,
        "filters": {"queue": args.queue, "extension": args.extension, "agent": args.agent},
    }
    if args.method:
        body["method"] = args.method
    if args.event:
        body["events"] = args.event
    if args.secret:
        body["secret"] = args.secret
    if args.auth:
        user, sep, password = args.auth.partition(":")
        if not sep:
            print("callhook webhooks add: --auth: expected USER:PASSWORD", file=sys.stderr)
            return 2
        body["auth"] = {"username": user, "password": password}
    headers: dict[str, str] = {}
    for h in args.header:
        name, sep, value = h.partition(":")
        if not sep:
            print(f"callhook webhooks add: --header {h!r}: expected NAME:VALUE", file=sys.stderr)
            return 2
        headers[name.strip()] = value.strip()
    body["headers"] = headers
    w = api.request("POST", "/api/v1/webhooks", body=body)
    _out(args, w, f"added {w['id']}: {w['dialect']} {w['method']} {mask_url(w['url'])}")
    return 0


def webhooks_remove(api: Api, args: argparse.Namespace) -> int:
    api.request("DELETE", f"/api/v1/webhooks/{args.id}")
    _out(args, {"id": args.id, "removed": True}, f"removed {args.id}")
    return 0


def webhooks_test(api: Api, args: argparse.Namespace) -> int:
    if args.wait < 0:
        print(f"callhook webhooks test: --wait: expected seconds >= 0, got {args.wait:g}", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.wait
    route_wait = min(args.wait, ROUTE_WAIT_MAX)
    api.timeout = max(api.timeout, route_wait + 15.0)
    result = api.request("POST", f"/api/v1/webhooks/{args.id}/test", body={"wait": route_wait})
    delivery = api.request("GET", f"/api/v1/deliveries/{result['delivery_id']}")
    while result["attempt"] is None and delivery["status"] not in FINAL and time.monotonic() < deadline:
        time.sleep(POLL)  # a --wait longer than the route's own: go on watching the delivery
        delivery = api.request("GET", f"/api/v1/deliveries/{result['delivery_id']}")
        if delivery["attempt_log"]:
            result = _attempted(result, delivery)
    delivery.pop("request", None)
    report = {
        "event_id": result["event_id"],
        "event_type": result["event_type"],
        "webhook": result["webhook"],
        "also": [],  # the test route delivers to this webhook only
        "delivery": delivery,
        "test": result,
        "ok": result["ok"],
    }
    if not args.json:
        print(
            f"sent a test {result['event_type']} event {result['event_id']} to {result['webhook']} only "
            f"(POST /api/v1/webhooks/{args.id}/test)",
            flush=True,
        )
        sent = result["sent"]
        print(f"request: {sent['method']} {sent['url']}", flush=True)
    _out(args, report, _verdict(result))
    return 0 if result["ok"] else 1


def _attempted(result: dict[str, Any], delivery: dict[str, Any]) -> dict[str, Any]:
    """The route's answer completed with the delivery's first attempt, seen later."""
    a = delivery["attempt_log"][-1]
    ok = a["status"] is not None and 200 <= a["status"] < 300
    how = f"HTTP {a['status']}" if a["status"] is not None else (a["error"] or "no answer")
    if ok:
        detail = f"answered {how} in {a['duration_ms']:.0f} ms"
    else:
        again = "; callhook will retry it" if delivery["status"] == "pending" else ""
        detail = f"{how} after {a['duration_ms']:.0f} ms{again}"
    attempt = {k: a[k] for k in ("at", "status", "duration_ms", "error")} | {"response_body": a["body"]}
    return result | {"attempt": attempt, "ok": ok, "detail": detail, "delivery_status": delivery["status"]}


def _verdict(result: dict[str, Any]) -> str:
    word = "OK" if result["ok"] else "FAILED"
    return f"{word}: delivery {result['delivery_id']} " + (
        result["detail"] if result["ok"] else f"is {result['delivery_status']}: {result['detail']}"
    )


# ------------------------------------------------------------------ deliveries
def deliveries_list(api: Api, args: argparse.Namespace) -> int:
    path = "/api/v1/dead-letters" if args.dead else "/api/v1/deliveries"
    query = {"subscription_id": args.webhook, "limit": args.limit}
    if not args.dead:
        query |= {"status": args.status, "call_id": args.call}
    page = api.request("GET", path, query=query)
    if args.json:
        _out(args, page, "")
        return 0
    rows = [
        [
            str(d["id"]),
            d["subscription_id"],
            d["event_id"],
            d["status"],
            str(d["attempts"]),
            "" if d["last_status"] is None else str(d["last_status"]),
            d["last_error"][:40],
            datetime.fromisoformat(d["created_at"]).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        ]
        for d in page["items"]
    ]
    _table(["id", "webhook", "event", "status", "tries", "http", "last error", "created (UTC)"], rows)
    return 0


def deliveries_retry(api: Api, args: argparse.Namespace) -> int:
    if args.dead:
        n = api.request("POST", "/api/v1/dead-letters/retry", query={"subscription_id": args.webhook})["count"]
        _out(args, {"count": n}, f"{n} dead deliveries back to pending")
        return 0
    if not args.ids:
        print("callhook deliveries retry: give delivery ids, or --dead", file=sys.stderr)
        return 2
    done = [api.request("POST", f"/api/v1/deliveries/{i}/retry") for i in args.ids]
    _out(args, done, "\n".join(f"delivery {d['id']}: {d['status']}, due now" for d in done))
    return 0


def deliveries_replay(api: Api, args: argparse.Namespace) -> int:
    t0 = time.time() - 1.0
    body = {k: v for k, v in (("subscription_id", args.webhook), ("since", args.since), ("until", args.until)) if v}
    n = int(api.request("POST", "/api/v1/deliveries/replay", body={**body, "limit": args.limit})["count"])
    if not args.json:
        print(f"replaying {n} deliveries", flush=True)
    finished = _follow_replay(api, args, t0, n) if n and args.wait > 0 else None
    _out(
        args,
        {"count": n, "finished": finished},
        f"replay: {n} new deliveries" + ("" if finished is None else f", {finished} finished"),
    )
    return 0


def _follow_replay(api: Api, args: argparse.Namespace, since: float, n: int) -> int:
    from rich.progress import Progress

    deadline = time.monotonic() + args.wait
    finished = 0
    with Progress(disable=args.json or not sys.stdout.isatty()) as progress:
        task = progress.add_task("replay", total=n)
        while finished < n and time.monotonic() < deadline:
            finished, before = 0, None
            while True:
                page = api.request(
                    "GET",
                    "/api/v1/deliveries",
                    query={"subscription_id": args.webhook, "since": f"{since:.3f}", "limit": 1000, "before": before},
                )
                finished += sum(1 for d in page["items"] if d["replay_of"] is not None and d["status"] in FINAL)
                before = page["next_cursor"]
                if before is None:
                    break
            progress.update(task, completed=min(finished, n))
            if finished < n:
                time.sleep(POLL)
    return min(finished, n)


COMMANDS = {
    ("webhooks", "list"): webhooks_list,
    ("webhooks", "add"): webhooks_add,
    ("webhooks", "remove"): webhooks_remove,
    ("webhooks", "test"): webhooks_test,
    ("deliveries", "list"): deliveries_list,
    ("deliveries", "retry"): deliveries_retry,
    ("deliveries", "replay"): deliveries_replay,
    ("dashboard-link", ""): dashboard_link,
}


def run(cfg: Config, args: argparse.Namespace) -> int:

    try:
        api = connect(args, dict(os.environ))
        return COMMANDS[(args.command, args.action)](api, args)
    except ApiError as exc:
        print(f"callhook {' '.join(filter(None, (args.command, args.action)))}: {exc}", file=sys.stderr)
        return 1

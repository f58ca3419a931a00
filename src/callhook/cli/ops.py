"""Daily operation of a running callhook over its HTTP API: ``webhooks`` and ``deliveries``.

    callhook webhooks list | add URL --dialect D ... | remove ID | test ID
    callhook deliveries list [--webhook ID] [--status S] [--dead] | retry ID... | retry --dead
    callhook deliveries replay --webhook ID [--since T] [--until T]

Every command takes ``--url`` (env ``CALLHOOK_URL``), ``--token`` (env ``CALLHOOK_TOKEN``)
and ``--json``. Exit status: 0 done, 1 the hub said no (or a test delivery failed),
2 bad usage. ``webhooks test``: the API has no test route, so the command ingests a
synthetic native event through ``POST /ingest/callhook`` (every webhook it matches
gets it; the command names them) and waits for the webhook's delivery.
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

__all__ = ["add_parsers", "run"]

FINAL = ("done", "dead", "expired")
POLL = 0.2


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
    p = whs.add_parser("test", help="send a synthetic event through /ingest/callhook and wait for its delivery")
    add_connection_flags(p)
    p.add_argument("id")
    p.add_argument("--wait", type=float, default=15.0, help="seconds to wait for the delivery (default 15)")
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
    from callhook.cli.sample import also_matching, sample_for, subscription_of
    from callhook.core.serialize import event_to_dict

    sub = subscription_of(api.request("GET", f"/api/v1/webhooks/{args.id}"))
    event = sample_for(sub, datetime.now(UTC))
    if event is None:
        print(f"callhook webhooks test: no test event fits {sub.id} (its event types or filters)", file=sys.stderr)
        return 1
    others = also_matching(event, [subscription_of(w) for w in api.request("GET", "/api/v1/webhooks")], sub.id)
    headers = {"X-Callhook-Tenant": sub.tenant} if sub.tenant else {}
    api.request("POST", "/ingest/callhook", body=event_to_dict(event), headers=headers)
    if not args.json:
        print(
            f"no test route in the API: ingested a synthetic {event.type.value} event {event.id} "
            f"through POST /ingest/callhook",
            flush=True,
        )
        if others:
            print(f"note: it also goes to {len(others)} other matching webhook(s): {', '.join(others)}", flush=True)
    found = _await_delivery(api, event.id, sub.id, args.wait)
    ok = found is not None and found["status"] == "done"
    report = {
        "event_id": event.id,
        "event_type": event.type.value,
        "webhook": sub.id,
        "also": others,
        "delivery": found,
        "ok": ok,
    }
    _out(args, report, _verdict(api, found, args.wait))
    return 0 if ok else 1


def _verdict(api: Api, found: dict[str, Any] | None, wait: float) -> str:
    if found is None:
        return "FAILED: the hub made no delivery for this webhook (is it disabled?)"
    if found["attempts"] == 0:
        return (
            f"FAILED: delivery {found['id']} not attempted within {wait:g}s (still {found['status']}: "
            "the endpoint may be backed off, or earlier deliveries of the same call or agent wait)"
        )
    log = api.request("GET", f"/api/v1/deliveries/{found['id']}").get("attempt_log", [])
    last = log[-1] if log else {}
    how = f"HTTP {last.get('status')}" if last.get("status") is not None else (last.get("error") or "no answer")
    took = f" in {last['duration_ms']:.0f} ms" if "duration_ms" in last else ""
    if found["status"] == "done":
        return f"OK: delivery {found['id']} answered {how}{took}"
    again = "; callhook will retry it" if found["status"] == "pending" else ""
    return f"FAILED: delivery {found['id']} is {found['status']}: {how}{took}{again}"


def _await_delivery(api: Api, event_id: str, sub_id: str, wait: float) -> dict[str, Any] | None:
    """The webhook's delivery of the event, once final or attempted (or as it is after ``wait``);
    None when there is none."""
    deadline = time.monotonic() + wait
    while True:
        page = api.request("GET", "/api/v1/deliveries", query={"event_id": event_id, "subscription_id": sub_id})
        found = dict(page["items"][0]) if page["items"] else None
        if found is not None and (found["status"] in FINAL or found["attempts"] > 0):
            return found
        if time.monotonic() > deadline:
            return found
        time.sleep(POLL)


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
            datetime.fromtimestamp(d["created_at"], UTC).strftime("%Y-%m-%d %H:%M:%S"),
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
}


def run(cfg: Config, args: argparse.Namespace) -> int:

    try:
        api = connect(args, dict(os.environ))
        return COMMANDS[(args.command, args.action)](api, args)
    except ApiError as exc:
        print(f"callhook {args.command} {args.action}: {exc}", file=sys.stderr)
        return 1

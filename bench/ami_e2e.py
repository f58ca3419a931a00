"""End to end from raw AMI bytes: fake Asterisk -> `callhook serve` -> voipex webhooks.

    .venv/bin/python bench/ami_e2e.py                      # SQLite (deliverable 7a)
    .venv/bin/python bench/ami_e2e.py --postgres           # PostgreSQL (7b), a throwaway cluster
    .venv/bin/python bench/ami_e2e.py --profile prof.txt   # also: py-spy on serve meanwhile

A fake AMI server (bench/ami_support.py) streams every recording in tests/fixtures/ami,
copy after copy with fresh Uniqueid/Linkedid, as fast as callhook reads; `callhook serve`
(a subprocess, its defaults: SQLite FULL or PostgreSQL) has one voipex webhook with basic
auth pointing to a lean keep-alive receiver (its own process). Beside it, in the same
run, the receiver's ceiling from a lean client. Printed: webhooks/s end to end, how fast
serve read and committed the AMI stream (its own counters in /metrics), CPU per webhook,
and the ratio to the ceiling. Bounded: --webhooks (default 20000) and --timeout.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from typing import Any

from ami_support import Proc, Serve, ceiling, cpu_seconds, free_port, postgres, receiver_stats


def capture_only(db: str, args: argparse.Namespace, tmp: str, src: str = "") -> dict[str, Any]:
    """No webhook: how fast serve reads, tracks and commits the AMI stream alone."""
    aport = free_port()
    ami = Proc("ami", str(aport))
    serve: Serve | None = None
    try:
        ami.line()
        serve = Serve(db, aport, tmp, profile=args.profile + ".capture" if args.profile else "", src=src)
        per_round, events_per_round, messages_per_round = (int(x) for x in ami.line().split()[1:])
        rounds = max(1, -(-args.webhooks // per_round))
        expected = rounds * events_per_round
        cpu0 = cpu_seconds(serve.p.pid)
        serve.start_profile(min(args.timeout, 30))
        ami.send(f"go {rounds}")
        _, t_first, t_streamed = ami.line(args.timeout).split()
        deadline = time.monotonic() + args.timeout
        m = serve.metrics()
        while m.get("callhook_events_total", 0.0) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
            m = serve.metrics()
        elapsed = time.monotonic() - float(t_first)
        cpu = cpu_seconds(serve.p.pid) - cpu0
        serve.stop_profile()
        return {
            "events": m.get("callhook_events_total", 0.0),
            "expected": expected,
            "messages": rounds * messages_per_round,
            "rate": m.get("callhook_events_total", 0.0) / elapsed,
            "read_s": float(t_streamed) - float(t_first),
            "commits": m.get("callhook_accept_commits_total", 0.0),
            "backpressure": m.get("callhook_ami_backpressure_total", 0.0),
            "cpu_us": cpu * 1e6 / max(m.get("callhook_events_total", 1.0), 1.0),
        }
    finally:
        if serve is not None:
            serve.stop()
        ami.stop()


def run(db: str, args: argparse.Namespace, tmp: str, src: str = "") -> dict[str, Any]:
    rport, aport = free_port(), free_port()
    recv = Proc("receiver", str(rport))
    ami = Proc("ami", str(aport))
    serve: Serve | None = None
    try:
        recv.line()
        ami.line()
        ceil = ceiling(rport, args.ceiling_seconds)
        serve = Serve(db, aport, tmp, profile=args.profile, src=src)
        per_round, _, messages_per_round = (int(x) for x in ami.line().split()[1:])  # connected, resynced
        rounds = max(1, -(-args.webhooks // per_round))
        expected = rounds * per_round
        serve.webhook(f"http://127.0.0.1:{rport}/voipex")
        base = receiver_stats(rport)["count"]
        cpu0 = cpu_seconds(serve.p.pid)
        serve.start_profile(min(args.timeout, 30))
        ami.send(f"go {rounds}")
        _, t_first, t_streamed = ami.line(args.timeout).split()
        deadline = time.monotonic() + args.timeout
        stats = receiver_stats(rport)
        while stats["count"] - base < expected and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = receiver_stats(rport)
        cpu = cpu_seconds(serve.p.pid) - cpu0
        metrics = serve.metrics()
        serve.stop_profile()
        got = stats["count"] - base
        elapsed = stats["last"] - float(t_first)
        return {
            "db": db.split(":")[0],
            "messages": rounds * messages_per_round,
            "ceiling": ceil,
            "expected": expected,
            "got": got,
            "auth_bad": stats["auth_bad"],
            "rate": got / elapsed if elapsed > 0 else 0.0,
            "elapsed": elapsed,
            "read_s": float(t_streamed) - float(t_first),
            "events": metrics.get("callhook_events_total", 0.0),
            "commits": metrics.get("callhook_accept_commits_total", 0.0),
            "backpressure": metrics.get("callhook_ami_backpressure_total", 0.0),
            "unstored": metrics.get("callhook_events_unstored_total", 0.0),
            "cpu_ms": cpu * 1000 / max(got, 1),
            "cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
        }
    finally:
        if serve is not None:
            serve.stop()
        ami.stop()
        recv.stop()


@contextlib.contextmanager
def database(args: argparse.Namespace, tmp: str) -> Iterator[str]:
    if args.postgres:
        with postgres() as url:
            yield url
    else:
        yield f"sqlite:///{tmp}/bench.db"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL cluster instead of SQLite")
    p.add_argument("--webhooks", type=int, default=20_000, help="at least this many webhooks (whole rounds)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the webhooks")
    p.add_argument("--ceiling-seconds", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--profile", default="", help="py-spy raw output file for serve during the run")
    p.add_argument(
        "--baseline-src",
        default="",
        help="also run serve from this src/ directory (e.g. an export of main) in the same run, for ratios",
    )
    args = p.parse_args()
    rows, caps, base_rows, base_caps = [], [], [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp, database(args, tmp) as db:
            rows.append(run(db, args, tmp))
        with tempfile.TemporaryDirectory() as tmp, database(args, tmp) as db:
            caps.append(capture_only(db, args, tmp))
        if args.baseline_src:
            profile, args.profile = args.profile, ""
            with tempfile.TemporaryDirectory() as tmp, database(args, tmp) as db:
                base_rows.append(run(db, args, tmp, args.baseline_src))
            with tempfile.TemporaryDirectory() as tmp, database(args, tmp) as db:
                base_caps.append(capture_only(db, args, tmp, args.baseline_src))
            args.profile = profile
    print(
        f"\n{'db':8} {'ceiling/s':>10} {'webhooks':>9} {'hooks/s':>8} {'ratio':>6} {'read s':>7} {'events':>7} "
        f"{'commits':>7} {'ev/commit':>9} {'cpu ms/hook':>11} {'cores':>5}"
    )
    for r in rows:
        print(
            f"{r['db']:8} {r['ceiling']:10.0f} {r['got']:>4}/{r['expected']:<4} {r['rate']:8.0f} "
            f"{r['rate'] / r['ceiling']:6.3f} {r['read_s']:7.2f} {r['events']:7.0f} {r['commits']:7.0f} "
            f"{r['events'] / max(r['commits'], 1):9.1f} {r['cpu_ms']:11.3f} {r['cpu_share']:5.2f}"
        )
        if r["got"] < r["expected"]:
            print(f"   incomplete: {r['expected'] - r['got']} webhooks had not arrived within --timeout")
        if r["auth_bad"] or r["unstored"]:
            print(f"   {r['auth_bad']} webhooks without the basic auth; {r['unstored']:.0f} events unstored")
    print(
        f"\ncapture only (no webhook): {'events':>7} {'events/s':>9} {'read s':>7} {'commits':>7} "
        f"{'ev/commit':>9} {'cpu us/event':>12} {'back-pressure':>13}"
    )
    for c in caps:
        print(
            f"{'':26} {c['events']:7.0f} {c['rate']:9.0f} {c['read_s']:7.2f} {c['commits']:7.0f} "
            f"{c['events'] / max(c['commits'], 1):9.1f} {c['cpu_us']:12.1f} {c['backpressure']:13.0f}"
        )
    print(
        f"\nAMI messages streamed per run (the 14 recordings after callhook's filters, copies): {rows[0]['messages']}"
    )
    for r, c, br, bc in zip(rows, caps, base_rows, base_caps, strict=False):
        print(
            f"\nbaseline ({args.baseline_src}): {br['rate']:.0f} webhooks/s ({br['got']}/{br['expected']}), "
            f"{br['cpu_ms']:.3f} ms CPU per webhook; capture only {bc['rate']:.0f} events/s, "
            f"{bc['cpu_us']:.1f} us CPU per event\n"
            f"this tree / baseline, same run: webhooks/s {r['rate'] / max(br['rate'], 1e-9):.2f}x, "
            f"CPU per webhook {r['cpu_ms'] / max(br['cpu_ms'], 1e-9):.2f}x, capture events/s "
            f"{c['rate'] / max(bc['rate'], 1e-9):.2f}x, CPU per event {c['cpu_us'] / max(bc['cpu_us'], 1e-9):.2f}x"
        )
    if args.profile:
        from profile_summary import summarize

        for path, what in ((args.profile, "the end-to-end run"), (args.profile + ".capture", "capture only")):
            print(f"\nwhere serve's time went during {what} (py-spy samples by stage, {path}):")
            for name, n, share in summarize(path):
                print(f"  {name:10} {n:7d} {share:6.1%}")
    print(
        "\nratio = webhooks/s end to end / the receiver's ceiling from a lean client, same run;"
        " read s = time for serve to read the whole AMI stream"
    )


if __name__ == "__main__":
    main()

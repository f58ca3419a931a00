"""Latency from the AMI socket to the webhook's arrival, at a fixed offered rate (deliverable 7c).

    .venv/bin/python bench/ami_latency.py                 # 5000 webhooks/s offered for 5 s, SQLite
    .venv/bin/python bench/ami_latency.py --rate 1000 --seconds 5 --postgres

The fake Asterisk (bench/ami_support.py) writes the recordings' messages (after
callhook's filters, fresh ids per copy) at the pace that offers ``--rate`` voipex
webhooks a second, noting the moment (CLOCK_MONOTONIC, shared by the processes) each
webhook-making message is written to the socket. The receiver notes each webhook's
arrival; the n-th webhook of a call is matched to the message that made the call's n-th
webhook (per-call order is guaranteed). Printed: p50/p90/p99/max per webhook, the share
that arrived within --timeout after the stream, and the offered and achieved rates.
Agent events (no call id) are counted but not matched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from ami_support import Proc, Serve, free_port, pct, postgres, receiver_stats


@contextlib.contextmanager
def database(use_pg: bool, tmp: str) -> Iterator[str]:
    if use_pg:
        with postgres() as url:
            yield url
    else:
        yield f"sqlite:///{tmp}/bench.db"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=5000.0, help="webhooks offered per second")
    p.add_argument("--seconds", type=float, default=5.0, help="how long to offer them")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for stragglers afterwards")
    p.add_argument("--postgres", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp, database(args.postgres, tmp) as db:
        rport, aport = free_port(), free_port()
        recv, ami = Proc("receiver", str(rport)), Proc("ami", str(aport))
        serve: Serve | None = None
        try:
            recv.line()
            ami.line()
            serve = Serve(db, aport, tmp)
            ami.line()
            serve.webhook(f"http://127.0.0.1:{rport}/voipex")
            base = receiver_stats(rport)["count"]
            sent_file = str(Path(tmp) / "sent.json")
            ami.send(f"rate {args.rate} {args.seconds} {sent_file}")
            _, t0, t1, offered = ami.line(args.seconds + 60).split()
            deadline = time.monotonic() + args.timeout
            stats = receiver_stats(rport)
            while stats["count"] - base < int(offered) and time.monotonic() < deadline:
                time.sleep(0.2)
                stats = receiver_stats(rport)
            stats = receiver_stats(rport, arrivals=True)
            metrics = serve.metrics()
        finally:
            if serve is not None:
                serve.stop()
            ami.stop()
            recv.stop()
        sent: dict[str, list[float]] = json.loads(Path(sent_file).read_text())
    got: dict[str, list[float]] = {}
    for call_id, at in stats["arrivals"]:
        got.setdefault(call_id, []).append(at)
    lat: list[float] = []
    matched = missing = 0
    for call_id, times in sent.items():
        if not call_id:
            continue
        arrived = got.get(call_id, [])
        for i, t in enumerate(times):
            if i < len(arrived):
                lat.append(arrived[i] - t)
                matched += 1
            else:
                missing += 1
    span = float(t1) - float(t0)
    window_n = metrics.get("callhook_accept_window_seconds_count", 0.0)
    window = metrics.get("callhook_accept_window_seconds_sum", 0.0) / max(window_n, 1.0)
    print(f"\noffered {int(offered)} webhooks in {span:.2f} s = {int(offered) / span:.0f}/s (asked {args.rate:.0f}/s)")
    print(f"arrived {stats['count'] - base}; matched to their AMI message {matched}, not arrived {missing}")
    print(
        f"latency AMI write -> webhook arrival, ms: p50 {pct(lat, 50) * 1000:.2f}  p90 {pct(lat, 90) * 1000:.2f}  "
        f"p99 {pct(lat, 99) * 1000:.2f}  max {max(lat, default=float('nan')) * 1000:.2f}"
    )
    print(f"durability window (read -> committed, mean per commit): {window * 1000:.2f} ms over {window_n:.0f} commits")


if __name__ == "__main__":
    main()

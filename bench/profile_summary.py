"""Where serve's time goes: a py-spy raw (folded) profile summed by stage.

    .venv/bin/python bench/profile_summary.py prof.txt

Each sample is given to the stage of its innermost frame that belongs to one (so the
time an outbox SQL statement spends in sqlite3 counts for the outbox):

  reader    AMI socket reads, the codec (core/ami), AmiClient
  tracker   core/tracker, core/bounds, sources/asterisk
  accepter  delivery/accept (routing, the commit loop) and store append
  encode    core/dialects (building the webhook requests)
  outbox    delivery/dispatcher, endpoints, store claim/finish/promotion
  sender    delivery/sender, curl_sender (HTTP)
  api       the HTTP API (the bench's /metrics polls)
  other     the event loop itself, logging, anything else
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

STAGES = (
    ("sender", ("curl_sender.py", "delivery/sender.py", "aiohttp/")),
    ("encode", ("core/dialects/",)),
    ("accepter", ("delivery/accept.py",)),
    ("outbox", ("delivery/dispatcher.py", "delivery/endpoints.py", "store/")),
    ("tracker", ("core/tracker/", "core/bounds.py", "sources/asterisk.py", "core/events.py", "bootstrap.py")),
    ("reader", ("core/ami/", "sources/ami_client.py")),
    ("api", ("fastapi/", "starlette/", "uvicorn/", "callhook/api/")),
)


def stage(stack: str) -> str:
    frames = stack.split(";")
    if "append (callhook/store" in stack and "core/dialects/" not in stack:
        return "accepter"  # the whole append transaction: serializing, inserting, committing
    for frame in reversed(frames):
        for name, marks in STAGES:
            if any(m in frame for m in marks):
                return name
    return "other"


def summarize(path: str) -> list[tuple[str, int, float]]:
    counts: Counter[str] = Counter()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        stack, _, n = line.rstrip("\n").rpartition(" ")
        if stack and n.isdigit():
            counts[stage(stack)] += int(n)
    total = sum(counts.values()) or 1
    return [(k, v, v / total) for k, v in counts.most_common()]


def main() -> None:
    rows = summarize(sys.argv[1])
    print(f"{'stage':10} {'samples':>8} {'share':>6}")
    for name, n, share in rows:
        print(f"{name:10} {n:8d} {share:6.1%}")


if __name__ == "__main__":
    main()

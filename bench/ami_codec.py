"""AMI parsing throughput: callhook's sans-IO codec against panoramisk's parser, on the same bytes.

The 14 recordings (tests/fixtures/ami) are concatenated behind one banner and repeated
up to --mb megabytes, then fed in --chunk byte reads (what a socket read returns) to:

* callhook codec + tracker: ``AmiParser.feed`` -> ``AmiMessage`` -> ``Tracker.feed`` -> canonical
  events, with the lab directory: the whole path from socket bytes to events;
* callhook codec, all headers read: every message's header index built (an upper bound of
  the parsing cost, as if a consumer read every field of every message);
* panoramisk 1.4: ``AMIProtocol.data_received`` with a dummy transport and a factory whose
  ``dispatch`` only counts, i.e. its decode + split + ``Message.from_line`` + routing path,
  with ``encoding = "utf8"`` as its ``Manager`` sets it.

Each is run --repeat times, interleaved; the best run of each is printed. Run: .venv/bin/python bench/ami_codec.py
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from callhook.core.ami.codec import AmiParser
from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.tracker.tracker import Tracker

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "ami"
BANNER = b"Asterisk Call Manager/12.0.0\r\n"


def corpus(megabytes: float) -> tuple[bytes, int]:
    bodies = [p.read_bytes().partition(b"\r\n")[2] for p in sorted(FIXTURES.glob("*.ami"))]
    if not bodies:
        raise SystemExit(f"no recordings in {FIXTURES}")
    one = b"".join(bodies)
    reps = max(1, int(megabytes * 1e6 // len(one)))
    return BANNER + one * reps, reps


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def run_callhook(pieces: list[bytes]) -> tuple[float, int, int]:
    parser = AmiParser()
    directory = Directory.from_mapping(json.loads((FIXTURES / "lab-directory.json").read_text()))
    counter = itertools.count()
    tracker = Tracker(directory, lambda ts: str(next(counter)))
    now = datetime.now(UTC)
    total = events = 0
    t0 = time.perf_counter()
    for piece in pieces:
        for msg in parser.feed(piece):
            total += 1
            events += len(tracker.feed(msg, now))
    return time.perf_counter() - t0, total, events


def run_callhook_headers(pieces: list[bytes]) -> tuple[float, int, int]:
    parser = AmiParser()
    total = events = 0
    t0 = time.perf_counter()
    for piece in pieces:
        for msg in parser.feed(piece):
            total += 1
            events += msg.has("Event")
    return time.perf_counter() - t0, total, events


def run_panoramisk(pieces: list[bytes]) -> tuple[float, int, int]:
    from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]

    class Factory:
        save_stream = None
        events = 0

        def dispatch(self, message: Any) -> None:
            self.events += 1

    class Transport:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    proto: Any = AMIProtocol()
    proto.connection_made(Transport())
    proto.factory = Factory()
    proto.encoding = "utf8"
    t0 = time.perf_counter()
    for piece in pieces:
        proto.data_received(piece)
    elapsed = time.perf_counter() - t0
    return elapsed, proto.factory.events, proto.factory.events


def message_model_cost(pieces: list[bytes], limit: int = 200_000) -> tuple[float, int]:
    """Seconds spent only building AmiMessage values (its index) for the parsed headers."""
    parser = AmiParser()
    headers = [m.headers for piece in pieces for m in parser.feed(piece)][:limit]
    t0 = time.perf_counter()
    for h in headers:
        AmiMessage(h)
    return time.perf_counter() - t0, len(headers)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=50.0, help="corpus size in megabytes (default 50)")
    ap.add_argument("--chunk", type=int, default=65536, help="bytes per read (default 65536)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per parser; the best is shown (default 3)")
    args = ap.parse_args()
    data, reps = corpus(args.mb)
    pieces = chunks(data, args.chunk)
    print(f"corpus: {len(data) / 1e6:.1f} MB = 14 recordings x {reps}, read in {args.chunk}-byte chunks")
    parsers = {
        "callhook codec+tracker": run_callhook,
        "callhook codec, all headers": run_callhook_headers,
        "panoramisk 1.4 parser": run_panoramisk,
    }
    runs: dict[str, list[tuple[float, int, int]]] = {name: [] for name in parsers}
    for _ in range(args.repeat):  # interleaved, so a busy neighbour slows both alike
        for name, fn in parsers.items():
            runs[name].append(fn(pieces))
    results = {}
    for name in parsers:
        elapsed, total, events = min(runs[name])
        results[name] = total / elapsed
        print(
            f"{name:28s} {total:>9,} messages ({events:,} out) in {elapsed:6.2f} s: "
            f"{total / elapsed:>10,.0f} msg/s, {len(data) / elapsed / 1e6:6.1f} MB/s"
        )
    ours, headers, theirs = results.values()
    print(f"ratio callhook codec+tracker / panoramisk parser: {ours / theirs:.2f}x")
    print(f"ratio callhook codec, all headers / panoramisk parser: {headers / theirs:.2f}x")
    cost, n = message_model_cost(pieces)
    print(f"of which AmiMessage construction alone: {cost / n * 1e6:.2f} us/message ({n / cost:,.0f} msg/s)")


if __name__ == "__main__":
    main()

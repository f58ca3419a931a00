"""Shared test helpers: the recorded AMI fixtures and the lab directory (frozen copies in tests/fixtures/ami)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from callhook.core import dialects
from callhook.core.ami.codec import AmiParser
from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import Event
from callhook.core.subscription import BasicAuth, Dialect, Subscription
from callhook.core.tracker.tracker import Tracker

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "ami"
SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.ami"))
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def lab_directory() -> Directory:
    return Directory.from_mapping(json.loads((FIXTURES / "lab-directory.json").read_text()))


def truth(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def messages(name: str) -> list[AmiMessage]:
    parser = AmiParser()
    return parser.feed((FIXTURES / f"{name}.ami").read_bytes())


def ids() -> Any:
    counter = itertools.count(1)
    return lambda ts: f"01TEST{next(counter):020d}"


def replay(name: str, directory: Directory | None = None) -> list[Event]:
    tracker = Tracker(directory or lab_directory(), ids())
    out: list[Event] = []
    for msg in messages(name):
        out.extend(tracker.feed(msg, NOW))
    return out


SUBS = {
    "voipex": Subscription(
        id="s-voipex",
        url="http://crm.example/voipex",
        dialect=Dialect.VOIPEX,
        method="POST",
        auth=BasicAuth("crm", "secret"),
    ),
    "pbx2is": Subscription(id="s-pbx2is", url="http://crm.example/pbx2is", dialect=Dialect.PBX2IS, method="GET"),
    "webitel": Subscription(id="s-webitel", url="http://crm.example/webitel", dialect=Dialect.WEBITEL, method="POST"),
    "telphin": Subscription(id="s-telphin", url="http://crm.example/telphin", dialect=Dialect.TELPHIN, method="GET"),
}


def wire(events: list[Event], dialect: str) -> list[dict[str, Any]]:
    """What a receiver of that dialect gets, in order: each request's fields as a dict."""
    sub = SUBS[dialect]
    out: list[dict[str, Any]] = []
    for ev in events:
        req = dialects.encode(ev, sub)
        if req is None:
            continue
        if dialect in ("voipex", "webitel"):
            out.append(json.loads(req.body))
        else:
            fields = dict(parse_qsl(urlsplit(req.url).query, keep_blank_values=True))
            if req.body:
                for k, v in parse_qsl(req.body.decode(), keep_blank_values=True):
                    fields.setdefault(k, v)
            out.append(fields)
    return out


MIXMONITOR_PATH = "/var/spool/asterisk/monitor/1795270964.0.wav"  # MixMonitor(${UNIQUEID}.wav)


def with_mixmonitor(name: str, path: str) -> bytes:
    """A recording's bytes with the VarSet Asterisk's MixMonitor emits (MIXMONITOR_FILENAME)
    added after the caller's first VarSet, shaped as that VarSet (no lab recording records)."""
    data = (FIXTURES / f"{name}.ami").read_bytes()
    start = data.index(b"Event: VarSet\r\n")
    end = data.index(b"\r\n\r\n", start) + 4
    block = data[start:end]
    lines = [ln for ln in block.split(b"\r\n") if not ln.startswith((b"Variable:", b"Value:"))]
    extra = b"\r\n".join(lines[:-2]) + b"\r\nVariable: MIXMONITOR_FILENAME\r\nValue: " + path.encode() + b"\r\n\r\n"
    return data[:end] + extra + data[end:]

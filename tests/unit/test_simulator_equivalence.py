"""The simulator plays each recorded scenario so that callhook cannot tell the difference.

For each of the 14 fixtures, the simulated scenario (with its defaults: the
recording's numbers and timings) and the recording are replayed through a fresh
tracker exactly as ``labdata.replay`` does, and the four vendor dialects' requests
are compared field by field. Ids (Uniqueids, Linkedids) are renamed by order of
first appearance, so the *structure* of ids must match (which leg a hangup names);
only values that depend on the clock are dropped (timestamps, durations, the
record name built from the start time, numbers derived from ids).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.core.events import Event
from callhook.core.tracker.tracker import Tracker
from callhook.sources.simulator.scenarios import NAMES, scenario

from labdata import NOW, SCENARIOS, ids, lab_directory, messages, replay, wire

DIALECTS = ("voipex", "pbx2is", "webitel", "telphin")
# values that depend on the clock, or are numbers derived from ids
TIME_FIELDS = frozenset(
    {
        "ts",
        "record_name",
        "Duration",
        "BillSec",
        "CallDuration",
        "StartTime",
        "AnswerTime",
        "EndTime",
        "call_duration",
        "call_bill_sec",
        "call_voice_sec",
        "wait_sec",
        "attempt_id",
        "member_id",
        "timestamp",
        "created_at",
        "date",
        "duration",
        "billsec",
        "wait",
        "answer_time",
        "end_time",
        "start_time",
        "Start",
        "Answer",
        "End",
        "Billsec",
    }
)
UID = re.compile(r"\d{9,}\.\d+")


def start_of(name: str) -> float:
    return next(float(m.get("Timestamp")) for m in messages(name) if m.get("Timestamp"))


def simulated(name: str) -> list[AmiMessage]:
    return [msg for _, msg in scenario(name, lab_directory(), start_of(name))]


def track(msgs: list[AmiMessage]) -> list[Event]:
    tracker = Tracker(lab_directory(), ids())
    out: list[Event] = []
    for msg in msgs:
        out.extend(tracker.feed(msg, NOW))
    return out


def normalised(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ids renamed id1, id2, ... by first appearance; clock-dependent fields dropped."""
    names: dict[str, str] = {}

    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return UID.sub(lambda m: names.setdefault(m.group(0), f"id{len(names) + 1}"), value)
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items() if k not in TIME_FIELDS}
        if isinstance(value, list):
            return [rename(v) for v in value]
        return value

    return [rename(r) for r in requests]


def test_every_fixture_has_a_scenario() -> None:
    assert sorted(NAMES) == sorted(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_same_vendor_events_as_the_recording(name: str, dialect: str) -> None:
    recorded = normalised(wire(replay(name), dialect))
    got = normalised(wire(track(simulated(name)), dialect))
    assert got == recorded


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_canonical_event_types(name: str) -> None:
    """A stricter view than the dialects: the same canonical events, in the same order."""
    recorded = [(e.type, e.leg.number if e.leg else "", e.hangup.reason if e.hangup else "") for e in replay(name)]
    got = [(e.type, e.leg.number if e.leg else "", e.hangup.reason if e.hangup else "") for e in track(simulated(name))]
    assert got == recorded

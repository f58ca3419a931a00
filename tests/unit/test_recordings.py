"""PBX2IS record_name: the PBX's own recording name when MixMonitor records, else the
seed's pattern. No lab recording records a call, so the MixMonitor case is a real
recording with the VarSet Asterisk's MixMonitor emits added, shaped as the recording's
own VarSet events of that channel (app_mixmonitor sets MIXMONITOR_FILENAME)."""

from __future__ import annotations

from callhook.core.ami.codec import AmiParser
from callhook.core.events import Event
from callhook.core.recordings import RecordingNames, recording_name
from callhook.core.tracker.tracker import Tracker

from labdata import FIXTURES, MIXMONITOR_PATH, NOW, ids, lab_directory, messages, truth, wire, with_mixmonitor

SCENARIO = "inbound_ringall_answered"


def replay_bytes(data: bytes) -> list[Event]:
    tracker, names = Tracker(lab_directory(), ids()), RecordingNames()
    out: list[Event] = []
    for msg in AmiParser().feed(data):
        names.observe(msg)
        events = names.apply(tracker.feed(msg, NOW))
        names.forget(events)
        out += events
    return out


def test_the_name_is_the_files_base_name() -> None:
    assert recording_name(MIXMONITOR_PATH) == "1795270964.0"
    assert recording_name("20261121-142244-777888999-222333444.WAV") == "20261121-142244-777888999-222333444"
    assert recording_name("") == ""


def test_mixmonitor_names_the_recording_from_the_moment_the_pbx_reports_it() -> None:
    got = wire(replay_bytes(with_mixmonitor(SCENARIO, MIXMONITOR_PATH)), "pbx2is")
    assert [m["event"] for m in got] == ["dial", "answer_internal", "hangup_internal", "endcall"]
    # dial goes out on the caller's Newchannel, before the dial plan's first VarSet
    assert got[0]["record_name"] == "20261121-142244-777888999-222333444"
    assert {m["record_name"] for m in got[1:]} == {"1795270964.0"}


def test_without_mixmonitor_the_seeds_pattern() -> None:
    got = wire(replay_bytes((FIXTURES / f"{SCENARIO}.ami").read_bytes()), "pbx2is")
    # the truth: 777888999 called 222333444 at 2026-11-21T14:22:44Z
    t = truth(SCENARIO)["truth"]
    assert {m["record_name"] for m in got} == {f"20261121-142244-{t['caller']}-{t['did']}"}


def test_a_name_is_forgotten_with_the_calls_record() -> None:
    names = RecordingNames(limit=2)
    for msg in AmiParser().feed(with_mixmonitor(SCENARIO, MIXMONITOR_PATH)):
        names.observe(msg)
    events = Tracker(lab_directory(), ids()).feed_many(messages(SCENARIO), NOW)
    assert names.apply(events)[-1].party.record_name == "1795270964.0"
    names.forget(events)
    assert names.apply(events)[-1].party.record_name != "1795270964.0"


def test_fixture_helper_keeps_the_recording_parseable() -> None:
    msgs = AmiParser().feed(with_mixmonitor(SCENARIO, MIXMONITOR_PATH))
    added = [m for m in msgs if m.get("Variable") == "MIXMONITOR_FILENAME"]
    assert len(added) == 1
    assert (added[0].get("Linkedid"), added[0].get("Value")) == ("1795270964.0", MIXMONITOR_PATH)
    assert len(msgs) == len(messages(SCENARIO)) + 1

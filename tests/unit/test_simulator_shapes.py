"""The simulator's events have the recorded shapes: same header names, same order, per event type."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.scenarios import scenario

from labdata import SCENARIOS, lab_directory, messages

UID = re.compile(r"^\d{9,}\.\d+$")


def recorded_shapes() -> dict[str, set[tuple[str, ...]]]:
    shapes: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for name in SCENARIOS:
        for m in messages(name):
            if m.event:
                shapes[m.event].add(tuple(k for k, _ in m.headers))
    return shapes


RECORDED = recorded_shapes()


def simulated(name: str) -> list[AmiMessage]:
    return [m for _, m in scenario(name, lab_directory(), 1795270964.0)]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_event_has_a_recorded_shape(name: str) -> None:
    for m in simulated(name):
        keys = tuple(k for k, _ in m.headers)
        assert m.event in RECORDED, f"{m.event} never appears in the recordings"
        assert keys in RECORDED[m.event], f"{m.event}: {keys}"


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_tracked_event_names_match_the_recording(name: str) -> None:
    """The same set of call-tracking event types as the recording (noise aside)."""
    noise = {
        "FullyBooted",
        "SuccessfulAuth",
        "Newexten",
        "VarSet",
        "DeviceStateChange",
        "ExtensionStatus",
        "QueueMemberStatus",
        "HangupRequest",
        "SoftHangupRequest",
        "NewConnectedLine",
        "",
    }
    rec = {m.event for m in messages(name)} - noise
    sim = {m.event for m in simulated(name)} - noise
    assert sim == rec


def test_ids_and_timestamps() -> None:
    msgs = scenario("attended_transfer_cancelled", lab_directory(), 1795271061.0)
    stamps = [float(m.get("Timestamp")) for _, m in msgs]
    assert stamps == sorted(stamps)
    assert [t for t, _ in msgs] == pytest.approx([s - 1795271061.0 for s in stamps], abs=1e-5)
    news = [m for _, m in msgs if m.event == "Newchannel"]
    assert all(UID.match(m.get("Uniqueid")) for m in news)
    counters = [int(m.get("Uniqueid").split(".")[1]) for m in news]
    assert counters == list(range(len(news)))
    assert {m.get("Linkedid") for m in news} == {news[0].get("Uniqueid")}
    assert [m.get("Channel") for m in news][2:4] == [
        "Local/21@from-internal-00000001;1",
        "Local/21@from-internal-00000001;2",
    ]
    assert re.fullmatch(r"IAX2/trunk-\d+", news[0].get("Channel"))


def test_the_pause_reason_is_kept_whole() -> None:
    pauses = [m for _, m in scenario("agent_session", lab_directory(), 0.0) if m.event == "QueueMemberPause"]
    assert [(m.get("Paused"), m.get("PausedReason")) for m in pauses] == [("1", "Oběd"), ("0", "")]


def test_parameters_change_the_call() -> None:
    msgs = [
        m
        for _, m in scenario(
            "inbound_direct_answered",
            lab_directory(),
            0.0,
            caller="111222333",
            did="910104221",
            exten="21",
            talk_s=60.0,
        )
    ]
    first = next(m for m in msgs if m.event == "Newchannel")
    assert (first.get("CallerIDNum"), first.get("Exten")) == ("111222333", "910104221")
    dial = next(m for m in msgs if m.event == "DialBegin")
    assert dial.get("DestChannel").startswith("IAX2/21-")
    hangups = [float(m.get("Timestamp")) for m in msgs if m.event == "Hangup"]
    assert 61.0 < max(hangups) < 63.0


def test_a_directed_pickup_is_tracked_as_one() -> None:
    from callhook.core.events import EventType
    from callhook.core.tracker.tracker import Tracker

    from labdata import NOW, ids

    msgs = [m for _, m in scenario("inbound_direct_answered", lab_directory(), 0.0, picked_by="21")]
    pickup = next(m for m in msgs if m.event == "Pickup")
    assert pickup.get("Channel").startswith("IAX2/21-")
    assert pickup.get("TargetChannel").startswith("IAX2/20-")
    tracker = Tracker(lab_directory(), ids())
    events = [
        (e.type, e.leg.number if e.leg else "", e.hangup.reason if e.hangup else "")
        for e in tracker.feed_many(msgs, NOW)
    ]
    assert (EventType.CALL_PICKUP, "21", "") in events
    assert (EventType.CALL_HANGUP, "20", "Answered elsewhere") in events
    assert tracker.calls == {}


@pytest.mark.parametrize("name", SCENARIOS)
def test_same_hangup_causes_and_dial_statuses_as_the_recording(name: str) -> None:
    """What the vendor events cannot show: causes (26 vs 0), repeated DialEnd CANCEL, DialState RINGING."""

    def summary(msgs: list[AmiMessage]) -> tuple[list[tuple[str, str]], list[str], list[str]]:
        causes = sorted((m.get("Cause"), m.get("Cause-txt")) for m in msgs if m.event == "Hangup")
        dial = sorted(m.get("DialStatus") for m in msgs if m.event in ("DialEnd", "DialState"))
        queue = [m.event for m in msgs if m.event.startswith(("Queue", "Agent")) and m.event != "QueueMemberStatus"]
        return causes, dial, queue

    assert summary(simulated(name)) == summary(messages(name))

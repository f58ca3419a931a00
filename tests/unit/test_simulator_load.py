"""The call-centre load model: deterministic, every call ends, rates as asked, calls overlap."""

from __future__ import annotations

from collections import Counter

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType
from callhook.core.tracker.tracker import Tracker
from callhook.sources.simulator.load import Load
from callhook.sources.simulator.simulation import DEFAULT_START, Simulation, simulate_events

from labdata import NOW, ids, lab_directory

HOUR = Load(rate=0.1, duration_s=3600.0)


def run(load: Load, seed: int) -> list[AmiMessage]:
    return list(simulate_events(lab_directory(), load=load, seed=seed))


def calls(msgs: list[AmiMessage]) -> set[str]:
    return {m.get("Linkedid") for m in msgs if m.event == "Newchannel"}


def test_the_same_seed_gives_the_same_events() -> None:
    load = Load(rate=0.2, duration_s=600.0)
    assert run(load, 7) == run(load, 7)
    assert run(load, 7) != run(load, 8)


def test_every_call_ends_no_ghosts() -> None:
    sim = Simulation(lab_directory(), seed=3, load=HOUR)
    msgs = [m for _, m in sim.run()]
    assert sim.pbx.channels == {}
    assert sim.pbx.bridges == {}
    assert not any(sim.pbx.waiting.values())
    tracker = Tracker(lab_directory(), ids())
    events = tracker.feed_many(msgs, NOW)
    assert tracker.calls == {}
    assert tracker.chans == {}
    assert tracker.live_calls() == []
    counted = Counter(e.type for e in events)
    assert counted[EventType.CALL_NEW] == counted[EventType.CALL_ENDED] == counted[EventType.CALL_RECORD] > 0


@pytest.mark.parametrize("seed", [1, 2])
def test_arrival_rate_is_roughly_right(seed: int) -> None:
    msgs = run(HOUR, seed)
    expected = HOUR.rate * 3600.0  # 360; a Poisson count's sd is 19
    assert 0.8 * expected < len(calls(msgs)) < 1.2 * expected
    span = float(msgs[-1].get("Timestamp")) - float(msgs[0].get("Timestamp"))
    assert 3000.0 < span < 3600.0 + 1200.0  # arrivals stop at the hour; the last calls end soon after


def test_bounded_by_a_number_of_calls() -> None:
    msgs = run(Load(rate=1.0, duration_s=None, max_calls=40), 5)
    assert len(calls(msgs)) == 40


def test_timestamps_never_go_back_and_calls_overlap() -> None:
    msgs = run(Load(rate=0.5, duration_s=600.0), 11)
    stamps = [float(m.get("Timestamp")) for m in msgs]
    assert stamps == sorted(stamps)
    live: set[str] = set()
    most = 0
    for m in msgs:
        if m.event == "Newchannel":
            live.add(m.get("Linkedid"))
        elif m.event == "Hangup" and m.get("Uniqueid") == m.get("Linkedid"):
            live.discard(m.get("Linkedid"))
        most = max(most, len(live))
    assert most >= 3


def test_the_call_centre_does_what_a_call_centre_does() -> None:
    msgs = run(HOUR, 3)  # a seed whose hour has every kind of call (pickups are rare: 3% and an idle picker)
    events = Counter(m.event for m in msgs)
    for name in (
        "QueueCallerJoin",
        "AgentConnect",
        "AgentRingNoAnswer",
        "QueueCallerAbandon",
        "BlindTransfer",
        "Hold",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "DTMFEnd",
        "Cdr",
        "Pickup",
        "LocalBridge",
    ):
        assert events[name] > 0, name
    reasons = {m.get("PausedReason") for m in msgs if m.event == "QueueMemberPause" and m.get("Paused") == "1"}
    assert reasons == {"Oběd"}
    causes = Counter(m.get("Cause") for m in msgs if m.event == "Hangup")
    assert {"0", "16", "26"} <= set(causes)
    trunk_out = [m for m in msgs if m.event == "DialBegin" and m.get("DialString").startswith("trunk/")]
    assert trunk_out


def test_a_load_needs_a_positive_rate_and_span() -> None:
    with pytest.raises(ValueError, match="duration_s"):
        Load(duration_s=0.0)
    with pytest.raises(ValueError, match="rate"):
        Load(rate=0.0)


def test_an_open_ended_load_keeps_calling_and_its_agents_stay_logged_in() -> None:
    """``callhook simulate`` without --duration: arrivals never stop, nobody logs out for good."""
    sim = Simulation(lab_directory(), seed=3, load=Load(rate=0.2, duration_s=None))
    msgs = [m for _, m in sim.advance(DEFAULT_START + 2 * 3600)]
    starts = [m for m in msgs if m.event == "Newchannel" and m.get("Uniqueid") == m.get("Linkedid")]
    late = [m for m in starts if float(m.get("Timestamp")) > DEFAULT_START + 1.5 * 3600]
    assert len(starts) > 2 * 3600 * 0.2 * 0.7  # roughly rate x time
    assert late  # still calling after an hour and a half (a bounded load would have stopped)
    assert sim.next_time() is not None
    assert not [m for m in msgs if m.event == "QueueMemberRemoved"]

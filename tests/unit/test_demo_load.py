"""``callhook demo``'s default load, measured: a call centre of that size that copes.

The demo's PBX (four agents; queues NOC, ring-all, and SALES, round robin) under
:func:`demo_load` is simulated for half an hour; its AMI messages go through the
tracker and the statistics, as in ``callhook serve``. What a supervisor expects of
a healthy call centre of that size: a service level around 80 % (answered within
the queue's 20 s), a few abandoned calls (but not one in ten), some missed calls
to call back, and something to see within the first ten seconds.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callhook.cli.lab import lab
from callhook.core import stats
from callhook.core.events import Event, EventType, new_event_id
from callhook.core.tracker.tracker import Tracker
from callhook.sources.simulator.load import DEMO_RATE, Load, demo_load
from callhook.sources.simulator.simulation import simulate_events

START = 1_780_000_000.0
SPAN = 1800.0


def _events(load: Load, seed: int) -> list[Event]:
    pbx = lab()
    msgs = list(simulate_events(pbx.directory, load=load, seed=seed, start=START))
    n = itertools.count()
    tracker = Tracker(pbx.directory, lambda ts: new_event_id(int(ts.timestamp() * 1000), next(n).to_bytes(10, "big")))
    return tracker.feed_many(msgs, datetime.fromtimestamp(START, UTC))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_demo_is_a_busy_call_centre_that_copes(seed: int) -> None:
    events = _events(demo_load(duration_s=SPAN), seed)
    levels = {q.name: q.service_level for q in lab().directory.queues}
    queues = stats.queue_stats(events, levels)
    offered = sum(q.offered for q in queues)
    within = sum(q.answered_within for q in queues)
    abandoned = sum(q.abandoned for q in queues)
    calls = [e for e in events if e.type is EventType.CALL_NEW]
    assert 0.6 * DEMO_RATE * SPAN < len(calls) < 1.4 * DEMO_RATE * SPAN
    assert offered > 0.5 * len(calls), "most calls go through a queue"
    assert 0.72 <= within / offered <= 0.95, f"service level {within / offered:.2f}"
    assert 0 < abandoned <= 0.08 * offered, f"{abandoned} abandoned of {offered}"
    missed = stats.missed_calls(events)
    assert 0 < len(missed) <= 0.2 * len(calls), f"{len(missed)} numbers to call back of {len(calls)} calls"
    first = min(e.ts for e in calls)
    assert first - datetime.fromtimestamp(START, UTC) <= timedelta(seconds=10), "lively at once"


def test_the_old_default_swamped_the_agents() -> None:
    """The measure can fail: 0.5 calls/s (the demo's former default) drowns four agents."""
    events = _events(Load(rate=0.5, duration_s=300.0, lunch_s=(20.0, 90.0)), 1)
    queues = stats.queue_stats(events, {q.name: q.service_level for q in lab().directory.queues})
    assert sum(q.answered_within for q in queues) / sum(q.offered for q in queues) < 0.5


def test_first_call_delay_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="first_s"):
        Load(first_s=-1.0)

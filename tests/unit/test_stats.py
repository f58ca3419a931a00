"""core.stats: queue figures and missed calls to call back, from canonical events."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from callhook.core.events import CallOutcome, CallParty, Direction, Event, EventType, QueueCall
from callhook.core.stats import missed_calls, queue_stats

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
_n = 0


def _ev(etype: EventType, call_id: str, at: float, **kw: object) -> Event:
    global _n
    _n += 1
    return Event(id=f"E{_n:025d}", type=etype, ts=T0 + timedelta(seconds=at), call_id=call_id, seq=_n, **kw)  # type: ignore[arg-type]


def _visit(
    call_id: str, queue: str, at: float, *, wait: float | None, talk: float = 0, result: str = "success"
) -> list[Event]:
    out = [_ev(EventType.QUEUE_JOINED, call_id, at, queue=queue, queue_call=QueueCall())]
    if wait is not None:
        out.append(_ev(EventType.QUEUE_BRIDGED, call_id, at + wait, queue=queue, queue_call=QueueCall(wait=wait)))
        out.append(
            _ev(
                EventType.QUEUE_LEFT,
                call_id,
                at + wait + talk,
                queue=queue,
                queue_call=QueueCall(wait=wait, call_voice_sec=talk, cc_result="success"),
            )
        )
    else:
        out.append(
            _ev(EventType.QUEUE_LEFT, call_id, at + 40, queue=queue, queue_call=QueueCall(wait=40, cc_result=result))
        )
    return out


def _ended(
    call_id: str,
    at: float,
    caller: str,
    called: str,
    *,
    answered: bool,
    tenant: str = "",
    direction: Direction = Direction.INCOMING,
) -> Event:
    return _ev(
        EventType.CALL_ENDED,
        call_id,
        at,
        tenant=tenant,
        party=CallParty(caller_num=caller, called_num=called, direction=direction),
        outcome=CallOutcome(answered=answered, missed=not answered),
    )


def test_queue_figures() -> None:
    events = [
        *_visit("a", "NOC", 0, wait=5, talk=60),
        *_visit("b", "NOC", 10, wait=25, talk=120),
        *_visit("c", "NOC", 20, wait=None, result="abandoned"),
        *_visit("d", "NOC", 30, wait=None, result="cancel"),
        *_visit("e", "SALES", 0, wait=8, talk=30),
    ]
    random.Random(7).shuffle(events)  # order does not matter
    by = {s.queue: s for s in queue_stats(events, {"NOC": 20, "SALES": 10}, queues=["NOC", "SALES", "EMPTY"])}
    noc = by["NOC"]
    assert (noc.offered, noc.answered, noc.abandoned, noc.answered_within) == (4, 2, 1, 1)
    assert noc.service_level == pytest.approx(0.25)
    assert noc.service_level_seconds == 20
    assert noc.asa == pytest.approx(15)
    assert noc.aht == pytest.approx(90)
    assert noc.abandon_rate == pytest.approx(0.25)
    assert (by["SALES"].answered_within, by["SALES"].service_level) == (1, 1.0)
    empty = by["EMPTY"]
    assert (empty.offered, empty.service_level, empty.asa, empty.aht, empty.abandon_rate) == (0, None, None, None, None)
    over = {s.queue: s for s in queue_stats(events, {"NOC": 20}, override=30)}
    assert over["NOC"].answered_within == 2
    assert over["SALES"].service_level_seconds == 30


def test_a_visit_that_joined_before_the_range_is_not_offered() -> None:
    events = _visit("a", "NOC", 0, wait=5, talk=60)[1:]  # no queue.joined
    assert queue_stats(events, {}) == []


def test_an_answered_visit_still_talking_counts_for_asa_not_aht() -> None:
    events = _visit("a", "NOC", 0, wait=12, talk=60)[:2]
    (s,) = queue_stats(events, {})
    assert (s.answered, s.asa, s.aht, s.service_level_seconds) == (1, 12, None, 20)


def test_missed_calls_grouped_and_cleared_by_a_later_answered_call() -> None:
    events = [
        _ended("1", 0, "604198497", "222333444", answered=False),
        _ended("2", 60, "604198497", "222333444", answered=False),
        _ended("3", 90, "777000111", "222333444", answered=False),
        _ended("4", 120, "20", "777000111", answered=True, direction=Direction.OUTGOING),  # called back
        _ended("5", 150, "555", "222333444", answered=False),
        _ended("6", 160, "555", "222333444", answered=True),  # called again and got through
        _ended("7", 170, "555", "222333444", answered=False),  # ... and missed again later
        _ended("8", 175, "", "222333444", answered=False),  # anonymous
        _ended("9", 180, "20", "21", answered=False, direction=Direction.OUTGOING_LOCAL),  # not incoming
        _ended("10", 190, "604198497", "222333444", answered=False, tenant="globex"),
    ]
    out = missed_calls(reversed(events))
    assert [(m.tenant, m.number, m.count, m.call_ids) for m in out] == [
        ("globex", "604198497", 1, ("10",)),
        ("", "555", 1, ("7",)),
        ("", "604198497", 2, ("1", "2")),
    ]
    assert out[2].first == T0
    assert out[2].last == T0 + timedelta(seconds=60)


def test_an_answer_before_the_missed_call_clears_nothing() -> None:
    events = [_ended("1", 0, "555", "x", answered=True), _ended("2", 10, "555", "x", answered=False)]
    assert [m.number for m in missed_calls(events)] == ["555"]

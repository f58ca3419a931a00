"""The tracker's state machines (core/tracker/machine.py), as h2 tests its own: every
(state, input) pair — all of them, one test each — is either a transition of the table
or an explicit Unexpected, never a silent ignore; Hypothesis drives random input
sequences through both machines; and driven from AMI, an unexpected input is counted,
changes nothing and is handed to the adapter once.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType
from callhook.core.tracker.machine import (
    LEG_TABLE,
    VISIT_TABLE,
    Effect,
    LegInput,
    LegState,
    Transition,
    Unexpected,
    VisitInput,
    VisitState,
    step,
)
from callhook.core.tracker.tracker import Tracker

from labdata import NOW, ids, lab_directory, messages

LEG_PAIRS = list(itertools.product(LegState, LegInput))
VISIT_PAIRS = list(itertools.product(VisitState, VisitInput))


@pytest.mark.parametrize("pair", LEG_PAIRS, ids=lambda p: f"{p[0].value}-{p[1].value}")
def test_every_leg_pair_is_decided(pair: tuple[LegState, LegInput]) -> None:
    state, inp = pair
    got = step(state, inp, "u1")
    if pair in LEG_TABLE:
        assert got == LEG_TABLE[pair]
        assert isinstance(got, Transition)
        assert isinstance(got.state, LegState)
    else:
        assert got == Unexpected("leg", state.value, inp.value, "u1")


@pytest.mark.parametrize("pair", VISIT_PAIRS, ids=lambda p: f"{p[0].value}-{p[1].value}")
def test_every_visit_pair_is_decided(pair: tuple[VisitState, VisitInput]) -> None:
    state, inp = pair
    got = step(state, inp, "m1")
    if pair in VISIT_TABLE:
        assert got == VISIT_TABLE[pair]
        assert isinstance(got, Transition)
        assert isinstance(got.state, VisitState)
    else:
        assert got == Unexpected("visit", state.value, inp.value, "m1")


@given(st.lists(st.sampled_from(list(LegInput)), max_size=30))
def test_a_leg_never_leaves_the_end(inputs: list[LegInput]) -> None:
    """Whatever comes: once ENDED a leg stays ENDED, and a hangup always ends a live leg."""
    state = LegState.ORIGINATING
    for inp in inputs:
        got = step(state, inp)
        if isinstance(got, Transition):
            assert isinstance(got.state, LegState)
            if state is LegState.ENDED:
                assert got.state is LegState.ENDED
                assert got.effect is Effect.NONE
            if inp is LegInput.HANGUP and state is not LegState.ENDED:
                assert (got.state, got.effect) == (LegState.ENDED, Effect.HANGUP)
            state = got.state


@given(st.lists(st.sampled_from(list(VisitInput)), max_size=30))
def test_leaving_is_told_at_most_once(inputs: list[VisitInput]) -> None:
    state, lefts = VisitState.WAITING, 0
    for inp in inputs:
        got = step(state, inp)
        if isinstance(got, Transition):
            lefts += got.effect is Effect.LEFT
            assert isinstance(got.state, VisitState)
            state = got.state
    assert lefts <= 1
    assert lefts == (state is VisitState.LEFT)


def test_holds_come_in_pairs() -> None:
    """HOLD and UNHOLD effects only alternate: no unhold without a hold before it."""
    assert LEG_TABLE[(LegState.ANSWERED, LegInput.UNHOLD)].effect is Effect.NONE
    assert LEG_TABLE[(LegState.ANSWERED, LegInput.HOLD)] == Transition(LegState.HELD, Effect.HOLD)
    assert LEG_TABLE[(LegState.HELD, LegInput.UNHOLD)] == Transition(LegState.ANSWERED, Effect.UNHOLD)
    assert LEG_TABLE[(LegState.HELD, LegInput.HOLD)].effect is Effect.NONE


def test_step_refuses_a_foreign_input() -> None:
    with pytest.raises(TypeError):
        step(LegState.RINGING, VisitInput.OFFER)


def _msg(*headers: tuple[str, str]) -> AmiMessage:
    return AmiMessage.of(*headers)


def test_an_unexpected_input_is_counted_and_changes_nothing() -> None:
    """A Hold on a leg that is still ringing (no table entry): no event, counted once, handed over once."""
    tracker = Tracker(lab_directory(), ids())
    msgs = messages("inbound_direct_answered")
    ringing = next(i for i, m in enumerate(msgs) if m.event == "DialBegin")
    for m in msgs[: ringing + 1]:
        tracker.feed(m, NOW)
    leg = next(c for c in tracker.chans.values() if c.ext is not None)
    assert leg.leg is LegState.RINGING
    hold = _msg(("Event", "Hold"), ("Channel", leg.name), ("Uniqueid", leg.uid), ("Linkedid", leg.linkedid))
    assert tracker.feed(hold, NOW) == []
    assert leg.leg is LegState.RINGING
    assert tracker.unexpected == {("leg", "ringing", "hold"): 1}
    assert tracker.take_unexpected() == [Unexpected("leg", "ringing", "hold", leg.uid)]
    assert tracker.take_unexpected() == []
    # the rest of the call is told as without it
    rest = [e.type for m in msgs[ringing + 1 :] for e in tracker.feed(m, NOW)]
    assert rest[-1] is EventType.CALL_RECORD
    assert EventType.CALL_ANSWERED in rest


def test_the_recordings_hold_no_surprise() -> None:
    """Every recorded scenario runs through the tables without an unexpected input."""
    from labdata import SCENARIOS

    for name in SCENARIOS:
        tracker = Tracker(lab_directory(), ids(), presence=True)
        for m in messages(name):
            tracker.feed(m, NOW)
        assert tracker.unexpected == {}, name

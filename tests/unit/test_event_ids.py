"""Deterministic event ids (docs/delivery.md, "Event ids"): the same fact derived twice,
by two readers of one PBX or by a reader after a takeover, gets the same id."""

from __future__ import annotations

import re

import pytest

from callhook.bootstrap import pbx_ids
from callhook.core.events import EventType, derived_event_id, ulid_ms
from callhook.core.tracker.tracker import Tracker

from labdata import NOW, SCENARIOS, ids, lab_directory, messages

ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def test_derived_id_is_a_ulid_of_the_given_time() -> None:
    i = derived_event_id(1_795_271_025_500, "pbx-a", "call", "1795271025.1", "call.new", 1)
    assert ULID.match(i)
    assert ulid_ms(i) == 1_795_271_025_500
    assert i == derived_event_id(1_795_271_025_500, "pbx-a", "call", "1795271025.1", "call.new", 1)


@pytest.mark.parametrize(
    "other",
    [
        ("pbx-b", "call", "1795271025.1", "call.new", 1),  # another PBX
        ("pbx-a", "agent", "1795271025.1", "call.new", 1),  # another scope
        ("pbx-a", "call", "1795271025.2", "call.new", 1),  # another call
        ("pbx-a", "call", "1795271025.1", "call.ringing", 1),  # another type
        ("pbx-a", "call", "1795271025.1", "call.new", 2),  # another place in the call
    ],
)
def test_any_part_of_the_key_changes_the_id(other: tuple[str, str, str, str, int]) -> None:
    base = derived_event_id(1_795_271_025_500, "pbx-a", "call", "1795271025.1", "call.new", 1)
    assert derived_event_id(1_795_271_025_500, *other) != base


def test_ids_sort_by_time_first() -> None:
    early = derived_event_id(1_000, "z", "call", "z", "call.new", 9)
    late = derived_event_id(1_001, "a", "call", "a", "call.new", 1)
    assert early < late


def _replay(name: str, pbx: str) -> list[str]:
    tracker = Tracker(lab_directory(), ids(), presence=True, ids=pbx_ids(pbx))
    return [ev.id for msg in messages(name) for ev in tracker.feed(msg, NOW)]


@pytest.mark.parametrize("name", SCENARIOS)
def test_two_readers_of_one_pbx_derive_the_same_ids(name: str) -> None:
    first, second = _replay(name, "pbx-a"), _replay(name, "pbx-a")
    assert first, "the recording tells events"
    assert first == second
    assert len(set(first)) == len(first), "every event of a recording has its own id"
    assert all(ULID.match(i) for i in first)


@pytest.mark.parametrize("name", ["inbound_ringall_answered", "agent_session"])
def test_two_pbxs_never_share_an_id(name: str) -> None:
    assert not set(_replay(name, "pbx-a")) & set(_replay(name, "pbx-b"))


def test_call_ids_follow_the_pbx_time() -> None:
    """The time prefix is the event's PBX timestamp, so ids sort like the recording."""
    tracker = Tracker(lab_directory(), ids(), ids=pbx_ids("pbx-a"))
    evs = [ev for msg in messages("blind_transfer") for ev in tracker.feed(msg, NOW)]
    assert [ulid_ms(e.id) for e in evs] == [int(e.ts.timestamp() * 1000) for e in evs]
    assert all(e.type in EventType for e in evs)

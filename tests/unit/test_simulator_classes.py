"""Event classes and the Events mask, as Asterisk 23 has them (main/manager.c, the recordings)."""

from __future__ import annotations

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.classes import ALL, event_classes, parse_mask
from callhook.sources.simulator.shapes import event

from labdata import SCENARIOS, messages


def test_every_recorded_event_has_the_class_the_simulator_gives_it() -> None:
    seen: dict[str, str] = {}
    for name in SCENARIOS:
        for m in messages(name):
            if m.event and m.has("Privilege"):
                seen.setdefault(m.event, m.get("Privilege"))
    assert len(seen) > 30
    for name, privilege in seen.items():
        assert event(name, None).get("Privilege") == privilege, name


@pytest.mark.parametrize(
    ("value", "classes"),
    [
        ("on", ALL),
        ("yes", ALL),
        ("all", ALL),
        ("call,all", ALL),
        ("off", frozenset()),
        ("no", frozenset()),
        ("0", frozenset()),
        ("1", frozenset({"system"})),  # a number is a bit mask, even 1
        ("2", frozenset({"call"})),
        ("34", frozenset({"call", "agent"})),
        ("call", frozenset({"call"})),
        ("call,agent", frozenset({"call", "agent"})),
        ("Call,agent", frozenset({"agent"})),  # get_perm() compares exactly
        ("call, agent", frozenset({"call"})),  # " agent" is not a class
        ("ON", ALL),  # ast_true() does not care about case
        ("call,nonsense", frozenset({"call"})),
        ("nonsense", frozenset()),
        ("", None),
    ],
)
def test_masks(value: str, classes: frozenset[str] | None) -> None:
    assert parse_mask(value) == classes


def test_an_event_class_comes_from_its_privilege_header() -> None:
    assert event_classes(AmiMessage.of(("Event", "VarSet"), ("Privilege", "dialplan,all"))) == {"dialplan"}
    assert event_classes(AmiMessage.of(("Event", "X"), ("Privilege", "call,originate,all"))) == {"call", "originate"}
    assert event_classes(AmiMessage.of(("Event", "X"))) == frozenset()

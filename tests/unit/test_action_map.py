"""The further IS2PBX actions' mapping (pure): the defaults as Asterisk's AMI documents
the actions, rendering, and every way a configured entry can be wrong."""

from __future__ import annotations

import pytest

from callhook.core.ami.action_map import DEFAULTS, MappingError, parse_mapping, render

VALUES = {"exten": "20", "interface": "IAX2/20", "channel": "IAX2/20-0001", "peer": "IAX2/trunk-0002"}


def test_defaults_render_the_ami_actions() -> None:
    # Asterisk's manual: BlindTransfer (Channel, Context, Exten), Atxfer (Channel, Exten, Context),
    # Redirect (Channel, Exten, Context, Priority), Park (Channel, TimeoutChannel, Parkinglot),
    # QueuePenalty (Interface, Penalty, Queue), QueueMemberRingInUse (Interface, RingInUse, Queue)
    t = render(DEFAULTS["transfer"], {**VALUES, "target": "22"})
    assert (t.name, t.headers) == (
        "BlindTransfer",
        (("Channel", "IAX2/20-0001"), ("Context", "from-internal"), ("Exten", "22")),
    )
    assert render(DEFAULTS["attended_transfer"], {**VALUES, "target": "22"}).name == "Atxfer"
    r = render(DEFAULTS["redirect"], {**VALUES, "target": "777888999"})
    assert r.get("Priority") == "1"
    assert r.get("Exten") == "777888999"
    p = render(DEFAULTS["park"], {**VALUES, "parkinglot": "default"})
    assert (p.get("Channel"), p.get("TimeoutChannel")) == ("IAX2/trunk-0002", "IAX2/20-0001")
    q = render(DEFAULTS["agent_penalty"], {**VALUES, "penalty": "3", "queue": ""})
    assert q.headers == (("Interface", "IAX2/20"), ("Penalty", "3"))  # no queue: every queue
    assert DEFAULTS["park"].needs_channel
    assert not DEFAULTS["agent_penalty"].needs_channel


def test_params_are_checked() -> None:
    target = DEFAULTS["transfer"].params[0]
    assert target.check("22") == "22"
    for bad in ("", None, "22\r\nAction: Command", "x" * 40):
        with pytest.raises(ValueError, match="target"):
            target.check(bad)
    lot = DEFAULTS["park"].params[0]
    assert lot.check(None) == "default"


def test_a_configured_entry_adds_or_replaces() -> None:
    m = parse_mapping(
        {
            "agent_state": {
                "action": "QueuePause",
                "headers": {"Interface": "{interface}", "Paused": "{paused}", "Reason": "{reason}"},
                "params": {
                    "paused": {"pattern": "true|false"},
                    "reason": {"pattern": "[A-Za-z ]{1,32}", "default": ""},
                },
            },
            "transfer": {
                "action": "BlindTransfer",
                "headers": {"Channel": "{channel}", "Context": "{ctx}", "Exten": "{target}"},
                "params": {"target": {}},
                "consts": {"ctx": "office"},
            },
        }
    )
    assert set(DEFAULTS) < set(m)
    assert render(m["transfer"], {**VALUES, "target": "22"}).get("Context") == "office"
    a = render(m["agent_state"], {**VALUES, "paused": "true", "reason": ""})
    assert a.headers == (("Interface", "IAX2/20"), ("Paused", "true"))


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        ({"action": "Command", "headers": {"Command": "core stop now"}}, "actions.x.action"),
        ({"action": "Originate", "headers": {"Channel": "{channel}"}}, "actions.x.action"),
        ({"action": "Redirect"}, "actions.x.headers"),
        ({"action": "Redirect", "headers": {"Channel": "{nope}"}}, "unknown placeholder"),
        ({"action": "Redirect", "headers": {"ActionID": "1"}}, "actions.x.headers.ActionID"),
        ({"action": "Redirect", "headers": {"Channel": "a\r\nAction: Command"}}, "actions.x.headers.Channel"),
        ({"action": "Redirect", "headers": {"Exten": "{t}"}, "params": {"t": {"pattern": "("}}}, "pattern"),
        ({"action": "Redirect", "headers": {"Exten": "{t}"}, "params": {"t": {"pattern": "[^x]*"}}}, "line break"),
        ({"action": "Redirect", "headers": {"Exten": "{t}"}, "params": {"t": {"default": "x"}}}, "default"),
        ({"action": "Redirect", "headers": {"Exten": "{channel}"}, "params": {"channel": {}}}, "parameter name"),
        ({"action": "Redirect", "headers": {"Exten": "1"}, "colour": "red"}, "unknown key"),
        ("Redirect", "expected a table"),
    ],
)
def test_bad_entries_are_named(entry: object, field: str) -> None:
    with pytest.raises(MappingError, match=field):
        parse_mapping({"x": entry})


@pytest.mark.parametrize("name", ["dial", "hangup", "Transfer", "a-b", ""])
def test_names_the_routes_take_are_refused(name: str) -> None:
    with pytest.raises(MappingError, match="name"):
        parse_mapping({name: {"action": "Redirect", "headers": {"Exten": "1"}}})

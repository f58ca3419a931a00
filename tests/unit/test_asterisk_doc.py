"""docs/asterisk.md's manager.conf, loaded as Asterisk 23 loads it, against every recording.

The block is read from the document itself, so the doc cannot drift from what is
tested. Asterisk's rules (``main/manager.c``, ``main/config.c``) are implemented by the
simulator's ``manager_conf`` and ``filters`` modules, which have tests of their own
(``test_simulator_filters.py``, cases from Asterisk's own unit tests).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from callhook.core.ami.actions import noise_filters
from callhook.core.directory import Directory
from callhook.core.tracker.tracker import Tracker
from callhook.sources.simulator.filters import SessionFilters
from callhook.sources.simulator.manager_conf import parse_manager_conf

from labdata import NOW, REPO, SCENARIOS, ids, lab_directory, messages

DOC = REPO / "docs" / "asterisk.md"


def doc_manager_conf() -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"## 1\. `manager.conf`\s+```ini\n(.*?)```", text, re.S)
    assert m is not None, "docs/asterisk.md lost its manager.conf block"
    return m.group(1)


def user_filters() -> SessionFilters:
    conf = parse_manager_conf(doc_manager_conf())
    assert conf.warnings == []  # Asterisk 23 would have ignored a line
    out = SessionFilters()
    for f in conf.users["callhook"].filters:
        out.add_entry(f)
    return out


def client_filters() -> SessionFilters:
    out = SessionFilters()
    for f in noise_filters():
        out.add(f.pattern, f.criteria)
    return out


def test_the_documented_user_loads_whole() -> None:
    conf = parse_manager_conf(doc_manager_conf())
    assert conf.warnings == []
    user = conf.users["callhook"]
    assert user.secret == "change-me-to-a-long-random-secret"
    assert len(user.filters) == 5
    assert {"call", "agent", "dialplan", "cdr"} <= user.read


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_documented_filters_keep_what_callhook_reads(name: str) -> None:
    flt = user_filters()
    msgs = [m for m in messages(name) if m.event]
    kept = [m for m in msgs if flt.passes(m)]
    for m in msgs:
        if m.event in ("Newchannel", "Hangup", "Cdr", "DialBegin", "DialEnd", "BridgeEnter", "QueueCallerJoin"):
            assert m in kept, m.event
        if m.event in ("Newexten", "DeviceStateChange") or m.event.startswith("RTCP"):
            assert m not in kept
        if m.event == "ExtensionStatus":  # the extensions' presence
            assert m in kept
        if m.event == "VarSet":
            var = m.get("Variable")
            wanted = var.startswith(("_", "~HASH~SIP_CAUSE~")) or var in ("C2D_EXTEN", "AMDSTATUS")
            assert (m in kept) == wanted, var


def test_the_documented_filters_cut_the_stream_by_more_than_half() -> None:
    flt = user_filters()
    msgs = [m for name in SCENARIOS for m in messages(name) if m.event]
    kept = sum(1 for m in msgs if flt.passes(m))
    assert kept < len(msgs) / 2, (kept, len(msgs))


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_documented_filters_are_callhooks_own_login_filters(name: str) -> None:
    """Same events through manager.conf as through the Filter actions the client sends."""
    mine, client = user_filters(), client_filters()
    for m in messages(name):
        assert mine.passes(m) == client.passes(m), m.headers


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_tracker_sees_the_same_calls_through_the_filter(name: str) -> None:
    flt = user_filters()
    full, cut = Tracker(lab_directory(), ids()), Tracker(lab_directory(), ids())
    a = [e for m in messages(name) for e in full.feed(m, NOW)]
    b = [e for m in messages(name) if flt.passes(m) for e in cut.feed(m, NOW)]
    assert a  # every recording makes events
    assert b == a


def test_the_custom_field_survives() -> None:
    flt = user_filters()
    custom = [m for m in messages("custom_field") if m.event == "VarSet" and "ipbx_custom_field" in m.get("Variable")]
    assert custom
    assert all(flt.passes(m) for m in custom)


def test_the_lines_the_old_doc_had_are_ignored_by_asterisk() -> None:
    """The issue's 23.4.1 log: no '=' in the line, and a look-ahead regex does not compile."""
    old = (
        "[callhook]\n"
        "secret = x\n"
        "eventfilter(action(exclude),name(Newexten))\n"
        "eventfilter(action(exclude),name(VarSet),header(Variable),method(regex)) = ^(?!_*ipbx_custom_field$).\n"
    )
    conf = parse_manager_conf(old)
    assert conf.warnings[0] == "No '=' (equal sign) in line 3 of manager.conf"
    assert "unable to compile regex filter" in conf.warnings[1]
    assert conf.users["callhook"].filters == []


def test_the_directory_example_ships_and_loads() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "../shared" not in text
    example = Path(DOC.parent / "examples" / "directory.json")
    assert "examples/directory.json" in text
    directory = Directory.from_mapping(json.loads(example.read_text(encoding="utf-8")))
    assert directory.extension("20") is not None
    assert directory.queue("NOC") is not None

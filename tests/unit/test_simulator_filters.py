"""The simulated AMI's Filter action agrees with the filters callhook's client installs."""

from __future__ import annotations

import pytest

from callhook.core.ami.actions import EventFilter, noise_filters
from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.filters import FilterCompileError, FilterError, SessionFilters, parse_filter


def ev(name: str, **kw: str) -> AmiMessage:
    return AmiMessage.of(("Event", name), *kw.items())


def installed(filters: tuple[EventFilter, ...]) -> SessionFilters:
    session = SessionFilters()
    for f in filters:
        session.add(f.pattern, f.criteria)
    return session


def test_the_client_default_filters() -> None:
    session = installed(noise_filters())
    assert session.passes(ev("Hangup", Cause="16"))
    assert session.passes(ev("VarSet", Variable="__ipbx_custom_field", Value="987654"))
    assert session.passes(ev("VarSet", Variable="C2D_EXTEN", Value="20"))
    assert not session.passes(ev("VarSet", Variable="DIALSTATUS", Value="ANSWER"))
    assert not session.passes(ev("Newexten"))
    assert not session.passes(ev("DeviceStateChange"))
    assert not session.passes(ev("RTCPSent"))


def test_legacy_regex_filters() -> None:
    session = SessionFilters()
    assert session.passes(ev("VarSet"))  # no filter: everything
    session.add("!Event: VarSet")
    assert not session.passes(ev("VarSet"))
    assert session.passes(ev("Newchannel"))
    session.add("Event: (Newchannel|Hangup)")
    assert not session.passes(ev("Newstate"))
    assert session.passes(ev("Hangup"))


@pytest.mark.parametrize(
    ("criteria", "pattern"),
    [("action(maybe)", "x"), ("method(fuzzy)", "x"), ("action(include),method(regex)", ""), ("", "(")],
)
def test_bad_filters_are_refused(criteria: str, pattern: str) -> None:
    with pytest.raises(FilterError):
        SessionFilters().add(pattern, criteria)


# ----------------------------------------------------------- Asterisk's own cases
# main/manager.c, AST_TEST_DEFINE(eventfilter_test_creation) and (eventfilter_test_matching):
# the same criteria, patterns and expected results.
NEWCHANNEL = AmiMessage.of(("Event", "Newchannel"), ("Channel", "XXX"), ("Someheader", "YYY"))
VARSET = AmiMessage.of(("Event", "VarSet"), ("Channel", "ABC"), ("Someheader", "XXX"))


@pytest.mark.parametrize(
    ("criteria", "pattern", "exclude", "event", "matches"),
    [
        ("eventfilter", "XXX", False, NEWCHANNEL, True),
        ("eventfilter", "!XXX", True, VARSET, True),
        ("eventfilter(name(VarSet),method(none))", "", False, VARSET, True),
        ("eventfilter(name(Newchannel),method(regex))", "X[XYZ]X", False, NEWCHANNEL, True),
        ("eventfilter(name(Newchannel),method(regex))", "X[abc]X", False, NEWCHANNEL, False),
        ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[XYZ]X", True, NEWCHANNEL, True),
        ("eventfilter(action(include),name(VarSet),header(Channel),method(starts_with))", "AB", False, VARSET, True),
        ("eventfilter(action(include),name(VarSet),header(Channel),method(ends_with))", "BC", False, VARSET, True),
        ("eventfilter(action(include),name(VarSet),header(Channel),method(exact))", "ABC", False, VARSET, True),
        ("eventfilter(action(include),name(VarSet),header(Channel),method(exact))", "XXX", False, VARSET, False),
        ("eventfilter(name(VarSet),header(Channel),method(exact))", "!ZZZ", True, VARSET, False),
        ("eventfilter(action(include),name(VarSet),header(Someheader),method(exact))", "!XXX", False, VARSET, True),
        ("eventfilter(action(include),name(VarSet),header(Channel),method(contains))", "B", False, VARSET, True),
        ("eventfilter(header(Someheader))", "", False, VARSET, True),  # none: any event with that header
        ("eventfilter(header(Nothere))", "", False, VARSET, False),
    ],
)
def test_asterisk_filter_creation_cases(
    criteria: str, pattern: str, exclude: bool, event: AmiMessage, matches: bool
) -> None:
    entry = parse_filter(criteria, pattern)
    assert entry.exclude is exclude
    assert entry.matches(event) is matches


@pytest.mark.parametrize(
    ("criteria", "pattern", "error"),
    [
        ("eventfilter(action(include)", "", FilterError),
        ("eventfilter(action(inlude)", "", FilterError),
        ("eventfilter(nnnn(yyy)", "XXX", FilterError),
        ("eventfilter(eader(VarSet)", "XXX", FilterError),
        ("eventfilter(name(yyy),header(VarSet),method(coains)", "XXX", FilterError),
        ("eventfilter(method(yyy))", "XXX", FilterError),
        ("eventfilter", "", FilterError),
        ("eventfilter", "!", FilterError),
        ("eventfilter()", "XXX", FilterError),
        ("eventfilter(name(Newexten))", "x", FilterError),  # a pattern needs a method: the default is none
        ("eventfilter", "XX[X", FilterCompileError),
        ("eventfilter(method(regex))", "XX[X", FilterCompileError),
        ("eventfilter(name(VarSet),header(Variable),method(regex))", "^(?!_*ipbx_custom_field$).", FilterCompileError),
    ],
)
def test_asterisk_filter_refusals(criteria: str, pattern: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_filter(criteria, pattern)


def test_asterisk_filter_matching_precedence() -> None:
    """eventfilter_test_matching: include filters first, then exclude filters, on these events."""
    flt = SessionFilters()
    for criteria, pattern in [
        ("eventfilter(name(VarSet),method(none))", ""),
        ("eventfilter(name(Newchannel),method(regex))", "X[XYZ]X"),
        ("eventfilter(name(Newchannel),method(regex))", "X[abc]X"),
        ("eventfilter(name(Newchannel),header(Someheader),method(regex))", "ZZZ"),
        ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[a]X"),
        ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[Z]X"),
        ("eventfilter(action(exclude),name(VarSet),header(Channel),method(regex))", "YYY"),
    ]:
        flt.add_entry(parse_filter(criteria, pattern))

    def ev2(name: str, channel: str, some: str) -> AmiMessage:
        return AmiMessage.of(("Event", name), ("Channel", channel), ("Someheader", some))

    cases = [
        ("Newchannel", "XXX", "YYY", True),
        ("Newchannel", "XZX", "YYY", False),
        ("Newchannel", "XaX", "YYY", False),
        ("Newchannel", "XbX", "YYY", True),
        ("Newchannel", "XcX", "YYY", True),
        ("Newchannel", "YYY", "YYY", False),
        ("Newchannel", "YYY", "ZZZ", True),
        ("VarSet", "XXX", "YYY", True),
        ("VarSet", "YYY", "YYY", False),
    ]
    assert [flt.passes(ev2(n, c, s)) for n, c, s, _ in cases] == [want for *_, want in cases]


def test_whole_event_regex_is_posix_not_multiline() -> None:
    """regexec without REG_NEWLINE: ^ is the start of the event text only, . crosses lines."""
    assert parse_filter("eventfilter", "^Event: Hangup").matches(ev("Hangup"))
    assert not parse_filter("eventfilter", "^Cause: 16").matches(ev("Hangup", Cause="16"))
    assert parse_filter("eventfilter", "Event: Hangup.*Cause: 16").matches(ev("Hangup", Cause="16"))
    assert parse_filter("eventfilter", "Cause: 1\\d").matches(ev("Hangup", Cause="1d"))  # glibc: \d is d
    assert not parse_filter("eventfilter", "Cause: 1\\d").matches(ev("Hangup", Cause="16"))

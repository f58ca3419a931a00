"""The simulated AMI's Filter action agrees with the filters callhook's client installs."""

from __future__ import annotations

import pytest

from callhook.core.ami.actions import EventFilter, noise_filters
from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.filters import FilterError, SessionFilters


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

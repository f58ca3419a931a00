"""Builders of the AMI actions callhook sends, and the event filters they install."""

from __future__ import annotations

import hashlib
import re

import pytest

from callhook.core.ami import actions
from callhook.core.ami.actions import Action, EventFilter
from callhook.core.ami.codec import AmiParser


def wire(action: Action, action_id: str | None = None) -> str:
    return action.to_bytes(action_id).decode()


def test_login_plain_is_byte_exact_with_the_recording() -> None:
    # shared/fixtures/ami/README.md: the Login sent on the recorded connection
    assert wire(actions.login("lab", "labsecret")) == (
        "Action: Login\r\nUsername: lab\r\nSecret: labsecret\r\nEvents: on\r\n\r\n"
    )
    assert wire(actions.logoff(), "9") == "Action: Logoff\r\nActionID: 9\r\n\r\n"
    assert wire(actions.ping()) == "Action: Ping\r\n\r\n"


def test_login_md5_sends_the_digest_not_the_secret() -> None:
    login = actions.login_md5("lab", "123456789", "labsecret")
    assert login.get("AuthType") == "MD5"
    assert login.get("Key") == hashlib.md5(b"123456789labsecret").hexdigest()
    assert "labsecret" not in wire(login)
    assert actions.challenge().headers == (("AuthType", "MD5"),)


def test_list_actions() -> None:
    assert actions.core_show_channels() == Action("CoreShowChannels")
    assert actions.queue_status() == Action("QueueStatus")
    assert actions.queue_status("NOC", "IAX2/20").headers == (("Queue", "NOC"), ("Member", "IAX2/20"))
    assert actions.status("IAX2/20-1").headers == (("Channel", "IAX2/20-1"),)
    assert actions.events("call,agent").headers == (("EventMask", "call,agent"),)


def test_originate_click_to_dial() -> None:
    act = actions.originate(
        "IAX2/20",
        "click2dial",
        "123456789",
        caller_id='"Click2Dial" <123456789>',
        timeout_ms=25_000,
        variables={"C2D_EXTEN": "20", "TENANT": "lab"},
    )
    assert wire(act) == (
        "Action: Originate\r\nChannel: IAX2/20\r\nContext: click2dial\r\nExten: 123456789\r\nPriority: 1\r\n"
        'CallerID: "Click2Dial" <123456789>\r\nTimeout: 25000\r\n'
        "Variable: C2D_EXTEN=20\r\nVariable: TENANT=lab\r\nAsync: true\r\n\r\n"
    )
    [msg] = AmiParser(expect_banner=False).feed(act.to_bytes("1"))
    assert msg.get_all("Variable") == ["C2D_EXTEN=20", "TENANT=lab"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channel": "", "context": "c", "exten": "1"},
        {"channel": "IAX2/20", "context": "c", "exten": " "},
        {"channel": "IAX2/20", "context": "c", "exten": "1", "priority": 0},
        {"channel": "IAX2/20", "context": "c", "exten": "1", "variables": {"A": "1,B=2"}},
        {"channel": "IAX2/20", "context": "c", "exten": "1", "variables": [("A=B", "1")]},
    ],
)
def test_originate_rejects(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        actions.originate(**kwargs)  # type: ignore[arg-type]


def test_originate_rejects_header_injection_when_serialised() -> None:
    with pytest.raises(ValueError, match="CR or LF"):
        actions.originate("IAX2/20", "c", "1\r\nAction: Hangup").to_bytes("1")


def test_hangup_and_queue_actions() -> None:
    assert actions.hangup("IAX2/20-1").headers == (("Channel", "IAX2/20-1"),)
    assert actions.hangup("IAX2/20-1", cause=16).headers == (("Channel", "IAX2/20-1"), ("Cause", "16"))
    add = actions.queue_add("NOC", "IAX2/163", member_name="janecek", state_interface="IAX2/163", penalty=0)
    assert add.headers == (
        ("Queue", "NOC"),
        ("Interface", "IAX2/163"),
        ("MemberName", "janecek"),
        ("StateInterface", "IAX2/163"),
        ("Penalty", "0"),
        ("Paused", "false"),
    )
    assert actions.queue_remove("NOC", "IAX2/163").headers == (("Queue", "NOC"), ("Interface", "IAX2/163"))
    pause = actions.queue_pause("IAX2/163", True, queue="NOC", reason="Oběd")
    assert pause.headers == (("Interface", "IAX2/163"), ("Paused", "true"), ("Queue", "NOC"), ("Reason", "Oběd"))
    assert "Reason: Oběd" in wire(pause)
    assert actions.queue_pause("IAX2/163", False).headers == (("Interface", "IAX2/163"), ("Paused", "false"))
    with pytest.raises(ValueError, match="must not be empty"):
        actions.queue_add("", "IAX2/163")
    with pytest.raises(ValueError, match="must not be empty"):
        actions.hangup(" ")


def test_filter_action_syntax() -> None:
    flt = EventFilter(False, "Newexten")
    assert wire(actions.filter_add(flt)) == (
        "Action: Filter\r\nOperation: Add\r\nMatchCriteria: action(exclude),name(Newexten),method(none)\r\n"
        "Filter: \r\n\r\n"
    )
    regex = EventFilter(True, "VarSet", "Variable", "regex", "^x$")
    assert regex.criteria == "action(include),name(VarSet),header(Variable),method(regex)"


@pytest.mark.parametrize(
    "args",
    [
        (True, "", "", "none", ""),  # nothing to match on
        (True, "VarSet", "", "regex", ""),  # a method without a pattern
        (True, "VarSet", "", "none", "x"),  # a pattern without a method
        (True, "Var Set", "", "none", ""),
        (True, "", "Chan)nel", "exact", "x"),
        (True, "A", "", "glob", "x"),
    ],
)
def test_event_filter_rejects(args: tuple[bool, str, str, str, str]) -> None:
    with pytest.raises(ValueError, match=r"filter|invalid"):
        EventFilter(*args)


def test_not_equal_regex_is_posix_and_exact() -> None:
    pattern = actions.not_equal_regex("VarSet")
    assert "?" not in pattern  # no look-ahead: Asterisk compiles filters with regcomp (POSIX ERE)
    rx = re.compile(pattern)
    for name in ("Newchannel", "Hangup", "VarSetX", "Varset", "V1", "DialEnd", "QueueMemberStatus"):
        assert rx.search(name), name
    assert not rx.search("VarSet")
    with pytest.raises(ValueError, match="invalid"):
        actions.not_equal_regex("a|b")


def passes(filters: tuple[EventFilter, ...], event: str, headers: dict[str, str]) -> bool:
    """Asterisk's rule (manager.c should_send_event): any include (if there are includes), then no exclude."""

    def matches(f: EventFilter) -> bool:
        if f.name and f.name != event:
            return False
        data = headers.get(f.header) if f.header else f"Event: {event}"
        if data is None:
            return False
        if f.method == "none":
            return True
        if f.method == "regex":
            return re.search(f.pattern, data) is not None
        assert f.method == "starts_with"
        return data.startswith(f.pattern)

    includes = [f for f in filters if f.include]
    excludes = [f for f in filters if not f.include]
    return (not includes or any(map(matches, includes))) and not any(map(matches, excludes))


def test_noise_filters_keep_what_the_tracker_reads() -> None:
    filters = actions.noise_filters()

    def ok(event: str, **headers: str) -> bool:
        return passes(filters, event, {"Event": event, **headers})

    for event in ("Newchannel", "DialBegin", "DialEnd", "Hangup", "Cdr", "QueueMemberPause", "OriginateResponse"):
        assert ok(event), event
    assert ok("VarSet", Variable="__ipbx_custom_field", Value="987654")
    assert ok("VarSet", Variable="ipbx_custom_field")
    assert ok("VarSet", Variable="C2D_EXTEN")
    assert ok("VarSet", Variable="__DID")  # inherited: the tracker copies it into the call
    assert ok("VarSet", Variable="AMDSTATUS", Value="HUMAN")  # Webitel amd_result
    assert ok("VarSet", Variable="~HASH~SIP_CAUSE~PJSIP/20-00000001~", Value="SIP 486 Busy Here")
    assert not ok("VarSet", Variable="~HASH~HANGUPCAUSE~PJSIP/20-00000001~")
    assert ok("ExtensionStatus")  # the extensions' presence
    for var in ("BRIDGEPEER", "QUEUENAME", "ipbx_custom_field_2", "x_ipbx_custom_field"):
        assert not ok("VarSet", Variable=var), var
    assert not passes(actions.noise_filters(keep_inherited=False), "VarSet", {"Event": "VarSet", "Variable": "__DID"})
    for event in ("Newexten", "DeviceStateChange", "RTCPSent", "RTCPReceived"):
        assert not ok(event), event


def test_noise_filters_are_parameters() -> None:
    filters = actions.noise_filters(
        keep_variables=(), drop_events=("Newstate",), drop_prefixes=(), keep_inherited=False, keep_prefixes=()
    )
    assert [f.criteria for f in filters] == [
        "action(include),header(Event),method(regex)",
        "action(exclude),name(Newstate),method(none)",
    ]
    assert not passes(filters, "VarSet", {"Event": "VarSet", "Variable": "ipbx_custom_field"})
    assert passes(filters, "Newexten", {"Event": "Newexten"})
    with pytest.raises(ValueError, match="invalid variable"):
        actions.noise_filters(keep_variables=("a|b",))
    with pytest.raises(ValueError, match="invalid variable prefix"):
        actions.noise_filters(keep_prefixes=("~HASH~(",))

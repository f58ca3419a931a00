"""The sans-IO AMI codec: recorded Asterisk 23 streams, split every way, and hostile input."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callhook.core.ami.codec import AmiFrameTooLarge, AmiParser, ProtocolIssue, serialize_action
from callhook.core.ami.message import AmiMessage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ami"
RECORDINGS = sorted(FIXTURES.glob("*.ami"))
BANNER = "Asterisk Call Manager/12.0.0"


def reference(data: bytes) -> tuple[str, list[tuple[tuple[str, str], ...]]]:
    """The fixture README's rule, written independently of the codec."""
    banner, _, rest = data.partition(b"\r\n")
    blocks = rest.split(b"\r\n\r\n")
    assert blocks[-1] == b"", "a recording ends with an empty line"
    messages = []
    for block in blocks[:-1]:
        pairs = []
        for line in block.decode("utf-8").split("\r\n"):
            key, _, value = line.partition(": ")
            pairs.append((key, value))
        messages.append(tuple(pairs))
    return banner.decode(), messages


def feed_all(parser: AmiParser, chunks: list[bytes]) -> list[AmiMessage]:
    out: list[AmiMessage] = []
    for chunk in chunks:
        out += parser.feed(chunk)
    return out


def chunked(data: bytes, sizes: random.Random | list[int]) -> list[bytes]:
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes.randint(1, 700) if isinstance(sizes, random.Random) else sizes[i % len(sizes)]
        out.append(data[pos : pos + n])
        pos, i = pos + n, i + 1
    return out


def test_the_recordings_are_there() -> None:
    assert len(RECORDINGS) == 17, f"expected the 17 recordings in {FIXTURES}"


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_recording_whole_bytewise_and_chunked(path: Path) -> None:
    data = path.read_bytes()
    banner, expected = reference(data)
    whole_parser = AmiParser()
    whole = whole_parser.feed(data)
    assert whole_parser.banner == banner == BANNER
    assert [m.headers for m in whole] == expected
    assert len(whole) == len(expected) > 5
    assert whole_parser.take_issues() == []
    bytewise = feed_all(AmiParser(), [data[i : i + 1] for i in range(len(data))])
    assert bytewise == whole
    for seed in range(3):
        assert feed_all(AmiParser(), chunked(data, random.Random(seed))) == whole
    assert feed_all(AmiParser(), [data, b""]) == whole


def test_login_response_then_events() -> None:
    messages = AmiParser().feed(RECORDINGS[0].read_bytes())
    assert messages[0].response == "Success"
    assert messages[0].get("Message") == "Authentication accepted"
    assert messages[1].event == "FullyBooted"
    assert all(m.event for m in messages[1:])


def test_obed_split_inside_the_character() -> None:
    data = (FIXTURES / "agent_session.ami").read_bytes()
    cut = data.index(b"Ob\xc4\x9bd") + 3  # between c4 and 9b
    parser = AmiParser()
    first = parser.feed(data[:cut])
    rest = parser.feed(data[cut:])
    reasons = [m.get("PausedReason") for m in first + rest if m.event == "QueueMemberPause"]
    assert "Oběd" in reasons
    assert parser.take_issues() == []


def test_trailing_partial_message_waits_for_its_end() -> None:
    parser = AmiParser(expect_banner=False)
    assert parser.feed(b"Event: A\r\n\r\nEvent: B\r\nKey: v") == [AmiMessage.of(("Event", "A"))]
    assert parser.feed(b"\r\n\r") == []
    assert parser.feed(b"\n") == [AmiMessage.of(("Event", "B"), ("Key", "v"))]


def test_repeated_keys_kept_in_order() -> None:
    raw = b"Event: Newchannel\r\nChanVariable: A=1\r\nChannel: X\r\nChanVariable: B=2\r\n\r\n"
    [msg] = AmiParser(expect_banner=False).feed(raw)
    assert msg.get_all("ChanVariable") == ["A=1", "B=2"]
    assert msg.get("chanvariable") == "A=1"
    assert msg.variables() == {"A": "1", "B": "2"}


def test_empty_values_and_values_with_colons() -> None:
    raw = b"Event: X\r\nAccountCode: \r\nEmpty:\r\nAppData: a: b\r\nURL: sip://h:5060\r\n\r\n"
    parser = AmiParser(expect_banner=False)
    [msg] = parser.feed(raw)
    assert msg.headers == (
        ("Event", "X"),
        ("AccountCode", ""),
        ("Empty", ""),
        ("AppData", "a: b"),
        ("URL", "sip://h:5060"),
    )
    assert parser.take_issues() == []


def test_modern_command_output_headers() -> None:
    raw = (
        b"Response: Success\r\nActionID: 7\r\nMessage: Command output follows\r\n"
        b"Output: Asterisk 23.4.1 built by lab\r\nOutput: \r\nOutput: second: line\r\n\r\n"
    )
    [msg] = AmiParser(expect_banner=False).feed(raw)
    assert msg.output == ("Asterisk 23.4.1 built by lab", "", "second: line")
    assert msg.get_all("Output") == list(msg.output)
    assert msg.action_id == "7"


@pytest.mark.parametrize("size", [1, 3, 7, 1000])
def test_legacy_response_follows_body(size: int) -> None:
    raw = (
        b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n"
        b"Name/username   Host\n20/20   (Unspecified)\n\nkey  : /family/key\n--END COMMAND--\r\n\r\n"
        b"Event: After\r\n\r\n"
    )
    parser = AmiParser(expect_banner=False)
    follows, after = feed_all(parser, chunked(raw, [size]))
    assert follows.headers == (("Response", "Follows"), ("Privilege", "Command"), ("ActionID", "9"))
    assert follows.output == ("Name/username   Host", "20/20   (Unspecified)", "", "key  : /family/key")
    assert after.event == "After"
    assert parser.take_issues() == []


def test_legacy_follows_marker_glued_to_the_last_line() -> None:
    raw = b"Response: Follows\r\nPrivilege: Command\r\nNo such command--END COMMAND--\r\n\r\n"
    [msg] = AmiParser(expect_banner=False).feed(raw)
    assert msg.output == ("No such command",)


def test_follows_without_marker_ends_at_the_next_message() -> None:
    parser = AmiParser(expect_banner=False)
    out = parser.feed(b"Response: Follows\r\nPrivilege: Command\r\nsome text\r\n\r\nEvent: Next\r\n\r\n")
    assert [m.output for m in out] == [("some text",), ()]
    assert out[1].event == "Next"
    assert [i.kind for i in parser.take_issues()] == [ProtocolIssue.UNTERMINATED_FOLLOWS]


def test_garbage_lines_are_reported_and_skipped() -> None:
    parser = AmiParser(expect_banner=False)
    out = parser.feed(b"Event: X\r\nthis is not a header\r\nKey: v\r\n\r\njunk only\r\n\r\nEvent: Y\r\n\r\n")
    assert [m.headers for m in out] == [(("Event", "X"), ("Key", "v")), (("Event", "Y"),)]
    issues = parser.take_issues()
    assert [i.kind for i in issues] == [ProtocolIssue.GARBAGE_LINE] * 2
    assert "this is not a header" in issues[0].detail
    assert parser.take_issues() == []


def test_invalid_utf8_is_replaced_and_reported() -> None:
    parser = AmiParser(expect_banner=False)
    [msg] = parser.feed(b"Event: X\r\nReason: Ob\xffd\r\n\r\n")
    assert msg.get("Reason") == "Ob\ufffdd"
    assert [i.kind for i in parser.take_issues()] == [ProtocolIssue.INVALID_UTF8]


def test_bare_lf_stream() -> None:
    raw = b"Asterisk Call Manager/12.0.0\nResponse: Success\nMessage: ok\n\nEvent: A\nKey: v\n\nEvent: B\n\n"
    for size in (1, 2, 5, len(raw)):
        parser = AmiParser()
        out = feed_all(parser, chunked(raw, [size]))
        assert parser.banner == BANNER
        assert [m.headers for m in out] == [
            (("Response", "Success"), ("Message", "ok")),
            (("Event", "A"), ("Key", "v")),
            (("Event", "B"),),
        ]


def test_bare_lf_inside_a_crlf_message_splits_lines() -> None:
    [msg] = AmiParser(expect_banner=False).feed(b"Event: A\nKey: v\r\n\r\n")
    assert msg.headers == (("Event", "A"), ("Key", "v"))


def test_extra_empty_lines_between_messages() -> None:
    out = AmiParser(expect_banner=False).feed(b"\r\n\r\nEvent: A\r\n\r\n\r\n\r\n\r\nEvent: B\r\n\r\n")
    assert [m.event for m in out] == ["A", "B"]


def test_stream_without_banner() -> None:
    parser = AmiParser()
    out = parser.feed(b"Event: A\r\n\r\n")
    assert parser.banner == ""
    assert [m.event for m in out] == ["A"]
    assert [i.kind for i in parser.take_issues()] == [ProtocolIssue.NO_BANNER]


def test_oversized_complete_frame_is_skipped_with_its_size() -> None:
    big = b"Event: Big\r\nData: " + b"x" * 5000 + b"\r\n\r\n"
    raw = b"Event: A\r\n\r\n" + big + b"Event: B\r\n\r\n"
    parser = AmiParser(max_buffer=1024, expect_banner=False)
    with pytest.raises(AmiFrameTooLarge) as err:
        parser.feed(raw)
    assert err.value.size == len(big) - 4
    assert err.value.limit == 1024
    assert "1024" in str(err.value)
    assert [m.event for m in parser.feed(b"")] == ["A", "B"]


@pytest.mark.parametrize("size", [1, 100, 4096])
def test_oversized_unterminated_frame_resynchronises(size: int) -> None:
    raw = b"Event: A\r\n\r\nEvent: Big\r\nData: " + b"y" * 5000 + b"\r\n\r\nEvent: B\r\nK: v\r\n\r\n"
    parser = AmiParser(max_buffer=1024, expect_banner=False)
    out: list[AmiMessage] = []
    errors: list[AmiFrameTooLarge] = []
    for chunk in chunked(raw, [size]):
        try:
            out += parser.feed(chunk)
        except AmiFrameTooLarge as exc:
            errors.append(exc)
    out += parser.feed(b"")
    assert [m.event for m in out] == ["A", "B"]
    assert out[1].get("K") == "v"
    assert len(errors) == 1
    assert errors[0].size > 1024


def test_overlong_banner_is_a_frame_error() -> None:
    parser = AmiParser(max_buffer=64)
    with pytest.raises(AmiFrameTooLarge):
        parser.feed(b"A" * 100)
    assert parser.feed(b"still banner\r\n\r\nEvent: A\r\n\r\n") == [AmiMessage.of(("Event", "A"))]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000), sizes=st.lists(st.integers(1, 300), min_size=1, max_size=20))
def test_arbitrary_bytes_raise_nothing_but_frame_too_large(data: bytes, sizes: list[int]) -> None:
    parser = AmiParser(max_buffer=256)
    for chunk in chunked(data, sizes):
        try:
            parser.feed(chunk)
        except AmiFrameTooLarge:
            parser.feed(b"")


_safe_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=30)
_key = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,15}", fullmatch=True).filter(
    lambda k: k.lower() not in ("action", "actionid")
)


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    headers=st.lists(st.tuples(_key, _safe_text), max_size=8),
    action_id=st.none() | st.from_regex(r"[a-z0-9-]{1,12}", fullmatch=True),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=5),
)
def test_serialize_round_trips_through_the_parser(
    name: str, headers: list[tuple[str, str]], action_id: str | None, sizes: list[int]
) -> None:
    raw = serialize_action(name, headers, action_id)
    parser = AmiParser(expect_banner=False)
    first, second = feed_all(parser, chunked(raw * 2, sizes))
    expected = [("Action", name), *([("ActionID", action_id)] if action_id else []), *headers]
    assert first.headers == tuple(expected)
    assert second == first


def test_serialize_action_bytes() -> None:
    raw = serialize_action("Login", {"Username": "lab", "Secret": "s3"}, "1")
    assert raw == b"Action: Login\r\nActionID: 1\r\nUsername: lab\r\nSecret: s3\r\n\r\n"
    assert serialize_action("Ping") == b"Action: Ping\r\n\r\n"
    assert serialize_action("X", [("Variable", "A=1"), ("Variable", "B=Oběd")]).endswith(
        "Variable: A=1\r\nVariable: B=Oběd\r\n\r\n".encode()
    )


@pytest.mark.parametrize(
    ("name", "headers", "action_id"),
    [
        ("Originate", [("Channel", "IAX2/20\r\nAction: Hangup")], None),
        ("Originate", [("Channel", "IAX2/20\n")], None),
        ("Originate", [("Chan\rnel", "x")], None),
        ("Ping\r\nAction: Logoff", [], None),
        ("Ping", [], "1\r\n"),
        ("Ping", [("Action", "Logoff")], None),
        ("Ping", [("ActionID", "2")], "1"),
        ("Ping", [("", "x")], None),
        ("Ping", [("A: B", "x")], None),
    ],
)
def test_serialize_action_rejects_injection(name: str, headers: list[tuple[str, str]], action_id: str | None) -> None:
    with pytest.raises(ValueError, match=r"CR or LF|header|set by"):
        serialize_action(name, headers, action_id)


def test_serialize_error_never_echoes_the_value() -> None:
    with pytest.raises(ValueError, match="Secret") as err:
        serialize_action("Login", [("Secret", "hunter2\r\n")])
    assert "hunter2" not in str(err.value)

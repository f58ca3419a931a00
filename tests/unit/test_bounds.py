"""Values bounded at the edge (core.bounds): each poison case kept as text, clamped or rejected."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from callhook.core.ami.codec import AmiParser
from callhook.core.ami.message import AmiMessage
from callhook.core.bounds import MAX_INT, MAX_TEXT, OutOfBounds, bound_event, bound_message, needs_bounds
from callhook.core.events import CallParty, Event, EventType, Hangup, QueueCall
from callhook.core.serialize import event_to_dict

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def event(**kw: object) -> Event:
    return Event(id="01TEST00000000000000000001", type=EventType.QUEUE_JOINED, ts=NOW, call_id="1.1", seq=1, **kw)  # type: ignore[arg-type]


def stores(ev: Event) -> bool:
    """What the stores do with an event: orjson, then text in the database."""
    orjson.dumps(event_to_dict(ev)).decode("utf-8").encode("utf-8")
    return True


def test_an_integer_past_2_64_is_clamped_for_ami_and_refused_for_ingest() -> None:
    ev = event(queue_call=QueueCall(position=18446744073709551616))
    with pytest.raises(TypeError):  # what stopped capture before: orjson cannot encode it
        orjson.dumps(event_to_dict(ev))
    assert needs_bounds(ev)
    fixed, issues = bound_event(ev, strict=False)
    assert fixed.queue_call is not None
    assert fixed.queue_call.position == MAX_INT == 2**53 - 1
    assert [(i.field, i.kind) for i in issues] == [("queue_call.position", "int")]
    assert stores(fixed)
    with pytest.raises(OutOfBounds) as err:
        bound_event(ev, strict=True, now=NOW)
    assert err.value.field == "queue_call.position"
    neg, _ = bound_event(event(hangup=Hangup(cause=-(10**30))), strict=False)
    assert neg.hangup is not None
    assert neg.hangup.cause == -MAX_INT


def test_non_finite_floats_are_replaced() -> None:
    ev = event(queue_call=QueueCall(wait=float("nan"), call_duration=float("inf")))
    assert needs_bounds(ev)
    fixed, issues = bound_event(ev, strict=False)
    assert fixed.queue_call == QueueCall(wait=0.0, call_duration=float(MAX_INT))
    assert {i.kind for i in issues} == {"float"}
    with pytest.raises(OutOfBounds, match=r"queue_call\.wait"):
        bound_event(ev, strict=True)


def test_a_lone_surrogate_is_replaced_or_refused() -> None:
    ev = event(party=CallParty(caller_name="Nov\ud800\udfffak \ud83d\ude00"), variables={"X": "\udc80"})
    with pytest.raises(TypeError):
        orjson.dumps(event_to_dict(ev))
    fixed, issues = bound_event(ev, strict=False)
    assert fixed.party.caller_name == "Nov\ufffd\ufffdak \ufffd\ufffd"
    assert fixed.variables == {"X": "\ufffd"}
    assert {i.field for i in issues} == {"party.caller_name", "variables.X"}
    assert stores(fixed)
    with pytest.raises(OutOfBounds) as err:
        bound_event(ev, strict=True, now=NOW)
    assert (err.value.field, "surrogate" in err.value.reason) == ("party.caller_name", True)
    ok = event(party=CallParty(caller_name="Dvořák 😀"))
    assert bound_event(ok, strict=True, now=NOW)[0] is ok  # valid text (astral too) is untouched


def test_nul_and_huge_text() -> None:
    ev = event(party=CallParty(caller_num="77\x007", caller_name="x" * (MAX_TEXT + 5)))
    fixed, issues = bound_event(ev, strict=False)
    assert fixed.party.caller_num == "777"
    assert fixed.party.caller_name == "x" * MAX_TEXT
    assert sorted(i.kind for i in issues) == ["nul", "too_long"]
    with pytest.raises(OutOfBounds, match=r"party\.caller_num: contains a NUL"):
        bound_event(ev, strict=True)
    with pytest.raises(OutOfBounds, match="longer than"):
        bound_event(dataclasses.replace(ev, party=CallParty(caller_name="x" * (MAX_TEXT + 1))), strict=True)


def test_absurd_times_are_refused_at_ingest() -> None:
    for ts, ok in (
        (datetime(1999, 12, 31, 23, 59, tzinfo=UTC), False),
        (datetime(2000, 1, 1, tzinfo=UTC), True),
        (NOW + timedelta(hours=23), True),
        (NOW + timedelta(days=2), False),
        (datetime(9999, 1, 1, tzinfo=UTC), False),
    ):
        ev = dataclasses.replace(event(), ts=ts)
        if ok:
            assert bound_event(ev, strict=True, now=NOW)[0] is ev
        else:
            with pytest.raises(OutOfBounds) as err:
                bound_event(ev, strict=True, now=NOW)
            assert err.value.field == "ts"


def test_a_clean_event_is_returned_as_is() -> None:
    ev = event(queue_call=QueueCall(position=3, wait=1.5), hangup=Hangup(cause=16))
    assert not needs_bounds(ev)
    assert bound_event(ev, strict=False) == (ev, [])


def test_ami_messages_huge_values_and_nul_bytes_are_cut() -> None:
    frame = b"Event: VarSet\r\nChannel: IAX2/20-1\r\nVariable: X\r\nValue: " + b"v" * 20000 + b"\r\n\r\n"
    (msg,) = AmiParser(max_buffer=1 << 20).feed(frame)
    fixed, issues = bound_message(msg)
    assert fixed.get("Value") == "v" * MAX_TEXT
    assert fixed.get("Channel") == "IAX2/20-1"
    assert [(i.field, i.kind) for i in issues] == [("Value", "too_long")]
    (nul,) = AmiParser().feed(b"Event: Newchannel\r\nCallerIDName: No\x00vak\r\n\r\n")
    assert bound_message(nul)[0].get("CallerIDName") == "Novak"
    (clean,) = AmiParser().feed(b"Event: Newchannel\r\nCallerIDName: Novak\r\n\r\n")
    assert bound_message(clean)[0] is clean


def test_invalid_utf8_from_ami_is_kept_as_text() -> None:
    (msg,) = AmiParser().feed(b"Event: Newchannel\r\nCallerIDName: Nov\xc3\xa1k \xff\xfe\r\n\r\n")
    fixed, issues = bound_message(msg)
    assert fixed.get("CallerIDName") == "Nov\u00e1k \ufffd\ufffd"
    assert issues == []
    assert bound_message(AmiMessage.of(("Event", "X"), Value="\ud800"))[0].get("Value") == "\ufffd"

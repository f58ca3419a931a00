"""core.masking: what a masked number looks like, and which parts of an event change."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from callhook.core.events import CallParty, CallRecord, Event, EventType, Leg
from callhook.core.masking import mask_event, mask_number
from callhook.core.subscription import Masking

TS = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)
LAST4 = Masking(frozenset({"caller", "called", "cdr"}), "last_digits", 4)
HASH = Masking(frozenset({"caller"}), "hash", 4, "k1")


def test_last_digits() -> None:
    assert mask_number("+79161234567", LAST4) == "+*******4567"
    assert mask_number("+7 916 123-45-67", LAST4) == "+* *** ***-45-67"  # the layout stays
    assert mask_number("101", LAST4) == "101"  # an extension with no more digits than kept
    assert mask_number("", LAST4) == ""
    assert mask_number("anonymous", LAST4) == "anonymous"  # no digits: nothing to hide
    assert mask_number("79161234567", Masking(frozenset(), "last_digits", 0)) == "*" * 11


def test_hash_is_hmac_of_the_digits_under_the_key() -> None:
    want = "n_" + hmac.new(b"k1", b"79161234567", hashlib.sha256).hexdigest()[:16]
    assert mask_number("+79161234567", HASH) == want
    assert mask_number("+7 (916) 123-45-67", HASH) == want  # the same number written otherwise
    assert mask_number("+79161234567", Masking(frozenset(), "hash", 4, "k2")) != want


def test_mask_event_changes_the_named_numbers_only() -> None:
    party = CallParty(
        caller_num="+79161234567",
        caller_name="+79161234567",
        called_num="+74957654321",
        record_name="20240506-090000-+79161234567-+74957654321",
    )
    rec = CallRecord(start=TS, end=TS, source="+79161234567", destination="+74957654321", answered_by="101")
    event = Event(id="e", type=EventType.CALL_RECORD, ts=TS, party=party, record=rec, leg=Leg(number="101"))
    out = mask_event(event, LAST4)
    assert out.party.caller_num == "+*******4567"
    assert out.party.caller_name == "+*******4567"
    assert out.party.called_num == "+*******4321"
    assert out.party.record_name == "20240506-090000-+*******4567-+*******4321"  # the time stays
    assert out.record is not None
    assert (out.record.source, out.record.destination, out.record.answered_by) == (
        "+*******4567",
        "+*******4321",
        "101",
    )
    assert out.leg == event.leg  # extensions are not masked
    only_caller = mask_event(event, HASH)
    assert only_caller.party.called_num == "+74957654321"
    assert only_caller.record == rec  # "cdr" not asked for
    assert only_caller.party.record_name.endswith("-+74957654321")
    assert "9161234567" not in only_caller.party.record_name
    named = CallParty(caller_num="+79161234567", caller_name="Ivan Petrov")
    assert mask_event(Event(id="e", type=EventType.CALL_NEW, ts=TS, party=named), LAST4).party.caller_name == (
        "Ivan Petrov"
    )


def test_agent_masks_a_remote_agents_phone_only() -> None:
    from callhook.core.events import AgentInfo

    agent = Masking(frozenset({"agent"}), "last_digits", 2)
    remote = Event(
        id="e", type=EventType.AGENT_LOGIN, ts=TS, agent=AgentInfo(number="+79031112233", agent_type="remote")
    )
    local = Event(id="e", type=EventType.AGENT_LOGIN, ts=TS, agent=AgentInfo(number="2033", agent_type="local"))
    masked = mask_event(remote, agent).agent
    assert masked is not None
    assert masked.number == "+*********33"
    assert mask_event(local, agent) == local
    assert mask_event(remote, LAST4) == remote  # "agent" not asked for


def test_a_digit_outside_ascii_is_masked_too_and_never_breaks_the_hash() -> None:
    """Found by the encoders' property test: "²" is a digit to Python (str.isdigit)."""
    hashed = mask_number("²", Masking(fields=frozenset({"caller"}), mode="hash", keep=0, key="k"))
    assert hashed.startswith("n_")
    assert mask_number("1²3", Masking(fields=frozenset({"caller"}), mode="last_digits", keep=1, key="")) == "**3"

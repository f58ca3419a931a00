"""What the recordings do not show but Asterisk's documents do, each on top of a recorded
call: extension presence (ExtensionStatus), a supervisor's barge (ChanSpyStart/Stop),
a SIP cause (HASH(SIP_CAUSE,<channel>)), AMD's verdict (AMDSTATUS), a congested dial
(FAILED), and the frozen snapshots the API reads.

Presence's expected states come from the recordings' ExtensionStatus codes as the
Asterisk manager documents them (0 Idle, 1 InUse, 8 Ringing ...) and each truth's
timeline; the rest are the recorded messages with the documented message added.
"""

from __future__ import annotations

import dataclasses

import pytest

from callhook.core.ami.message import AmiMessage
from callhook.core.events import Direction, EventType
from callhook.core.routing import matches, order_key
from callhook.core.subscription import Dialect, Filters, Subscription
from callhook.core.tracker.machine import LegState, VisitState
from callhook.core.tracker.tracker import Tracker

from labdata import NOW, ids, lab_directory, messages, truth, wire

T = EventType


def run(msgs: list[AmiMessage], *, presence: bool = False) -> tuple[Tracker, list[object]]:
    tracker = Tracker(lab_directory(), ids(), presence=presence)
    out = [e for m in msgs for e in tracker.feed(m, NOW)]
    return tracker, out


def with_after(name: str, event: str, extra: AmiMessage, nth: int = 0) -> list[AmiMessage]:
    """The recording with ``extra`` inserted after its ``nth`` message named ``event``."""
    msgs = messages(name)
    at = [i for i, m in enumerate(msgs) if m.event == event][nth]
    return [*msgs[: at + 1], extra, *msgs[at + 1 :]]


# ------------------------------------------------------------------------- presence
def test_presence_follows_the_extensions_hint() -> None:
    t = truth("hold_unhold")["truth"]
    tracker, events = run(messages("hold_unhold"), presence=True)
    seen = [e for e in events if e.type is T.EXTENSION_PRESENCE]  # type: ignore[attr-defined]
    ext = t["routed_to"]
    assert [(e.presence.number, e.presence.previous, e.presence.state) for e in seen] == [
        (ext, "", "ringing"),
        (ext, "ringing", "in_use"),
        (ext, "in_use", "idle"),
    ]
    assert all(e.call_id == "" and e.tenant == "lab" for e in seen)
    assert (ext, "idle") in tracker.snapshot().presence
    assert [e.seq for e in seen] == [1, 2, 3]
    # presence is a callhook event only: no vendor dialect has it
    assert all(wire(seen, d) == [] for d in ("voipex", "pbx2is", "webitel", "telphin"))


def test_presence_is_told_only_on_a_change_and_only_for_extensions() -> None:
    tracker = Tracker(lab_directory(), ids(), presence=True)

    def status(exten: str, code: int, hint: str = "") -> list[object]:
        msg = AmiMessage.of(
            ("Event", "ExtensionStatus"),
            ("Exten", exten),
            ("Context", "ext-local"),
            ("Hint", hint),
            ("Status", str(code)),
        )
        return [e.presence.state for e in tracker.feed(msg, NOW) if e.presence]

    assert status("21", 16) == ["on_hold"]
    assert status("21", 17) == []  # in use and on hold: still on hold
    assert status("21", 2) == ["busy"]
    assert status("21", 4) == ["unavailable"]
    assert status("21", 9) == ["ringing"]
    assert status("700", 1) == []  # a parking lot's hint, not an extension
    assert status("21", 99) == []  # a code Asterisk does not define
    assert status("s", 0, "IAX2/22") == ["idle"]  # known by its hint's device


def test_presence_without_the_option_is_not_told() -> None:
    _, events = run(messages("hold_unhold"))
    assert not [e for e in events if e.type is T.EXTENSION_PRESENCE]  # type: ignore[attr-defined]


def test_presence_can_be_subscribed_to_alone() -> None:
    _, events = run(messages("internal_call"), presence=True)
    sub = Subscription(
        id="s",
        url="http://h/",
        dialect=Dialect.CALLHOOK,
        events=frozenset({"extension.presence"}),
        filters=Filters(extension="21"),
    )
    got = [e for e in events if matches(sub, e)]  # type: ignore[arg-type]
    assert got
    assert {e.type for e in got} == {T.EXTENSION_PRESENCE}  # type: ignore[attr-defined]
    assert {e.presence.number for e in got} == {"21"}  # type: ignore[attr-defined]
    assert {order_key(e) for e in got} == {"extension:21"}  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- barge
def _spy(start: bool, spyer: str, spyee: AmiMessage) -> AmiMessage:
    base = [("Event", "ChanSpyStart" if start else "ChanSpyStop")]
    who = [
        ("SpyerChannel", f"IAX2/{spyer}-4242"),
        ("SpyerUniqueid", "9.1"),
        ("SpyerLinkedid", "9.1"),
        ("SpyerChannelStateDesc", "Up"),
        ("SpyerCallerIDNum", spyer),
    ]
    spied = [(f"Spyee{k}", spyee.get(k)) for k in ("Channel", "Uniqueid", "Linkedid", "ChannelStateDesc")]
    return AmiMessage.of(*base, *who, *spied)


def test_a_supervisors_spy_leg_is_a_barge() -> None:
    msgs = messages("inbound_direct_answered")
    answered = next(i for i, m in enumerate(msgs) if m.event == "DialEnd" and m.get("DialStatus") == "ANSWER")
    agent = next(m for m in msgs if m.event == "Newchannel" and m.get("Channel").startswith("IAX2/20-"))
    own = AmiMessage.of(
        ("Event", "Newchannel"),
        ("Channel", "IAX2/163-4242"),
        ("ChannelStateDesc", "Ring"),
        ("CallerIDNum", "163"),
        ("Exten", "555"),
        ("Uniqueid", "9.1"),
        ("Linkedid", "9.1"),
    )
    start, stop = _spy(True, "163", agent), _spy(False, "163", agent)
    stream = [*msgs[: answered + 1], own, start, stop, *msgs[answered + 1 :]]
    tracker, events = run(stream)
    barge = [e for e in events if e.leg is not None and e.leg.number == "163"]  # type: ignore[attr-defined]
    assert [(e.type, e.party.direction) for e in barge] == [  # type: ignore[attr-defined]
        (T.CALL_ANSWERED, Direction.BARGE),
        (T.CALL_HANGUP, Direction.BARGE),
    ]
    voipex = wire(barge, "voipex")  # type: ignore[arg-type]
    assert [(r["EventName"], r["Direction"], r["Line"], r["Login"]) for r in voipex] == [
        ("Answered", "barge", "163", "janecek"),
        ("Hangup", "barge", "163", "janecek"),
    ]
    # the supervisor answered nobody's call: the call is still answered by 20 and ends whole
    record = next(e for e in events if e.type is T.CALL_RECORD)  # type: ignore[attr-defined]
    assert record.record.answered_by == "20"
    assert tracker.calls == {}
    assert tracker.unexpected == {}


# ------------------------------------------------------------------- SIP, AMD, FAILED
def test_call_sip_code_where_the_channel_reports_one() -> None:
    """chan_pjsip sets HASH(SIP_CAUSE,<channel>) on the dialling channel: VarSet ~HASH~SIP_CAUSE~<name>~."""
    msgs = messages("queue_wrapup")
    agent = next(m for m in msgs if m.event == "AgentConnect")
    sip = AmiMessage.of(
        ("Event", "VarSet"),
        ("Channel", agent.get("Channel")),
        ("Uniqueid", agent.get("Uniqueid")),
        ("Linkedid", agent.get("Linkedid")),
        ("Variable", f"~HASH~SIP_CAUSE~{agent.get('DestChannel')}~"),
        ("Value", "SIP 200 OK"),
    )
    _, events = run(with_after("queue_wrapup", "AgentConnect", sip))
    left = [r for r in wire(events, "webitel") if r["event"] in ("Leaving", "Processing")]  # type: ignore[arg-type]
    assert [(r["event"], r["call_sip_code"]) for r in left] == [
        ("Leaving", 200),
        ("Processing", 200),
        ("Leaving", None),
        ("Processing", None),
    ]


@pytest.mark.parametrize("verdict", ["HUMAN", "MACHINE", "NOTSURE"])
def test_amd_result_from_amdstatus(verdict: str) -> None:
    msgs = messages("custom_field")
    join = next(m for m in msgs if m.event == "QueueCallerJoin")
    amd = AmiMessage.of(
        ("Event", "VarSet"),
        ("Channel", join.get("Channel")),
        ("Uniqueid", join.get("Uniqueid")),
        ("Linkedid", join.get("Linkedid")),
        ("Variable", "AMDSTATUS"),
        ("Value", verdict),
    )
    at = next(i for i, m in enumerate(msgs) if m.event == "QueueCallerJoin")
    _, events = run([*msgs[:at], amd, *msgs[at:]])
    got = {r["amd_result"] for r in wire(events, "webitel") if "amd_result" in r}  # type: ignore[arg-type]
    assert got == ({verdict} if verdict != "NOTSURE" else {""})  # the vendor knows HUMAN / MACHINE only


def test_a_congested_dial_is_failed() -> None:
    """inbound_direct_busy with the dial ending CONGESTION (Asterisk's DIALSTATUS) instead of BUSY."""
    msgs = [
        AmiMessage.of(*[(k, "CONGESTION" if k == "DialStatus" and v == "BUSY" else v) for k, v in m.headers])
        for m in messages("inbound_direct_busy")
    ]
    msgs = [AmiMessage.of(*[(k, "34" if k == "Cause" and v == "17" else v) for k, v in m.headers]) for m in msgs]
    _, events = run(msgs)
    cdr = next(r for r in wire(events, "voipex") if r["EventName"] == "CDR")  # type: ignore[arg-type]
    assert cdr["Disposition"] == "FAILED"


# ------------------------------------------------------------------------ snapshots
def test_snapshots_are_frozen_views() -> None:
    msgs = messages("queue_wrapup")
    bridged = next(i for i, m in enumerate(msgs) if m.event == "AgentConnect")
    tracker, _ = run(msgs[: bridged + 1])
    snap = tracker.snapshot()
    (call,) = snap.calls
    assert call.visit is not None
    assert (call.visit.queue, call.visit.state, call.visit.bridged_to) == ("HELPDESK", VisitState.BRIDGED, "163")
    assert [(leg.extension, leg.state) for leg in call.legs] == [("163", LegState.ANSWERED)]
    assert snap.call(call.id) is call
    member = next(m for m in snap.members if m.queue == "HELPDESK")
    assert (member.wrapup, member.static) == (5, True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.state = "x"  # type: ignore[misc]
    for m in msgs[bridged + 1 :]:
        tracker.feed(m, NOW)
    assert tracker.snapshot().calls == ()
    assert snap.calls[0].visit is not None
    assert snap.calls[0].visit.state is VisitState.BRIDGED
    after = next(m for m in tracker.snapshot().members if m.queue == "HELPDESK")
    assert after.wrapup_until is not None

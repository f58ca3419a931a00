"""The recordings of hold, wrap-up and queue timeout, replayed through the real codec,
tracker and encoders; and every Webitel duration and every CDR against the recordings.

Expected values come from each scenario's truth (tests/fixtures/ami/<name>.json:
truth, timeline, notes, observed.cdrs), NOTES.md and seed 002's definitions
(spec/dialects.md section 4): call_duration from the start of the call, call_bill_sec
from the caller's answer, call_voice_sec from the agent's connection, "to now, or to
the end". Timeline values are rounded to 10 ms, so times compare within 0.05 s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callhook.core.events import Event, EventType

from labdata import SCENARIOS, replay, truth, wire

T = EventType
NEAR = 0.05


def ts(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def start(events: list[Event], call_id: str = "") -> datetime:
    return next(e.ts for e in events if e.type is T.CALL_NEW and (not call_id or e.call_id == call_id))


def webitel(events: list[Event], name: str, call_id: str = "") -> list[dict[str, Any]]:
    return [
        r for r in wire([e for e in events if not call_id or e.call_id == call_id], "webitel") if r["event"] == name
    ]


# ----------------------------------------------------------------------------- hold
def test_hold_unhold() -> None:
    data = truth("hold_unhold")
    t, held = data["truth"], data["notes"]["hold_intervals"]
    events = replay("hold_unhold")
    holds = [e for e in events if e.type in (T.CALL_HOLD, T.CALL_UNHOLD)]
    assert len(held) == t["hold"]["count"] == 1
    # the extension that holds is the leg; the times are the PBX's Hold / Unhold
    assert [(e.type, e.leg.number if e.leg else "") for e in holds] == [
        (T.CALL_HOLD, t["hold"]["held_by"]),
        (T.CALL_UNHOLD, t["hold"]["held_by"]),
    ]
    assert holds[0].ts == ts(held[0]["hold_ts"])
    assert holds[1].ts == ts(held[0]["unhold_ts"])
    assert (holds[1].ts - holds[0].ts).total_seconds() == pytest.approx(held[0]["seconds"], abs=0.001)
    # the vendor dialects have no hold: VOIPEX sees an ordinary answered call
    voipex = wire(events, "voipex")
    assert [r["EventName"] for r in voipex] == ["NewCall", "Ringing", "Answered", "Hangup", "CDR"]
    assert (voipex[3]["Line"], voipex[3]["Reason"]) == (t["hangup_first"].split()[-1], "Normal Clearing")
    assert wire(events, "webitel") == []
    assert wire(events, "telphin") == []
    kinds = [e.type for e in events]
    assert (
        kinds.index(T.CALL_ANSWERED)
        < kinds.index(T.CALL_HOLD)
        < kinds.index(T.CALL_UNHOLD)
        < kinds.index(T.CALL_HANGUP)
    )


def test_a_lone_unhold_and_a_transfers_hold() -> None:
    """blind_transfer: an Unhold with no Hold before it tells nothing (NOTES.md). An attended
    transfer's Hold holds the caller during the consultation: hold then unhold on the return."""
    assert not [e for e in replay("blind_transfer") if e.type in (T.CALL_HOLD, T.CALL_UNHOLD)]
    kinds = [e.type for e in replay("attended_transfer_cancelled") if e.type.value.startswith("call.")]
    assert kinds.count(T.CALL_HOLD) == kinds.count(T.CALL_UNHOLD) == 1
    assert kinds.index(T.CALL_HOLD) < kinds.index(T.CALL_TRANSFER_CANCELLED) <= kinds.index(T.CALL_UNHOLD) + 1


# --------------------------------------------------------------------------- wrap-up
def test_queue_wrapup() -> None:
    data = truth("queue_wrapup")
    t, notes = data["truth"], data["notes"]
    events = replay("queue_wrapup")
    one, two = data["observed"]["linkedids"]
    agent = next(iter(t["agents_logged_in"]))
    # Processing when the agent's leg ends, with the member's wrap-up time configured
    wrapups = [e for e in events if e.type is T.AGENT_WRAPUP]
    assert [(e.call_id, e.ts) for e in wrapups] == [
        (c, ts(w["starts_ts"])) for c, w in zip((one, two), notes["wrapups"], strict=True)
    ]
    assert all(e.agent is not None and e.agent.number == agent for e in wrapups)
    assert all(e.queue == t["queue"] and e.queue_call and e.queue_call.use_processing for e in wrapups[:1])
    procs = webitel(events, "Processing")
    assert [(p["agent_extension"], p["use_processing"], p["queue"]) for p in procs] == [(agent, True, t["queue"])] * 2
    assert [p["call_cause"] for p in procs] == ["NORMAL_CLEARING"] * 2
    # no agent events: a static member, and wrap-up is not a pause
    assert wire(events, "telphin") == []
    assert not [r for r in wire(events, "voipex") if r["EventName"].startswith("Agent")]
    for call_id, call in zip((one, two), t["calls"], strict=True):
        begin = start(events, call_id)
        left, bridged = webitel(events, "Leaving", call_id), webitel(events, "Bridged", call_id)
        assert [r["cc_result"] for r in left] == ["success"]
        assert [r["cc_attempt_seq"] for r in webitel(events, "Offering", call_id) + bridged + left] == [1, 1, 1]
        talk = next(e for e in events if e.type is T.QUEUE_LEFT and e.call_id == call_id).ts
        end = next(e.ts for e in events if e.type is T.AGENT_WRAPUP and e.call_id == call_id)
        # the Leaving is the end of the talk with the agent (AgentComplete), just before its Hangup
        assert (end - talk).total_seconds() == pytest.approx(0.0, abs=0.01)
        connect = bridged[0]
        assert connect["call_voice_sec"] == pytest.approx(0.0, abs=0.001)
        voice = left[0]["call_voice_sec"]
        assert voice == pytest.approx(call["talk_seconds"], abs=0.6)  # 3 s / 2 s of talk, as the truth rounds them
        # the queue answers the caller when the agent is connected: billable = talk with the agent
        assert left[0]["call_bill_sec"] == pytest.approx(voice, abs=0.01)
        assert left[0]["call_duration"] == pytest.approx((talk - begin).total_seconds(), abs=0.001)
        assert procs[0 if call_id == one else 1]["call_duration"] == pytest.approx((end - begin).total_seconds())
    # call 1: the 163 answered 2.01 s in and hung up at 5.52 (timeline)
    first = {e["what"]: e["t"] for e in data["timeline"]}
    left1 = webitel(events, "Leaving", one)[0]
    assert left1["call_duration"] == pytest.approx(first["163 hung up: wrap-up of 5 s starts"], abs=NEAR)
    assert left1["call_voice_sec"] == pytest.approx(
        first["163 hung up: wrap-up of 5 s starts"] - first["163 answered caller 1"], abs=NEAR
    )
    # call 2 waited the wrap-up out: offered 4.0 s after it joined, answered 1 s later
    second = notes["second_caller"]
    offer = next(e for e in events if e.type is T.QUEUE_OFFERED and e.call_id == two)
    assert offer.ts == ts(second["offered_ts"])
    assert offer.queue_call is not None
    assert offer.queue_call.wait == pytest.approx(second["waited_unoffered_s"], abs=0.01)
    bridged2 = webitel(events, "Bridged", two)[0]
    assert bridged2["call_duration"] == pytest.approx(
        second["waited_unoffered_s"] + t["calls"][1]["ring_seconds"], abs=NEAR
    )


# --------------------------------------------------------------------------- timeout
def test_queue_timeout() -> None:
    data = truth("queue_timeout")
    t = data["truth"]
    events = replay("queue_timeout")
    when = {e["what"]: e["t"] for e in data["timeline"]}
    offers = webitel(events, "Offering")
    assert [(r["agent_extension"], r["cc_attempt_seq"]) for r in offers] == [
        (x, i + 1) for i, x in enumerate(t["ringing"])
    ]
    # every member rang out (AgentRingNoAnswer), each Missed with its own attempt
    missed = webitel(events, "Missed")
    assert sorted((r["agent_extension"], r["cc_attempt_seq"]) for r in missed) == [
        (x, i + 1) for i, x in enumerate(t["ringing"])
    ]
    left = webitel(events, "Leaving")
    assert len(left) == 1
    # left at the queue timeout, still connected: not an abandon (the caller did not hang up)
    assert left[0]["cc_result"] == "cancel"
    assert left[0]["call_duration"] == pytest.approx(when["caller left the queue (timeout)"], abs=NEAR)
    assert left[0]["call_duration"] == pytest.approx(t["queue_timeout_seconds"], abs=0.1)
    assert left[0]["call_bill_sec"] == 0  # answered by the dial plan only after it left
    assert left[0]["call_voice_sec"] == 0
    assert left[0]["call_cause"] == ""  # nobody hung up yet
    # the agents' legs were withdrawn by the queue: no answer; the call is a missed one
    voipex = wire(events, "voipex")
    assert sorted(r["Line"] for r in voipex if r["EventName"] == "Hangup" and r["Line"]) == sorted(t["ringing"])
    assert {r["Reason"] for r in voipex if r["EventName"] == "Hangup" and r["Line"]} == {"No answer"}
    assert [r["Reason"] for r in voipex if r["EventName"] == "Hangup" and not r["Line"]] == ["No user response"]
    ended = next(e for e in events if e.type is T.CALL_ENDED)
    assert ended.ts.timestamp() - start(events).timestamp() == pytest.approx(
        when["dial plan hung up the caller after the mailbox"], abs=NEAR
    )


def test_an_abandon_is_an_abandon() -> None:
    """inbound_ringall_missed: the caller hung up (HangupRequest before QueueCallerAbandon)."""
    left = webitel(replay("inbound_ringall_missed"), "Leaving")
    assert [(r["cc_result"], r["call_cause"]) for r in left] == [("abandoned", "NORMAL_CLEARING")]


def test_ringall_bridged_attempt_is_the_answered_offer() -> None:
    """Issue 14: cc_attempt_seq is the attempt of the offer in question, not the offers so far."""
    t = truth("inbound_ringall_answered")["truth"]
    events = replay("inbound_ringall_answered")
    bridged = webitel(events, "Bridged")
    assert [r["cc_attempt_seq"] for r in bridged] == [t["ringing"].index(t["answered_by"]) + 1]
    assert [r["cc_attempt_seq"] for r in webitel(events, "Leaving")] == [t["ringing"].index(t["answered_by"]) + 1]
    timeline = {e["what"]: e["t"] for e in truth("inbound_ringall_answered")["timeline"]}
    left = webitel(events, "Leaving")[0]
    assert left["call_duration"] == pytest.approx(timeline["caller hung up after 3 s of talk"], abs=NEAR)
    assert left["call_voice_sec"] == pytest.approx(t["talk_seconds"], abs=NEAR)


def test_bill_sec_counts_from_the_ivr_answer() -> None:
    """custom_field: the IVR answers the caller before the queue (seed 002: bill from the
    member's answer; voice from the agent's connection), so bill > voice."""
    events = replay("custom_field")
    left = webitel(events, "Leaving")[0]
    cdr = next(c for c in truth("custom_field")["observed"]["cdrs"] if c["Disposition"] == "ANSWERED")
    assert int(left["call_bill_sec"]) == int(cdr["BillableSeconds"])
    assert left["call_voice_sec"] == pytest.approx(truth("custom_field")["truth"]["talk_seconds"], abs=0.6)
    assert left["call_bill_sec"] > left["call_voice_sec"] + 3


# ------------------------------------------------------------------------------ CDR
# Asterisk writes one CDR per dialled leg; callhook one per call (first channel to last).
# Where Asterisk's records split the call, the whole is the sum of the consecutive parts.
SPLIT = {
    "blind_transfer": "a blind transfer starts a new record for the new leg",
    "queue_timeout": "the queue's legs end at the timeout; the mailbox answer is a record of its own",
}
# rrmemory retries 1 s after the first member rang out: the gap is in no Asterisk record
NOT_COMPARABLE = {"rrmemory_ringnoanswer"}


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"agent_session"} - NOT_COMPARABLE))
def test_the_cdr_matches_asterisks(name: str) -> None:
    """VOIPEX CDR Duration / Billsec (whole seconds) and Disposition against the recording's Cdr events."""
    data = truth(name)
    events = replay(name)
    for call_id in data["observed"]["linkedids"]:
        cdrs = [c for c in data["observed"]["cdrs"] if c["LinkedID"] == call_id]
        body = next(r for r in wire([e for e in events if e.call_id == call_id], "voipex") if r["EventName"] == "CDR")
        if name in SPLIT:
            parts = {c["DestinationChannel"]: c for c in cdrs}.values()
            longest_unanswered = max((int(c["Duration"]) for c in parts if c["Disposition"] != "ANSWERED"), default=0)
            answered = [c for c in parts if c["Disposition"] == "ANSWERED"]
            duration = sum(int(c["Duration"]) for c in answered) + (
                0 if name == "blind_transfer" else longest_unanswered
            )
            billsec = sum(int(c["BillableSeconds"]) for c in answered)
        else:
            whole = max(cdrs, key=lambda c: (int(c["Duration"]), int(c["BillableSeconds"])))
            duration, billsec = int(whole["Duration"]), int(whole["BillableSeconds"])
        assert (int(body["Duration"]), int(body["Billsec"])) == (duration, billsec), cdrs
        # a person answered: an ANSWERED record with a destination channel (the mailbox's has none)
        answered_by_person = any(c["Disposition"] == "ANSWERED" and c["DestinationChannel"] for c in cdrs)
        dispositions = {c["Disposition"] for c in cdrs}
        if answered_by_person:
            assert body["Disposition"] == "ANSWERED"
        elif "BUSY" in dispositions:
            assert body["Disposition"] == "BUSY"
        else:
            # nobody answered (a mailbox answer is the PBX's: still a missed call for callhook)
            assert body["Disposition"] == "NO ANSWER"

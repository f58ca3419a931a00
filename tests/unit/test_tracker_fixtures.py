"""Each recorded scenario, replayed through the real codec, tracker and encoders.

The expected sequences are written from each scenario's ground truth
(tests/fixtures/ami/<name>.json: truth, expected causes), the lab directory and
the vendor documents (spec/dialects.md), never from the implementation's output.

A sequence is a list of *steps*; a step is a list of requests that happen together
(their relative order is the PBX's, e.g. three ring-all legs ringing at once), so a
step matches the next len(step) requests in any order. Each expected request lists
the fields it must carry with those values; other fields are not checked here
(the golden dialect tests check whole payloads).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callhook.core.events import EventType

from labdata import SCENARIOS, replay, truth, wire

Step = list[dict[str, Any]]

NAMES = {
    "20": ("novakova", "novakova@example.cz"),
    "21": ("svoboda", "svoboda@example.cz"),
    "22": ("dvorak", "dvorak@example.cz"),
    "163": ("janecek", "nejaky@email.cz"),
}


def leg(event: str, line: str, **kw: Any) -> dict[str, Any]:
    login, email = NAMES[line]
    return {"EventName": event, "Line": line, "Login": login, "Email": email, **kw}


def match_steps(actual: list[dict[str, Any]], steps: list[Step]) -> None:
    want = sum(len(s) for s in steps)
    assert len(actual) == want, f"{len(actual)} requests, expected {want}:\n" + "\n".join(map(str, actual))
    i = 0
    for step in steps:
        chunk = actual[i : i + len(step)]
        remaining = list(chunk)
        for exp in step:
            hit = next((r for r in remaining if all(r.get(k) == v for k, v in exp.items())), None)
            assert hit is not None, f"no request like {exp} at position {i}..{i + len(step) - 1}: {chunk}"
            remaining.remove(hit)
        i += len(step)


def inbound_ringall(name: str, cf: str | None = None) -> None:
    t = truth(name)["truth"]
    caller, did, winner = t["caller"], t["did"], t["answered_by"]
    losers = [x for x in t["ringing"] if x != winner]
    events = replay(name)
    extra = {"CustomField": cf} if cf else {}
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": did, "Line": None, "Direction": "incoming"}],
            [leg("Ringing", x, From=caller, To=x, Direction="incoming", **extra) for x in t["ringing"]],
            [leg("Answered", winner, From=caller)],
            [leg("Hangup", x, From=caller, Reason="Answered elsewhere") for x in losers],
            [leg("Hangup", winner, Reason="Normal Clearing")],
            [{"EventName": "CDR", "From": caller, "UniqueId": events[0].call_id}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [
                {
                    "event": "dial",
                    "caller_type": "external",
                    "caller_num": caller,
                    "called_num": did,
                    "transfering_exten": "",
                }
            ],
            [{"event": "answer_internal", "exten_num": winner, "caller_num": caller, "caller_type": "external"}],
            [{"event": "hangup_internal", "exten_num": winner}],
            [
                {
                    "event": "endcall",
                    "call_answered": "t",
                    "answering_exten": winner,
                    "last_dial_answered": "t",
                    "caller_num": caller,
                    "called_num": did,
                }
            ],
        ],
    )
    webitel = wire(events, "webitel")
    match_steps(
        webitel,
        [
            [{"event": "Joined", "queue": t["queue"]}],
            *[[{"event": "Offering", "agent_extension": x}] for x in t["ringing"]],
            [{"event": "Bridged", "agent_extension": winner}],
            [{"event": "Leaving", "cc_result": "success"}],
        ],
    )
    if cf:
        assert all(r.get("ipbx_custom_field") == cf for r in webitel)
    assert wire(events, "telphin") == []


def test_inbound_ringall_answered() -> None:
    inbound_ringall("inbound_ringall_answered")


def test_custom_field() -> None:
    inbound_ringall("custom_field", cf=truth("custom_field")["truth"]["custom_field"])
    assert all("CustomField" not in r for r in wire(replay("custom_field"), "voipex") if r["EventName"] != "Ringing")


def test_inbound_ringall_missed() -> None:
    t = truth("inbound_ringall_missed")["truth"]
    caller, did = t["caller"], t["did"]
    events = replay("inbound_ringall_missed")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": did, "Line": None}],
            [leg("Ringing", x, From=caller) for x in t["ringing"]],
            # the queue withdraws the ringing legs when the caller gives up: not "Answered elsewhere"
            [leg("Hangup", x, Reason="Originator cancel") for x in t["ringing"]],
            # seed 000: the missed call ends with "No user response" and empty Line/Login/Email
            [
                {
                    "EventName": "Hangup",
                    "Reason": "No user response",
                    "From": caller,
                    "To": did,
                    "Line": "",
                    "Login": "",
                    "Email": "",
                }
            ],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_num": caller, "called_num": did}],
            [{"event": "endcall", "call_answered": "f", "answering_exten": "", "last_dial_answered": "f"}],
        ],
    )
    match_steps(
        wire(events, "webitel"),
        [
            [{"event": "Joined"}],
            *[[{"event": "Offering", "agent_extension": x}] for x in t["ringing"]],
            [{"event": "Leaving", "cc_result": "abandoned"}],
        ],
    )


def test_inbound_direct_answered() -> None:
    t = truth("inbound_direct_answered")["truth"]
    caller, did, ext = t["caller"], t["did"], t["answered_by"]
    events = replay("inbound_direct_answered")
    match_steps(
        wire(events, "voipex"),
        [
            # seed 000's NewCall example has these very numbers
            [{"EventName": "NewCall", "From": caller, "To": did, "Line": None, "Direction": "incoming"}],
            [leg("Ringing", ext, From=caller, To=ext, Direction="incoming")],
            [leg("Answered", ext, From=caller)],
            [leg("Hangup", ext, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_type": "external", "caller_num": caller, "called_num": did}],
            [{"event": "answer_internal", "exten_num": ext, "exten_name": "Jana Novakova"}],
            [{"event": "hangup_internal", "exten_num": ext, "exten_name": "Jana Novakova"}],
            [
                {
                    "event": "endcall",
                    "call_answered": "t",
                    "answering_exten": ext,
                    "last_dial_answered": "t",
                    "last_dialed_exten": ext,
                }
            ],
        ],
    )
    assert wire(events, "webitel") == []


def test_inbound_direct_busy() -> None:
    t = truth("inbound_direct_busy")["truth"]
    caller, did, ext = t["caller"], t["did"], t["routed_to"]
    events = replay("inbound_direct_busy")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": did}],
            # 22's channel reached Ringing before the busy signal
            [leg("Ringing", ext)],
            [leg("Hangup", ext, Reason="User busy")],
            [{"EventName": "Hangup", "Reason": "No user response", "Line": ""}],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_num": caller, "called_num": did}],
            [
                {
                    "event": "endcall",
                    "call_answered": "f",
                    "answering_exten": "",
                    "last_dial_answered": "f",
                    "last_dialed_exten": ext,
                }
            ],
        ],
    )
    record = [e for e in events if e.type is EventType.CALL_RECORD]
    assert record[0].record is not None
    assert record[0].record.disposition == "BUSY"


def test_caller_abandons_while_ringing_direct() -> None:
    t = truth("caller_abandons_while_ringing_direct")["truth"]
    caller, did, ext = t["caller"], t["did"], t["routed_to"]
    events = replay("caller_abandons_while_ringing_direct")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": did}],
            [leg("Ringing", ext, From=caller)],
            [leg("Hangup", ext, Reason="Originator cancel")],
            [
                {
                    "EventName": "Hangup",
                    "Reason": "No user response",
                    "Line": "",
                    "Login": "",
                    "Email": "",
                    "From": caller,
                    "To": did,
                }
            ],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial"}],
            [{"event": "endcall", "call_answered": "f", "last_dialed_exten": ext, "last_dial_answered": "f"}],
        ],
    )


def test_outbound_answered() -> None:
    t = truth("outbound_answered")["truth"]
    events = replay("outbound_answered")
    # seed 000's outgoing example: From the extension, To the number (no dial prefix), Line the extension
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": t["caller"], "To": t["called"], "Direction": "outgoing"}],
            [
                {
                    "EventName": "Ringing",
                    "From": t["caller"],
                    "To": t["called"],
                    "Line": t["caller"],
                    "Direction": "outgoing",
                }
            ],
            [{"EventName": "Answered", "Line": t["caller"], "To": t["called"]}],
            [leg("Hangup", t["caller"], Reason="Normal Clearing", To=t["called"])],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_type": "internal", "caller_num": t["caller"], "called_num": t["called"]}],
            [{"event": "answer_external", "caller_num": t["caller"], "called_num": t["called"]}],
            [{"event": "hangup_internal", "exten_num": t["caller"]}],
            # seed 003's endcall of an outgoing call: answering_exten and last_dialed_exten empty
            [{"event": "endcall", "call_answered": "t", "answering_exten": "", "last_dialed_exten": ""}],
        ],
    )


def test_outbound_noanswer() -> None:
    t = truth("outbound_noanswer")["truth"]
    events = replay("outbound_noanswer")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": t["caller"], "To": t["called"], "Direction": "outgoing"}],
            [{"EventName": "Ringing", "From": t["caller"], "To": t["called"], "Line": t["caller"]}],
            # Q.850 19 from the dial plan's Hangup(19) on NOANSWER
            [leg("Hangup", t["caller"], Reason="No answer")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_type": "internal", "called_num": t["called"]}],
            [
                {
                    "event": "endcall",
                    "call_answered": "f",
                    "answering_exten": "",
                    "last_dialed_exten": "",
                    "last_dial_answered": "f",
                }
            ],
        ],
    )


def test_internal_call() -> None:
    t = truth("internal_call")["truth"]
    events = replay("internal_call")
    caller, called = t["caller"], t["called"]
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": called, "Direction": "outgoingLocal"}],
            [leg("Ringing", called, From=caller, Direction="outgoingLocal")],
            [leg("Answered", called, From=caller)],
            # 20 hangs up first
            [leg("Hangup", caller, Reason="Normal Clearing")],
            [leg("Hangup", called, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_type": "internal", "caller_num": caller, "called_num": called}],
            [{"event": "answer_internal", "exten_num": called, "caller_num": caller}],
            [{"event": "hangup_internal", "exten_num": caller}],
            [{"event": "hangup_internal", "exten_num": called}],
            [{"event": "endcall", "call_answered": "t", "answering_exten": called, "last_dialed_exten": called}],
        ],
    )


def test_click2dial() -> None:
    t = truth("click2dial")["truth"]
    ext, number = t["exten"], t["number"]
    events = replay("click2dial")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": ext, "To": number, "Direction": "outgoing"}],
            [leg("Ringing", ext)],  # the extension's phone rings first
            [leg("Answered", ext)],
            [{"EventName": "Ringing", "From": ext, "To": number, "Line": ext, "Direction": "outgoing"}],
            [{"EventName": "Answered", "Line": ext, "To": number}],
            [leg("Hangup", ext, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_type": "originate", "caller_num": ext, "called_num": number}],
            [{"event": "answer_internal", "exten_num": ext}],
            [{"event": "answer_external", "called_num": number}],
            [{"event": "hangup_internal", "exten_num": ext}],
            [
                {
                    "event": "endcall",
                    "caller_type": "originate",
                    "caller_num": ext,
                    "called_num": number,
                    "call_answered": "t",
                }
            ],
        ],
    )


def test_blind_transfer() -> None:
    t = truth("blind_transfer")["truth"]
    caller, first, target = t["caller"], t["answered_by"], t["transfer_target"]
    events = replay("blind_transfer")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": t["did"]}],
            [leg("Ringing", first, From=caller)],
            [leg("Answered", first, From=caller)],
            [leg("Ringing", target, From=caller)],
            [leg("Hangup", first, Reason="Normal Clearing")],
            [leg("Answered", target, From=caller)],
            [leg("Hangup", target, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial", "caller_num": caller, "transfering_exten": ""}],
            [{"event": "answer_internal", "exten_num": first}],
            # spec Decision on transfers: a new dial of the same call with the transferring extension
            [{"event": "dial", "caller_num": caller, "called_num": target, "transfering_exten": first}],
            [{"event": "hangup_internal", "exten_num": first}],
            [{"event": "answer_internal", "exten_num": target}],
            [{"event": "hangup_internal", "exten_num": target}],
            [{"event": "endcall", "answering_exten": target, "last_dialed_exten": target, "last_dial_answered": "t"}],
        ],
    )
    assert len({r["call_id"] for r in wire(events, "pbx2is")}) == 1


def test_attended_transfer_cancelled() -> None:
    t = truth("attended_transfer_cancelled")["truth"]
    caller, first, target = t["caller"], t["answered_by"], t["transfer_target"]
    events = replay("attended_transfer_cancelled")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "From": caller, "To": t["did"]}],
            [leg("Ringing", first)],
            [leg("Answered", first)],
            [leg("Ringing", target)],  # the consultation
            [leg("Answered", target)],
            [{"EventName": "CancelAttendedTransfer", "Line": first}],  # inferred: Asterisk has no event
            [leg("Hangup", target, Reason="Normal Clearing")],
            [leg("Hangup", first, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    pbx = wire(events, "pbx2is")
    assert [r["event"] for r in pbx].count("endcall") == 1
    assert all(r.get("transfering_exten", "") == "" for r in pbx if r["event"] == "dial")


def test_rrmemory_ringnoanswer() -> None:
    t = truth("rrmemory_ringnoanswer")["truth"]
    first, winner = t["first_offered"], t["answered_by"]
    events = replay("rrmemory_ringnoanswer")
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "NewCall", "To": t["did"]}],
            [leg("Ringing", first)],
            [leg("Hangup", first, Reason="No answer")],  # rang out: not "Answered elsewhere"
            [leg("Ringing", winner)],
            [leg("Answered", winner)],
            [leg("Hangup", winner, Reason="Normal Clearing")],
            [{"EventName": "CDR"}],
        ],
    )
    match_steps(
        wire(events, "webitel"),
        [
            [{"event": "Joined", "queue": "SALES"}],
            [{"event": "Offering", "agent_extension": first}],
            [{"event": "Missed", "agent_extension": first}],
            [{"event": "Offering", "agent_extension": winner}],
            [{"event": "Bridged", "agent_extension": winner}],
            [{"event": "Leaving", "cc_result": "success"}],
        ],
    )
    match_steps(
        wire(events, "pbx2is"),
        [
            [{"event": "dial"}],
            [{"event": "answer_internal", "exten_num": winner}],
            [{"event": "hangup_internal", "exten_num": winner}],
            [{"event": "endcall", "answering_exten": winner, "last_dialed_exten": winner, "last_dial_answered": "t"}],
        ],
    )


def test_agent_session() -> None:
    t = truth("agent_session")["truth"]
    events = replay("agent_session")
    base = {"Queue": t["queue"], "Login": t["member_name"], "Line": t["line"], "Email": "nejaky@email.cz"}
    match_steps(
        wire(events, "voipex"),
        [
            [{"EventName": "AgentLogin", **base}],
            [{"EventName": "AgentPaused", "PauseName": t["pause_reason"], **base}],
            [{"EventName": "AgentUnPaused", **base}],
            [{"EventName": "AgentLogout", **base}],
        ],
    )
    paused = wire(events, "voipex")[1]
    assert paused["PauseName"].encode() == bytes.fromhex(t["pause_reason_utf8_hex"])
    match_steps(
        wire(events, "telphin"),
        [
            [{"agent_status": "available", "agent_type": "local", "agent_id": "163", "event_source": "phone"}],
            [{"agent_status": "logged_out", "agent_type": "local", "agent_id": "163", "event_source": "phone"}],
        ],
    )
    assert wire(events, "pbx2is") == []
    assert wire(events, "webitel") == []


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_call_is_one_call_in_order(name: str) -> None:
    """Per call: NewCall first, the CDR last, one of each; seq increasing; ids unique."""
    events = replay(name)
    by_call: dict[str, list[Any]] = {}
    for e in events:
        if e.call_id:
            by_call.setdefault(e.call_id, []).append(e)
    assert len({e.id for e in events}) == len(events)
    for evs in by_call.values():
        assert evs[0].type is EventType.CALL_NEW
        assert evs[-1].type is EventType.CALL_RECORD
        assert [e.type for e in evs].count(EventType.CALL_NEW) == 1
        assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
    assert sorted(by_call) == sorted(truth(name)["observed"]["linkedids"])


def test_all_scenarios_covered() -> None:
    """Each recording has its test, here or in test_tracker_fixtures_*.py."""
    import re
    from pathlib import Path

    text = "".join(p.read_text() for p in Path(__file__).parent.glob("test_tracker_fixtures*.py"))
    covered = set(re.findall(r"^def test_(\w+)\(", text, re.MULTILINE))
    assert set(SCENARIOS) <= covered


def test_legs_withdrawn_while_the_caller_waits_rang_out() -> None:
    """The ring-all recording without the caller's hang-up request before the cancels: the
    queue withdrew the legs itself (a queue timeout), so they rang out ("No answer"),
    not "Originator cancel"."""
    from callhook.core.tracker.tracker import Tracker

    from labdata import NOW, ids, lab_directory, messages

    msgs = messages("inbound_ringall_missed")
    first_cancel = next(i for i, m in enumerate(msgs) if m.event == "DialEnd")
    kept = [m for i, m in enumerate(msgs) if not (m.event == "HangupRequest" and i < first_cancel)]
    tracker = Tracker(lab_directory(), ids())
    events = [e for m in kept for e in tracker.feed(m, NOW)]
    reasons = {
        e.leg.number: e.hangup.reason
        for e in events
        if e.type is EventType.CALL_HANGUP and e.leg is not None and e.hangup is not None
    }
    assert reasons == {"20": "No answer", "21": "No answer", "22": "No answer"}


def test_calls_alive_at_connect_are_adopted_and_ended() -> None:
    """callhook connects mid-call (CoreShowChannels lists two channels): it tells nothing
    about the call's past, but its hangups, end and record still come, with the right parties."""
    from callhook.core.ami.message import AmiMessage
    from callhook.core.tracker.tracker import Tracker

    from labdata import NOW, ids, lab_directory, messages

    msgs = messages("inbound_direct_answered")
    bridged = max(i for i, m in enumerate(msgs) if m.event == "BridgeEnter")
    alive: dict[str, AmiMessage] = {}
    for m in msgs[: bridged + 1]:
        if m.get("Uniqueid") and m.event in ("Newchannel", "Newstate", "NewCallerid", "BridgeEnter"):
            alive[m.get("Uniqueid")] = m
    listed = [
        AmiMessage.of(("Event", "CoreShowChannel"), *[(k, v) for k, v in m.headers if k != "Event"])
        for m in alive.values()
    ]
    tracker = Tracker(lab_directory(), ids())
    assert tracker.resync_channels(listed, NOW) == []
    events = [e for m in msgs[bridged + 1 :] for e in tracker.feed(m, NOW)]
    t = truth("inbound_direct_answered")["truth"]
    kinds = [(e.type, e.leg.number if e.leg else "") for e in events]
    assert kinds == [(EventType.CALL_HANGUP, t["answered_by"]), (EventType.CALL_ENDED, ""), (EventType.CALL_RECORD, "")]
    assert events[0].hangup is not None
    assert events[0].hangup.reason == "Normal Clearing"
    assert events[1].outcome is not None
    assert events[1].outcome.answering_exten == t["answered_by"]
    assert events[1].party.caller_num == t["caller"]
    assert not tracker.calls
    assert not tracker.chans


def test_a_call_cut_while_disconnected_ends_at_resync() -> None:
    from callhook.core.tracker.tracker import Tracker

    from labdata import NOW, ids, lab_directory, messages

    msgs = messages("inbound_direct_answered")
    bridged = max(i for i, m in enumerate(msgs) if m.event == "BridgeEnter")
    tracker = Tracker(lab_directory(), ids())
    for m in msgs[: bridged + 1]:
        tracker.feed(m, NOW)
    events = tracker.resync_channels([], NOW)  # nothing alive any more
    assert [e.type for e in events][-2:] == [EventType.CALL_ENDED, EventType.CALL_RECORD]
    assert not tracker.calls


def test_agent_changes_made_through_callhook_say_api() -> None:
    """spec §3 Decision: event_source is "api" for a change callhook's API asked for."""
    from callhook.core.tracker.tracker import Tracker

    from labdata import NOW, ids, lab_directory, messages

    tracker = Tracker(lab_directory(), ids())
    msgs = messages("agent_session")
    added = next(m for m in msgs if m.event == "QueueMemberAdded")
    tracker.expect_agent_change("login", "NOC", "IAX2/163", datetime.fromtimestamp(float(added.get("Timestamp")), UTC))
    events = [e for m in msgs for e in tracker.feed(m, NOW)]
    sources = [(e.type, e.agent.event_source) for e in events if e.agent is not None]
    assert sources == [
        (EventType.AGENT_LOGIN, "api"),
        (EventType.AGENT_PAUSED, "phone"),
        (EventType.AGENT_UNPAUSED, "phone"),
        (EventType.AGENT_LOGOUT, "phone"),
    ]


def test_calls_and_agents_carry_their_extensions_tenant() -> None:
    """On a PBX shared by tenants, a call made by an extension and an agent's events
    belong to that extension's tenant (a tenant token sees only those)."""
    import json

    from callhook.core.directory import Directory

    from labdata import FIXTURES

    data = json.loads((FIXTURES / "lab-directory.json").read_text())
    for e in data["extensions"]:
        if e["number"] in ("20", "163"):
            e["tenant"] = "acme"
    directory = Directory.from_mapping(data)
    assert {e.tenant for e in replay("internal_call", directory)} == {"acme"}
    assert {e.tenant for e in replay("agent_session", directory)} == {"acme"}
    assert {e.tenant for e in replay("inbound_direct_answered", directory)} == {"lab"}


def test_a_did_of_another_tenant_makes_its_calls_that_tenants() -> None:
    import json

    from callhook.core.directory import Directory

    from labdata import FIXTURES

    data = json.loads((FIXTURES / "lab-directory.json").read_text())
    data["dids"]["910104219"] = {"description": "extension 20", "tenant": "acme"}
    directory = Directory.from_mapping(data)
    assert directory.to_mapping()["dids"]["910104219"] == {"description": "extension 20", "tenant": "acme"}
    assert {e.tenant for e in replay("inbound_direct_answered", directory)} == {"acme"}
    assert {e.tenant for e in replay("inbound_ringall_answered", directory)} == {"lab"}

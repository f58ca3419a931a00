"""Ingest as a source: each recorded scenario's VOIPEX (and Webitel) output, posted to
``/ingest/{dialect}``, gives PBX2IS and native subscribers what the AMI run gave them,
for every field the posted dialect carries (docs/dialects.md "Ingest").

The AMI run is the truth here: tests/fixtures/ami replayed through the tracker, as
tests/labdata.py does; the hub's clock is set to each event's time before it is
posted (VOIPEX and Webitel carry no time: callhook stamps the receipt).
"""

# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import json
from typing import Any

import pytest
from test_api_support import ADMIN, Api, mapi  # noqa: F401

from callhook.core import dialects, stats
from callhook.core.events import Event, EventType

from labdata import FIXTURES, SCENARIOS, SUBS, lab_directory, replay, wire

T = EventType
# What VOIPEX cannot carry, scenario by scenario (docs/dialects.md "Ingest"):
# a blind transfer has no VOIPEX message (PBX2IS's second dial is lost), and a
# click-to-dial call is "outgoing" on VOIPEX's wire: caller_type originate, and that
# the first Ringing/Answered is the caller's own phone, cannot be told.
# the canonical types a VOIPEX message stands for, and the end the model infers
VOIPEX_TYPES = frozenset(dialects.event_names("voipex")[n] for n in dialects.event_names("voipex"))
CARRIED = frozenset().union(*VOIPEX_TYPES) | {T.CALL_ENDED}


def _post(api: Api, dialect: str, events: list[Event]) -> list[str]:
    """Post each event's message as the vendor would; the call ids seen."""
    calls = []
    for ev in events:
        req = dialects.encode(ev, SUBS[dialect])
        if req is None:
            continue
        api.hub.clock.t = ev.ts.timestamp()
        r = api.client.post(
            f"/ingest/{dialect}",
            content=req.body,
            headers={
                "Authorization": f"Bearer {ADMIN}",
                "X-Callhook-Tenant": "lab",
                "Content-Type": "application/json",
            },
        )
        assert r.status_code == 200, r.text
        if r.json()["call_id"] and r.json()["call_id"] not in calls:
            calls.append(r.json()["call_id"])
    return calls


def _stored(api: Api, call_ids: list[str]) -> list[Event]:
    out: list[Event] = []
    for cid in call_ids:
        out += api.run(api.hub.store.call_events(cid))
    return out


def _native(ev: Event) -> tuple[Any, ...]:
    """An event as a native subscriber reads it, in the fields VOIPEX carries (or the model derives)."""
    p, leg, h, o, rec = ev.party, ev.leg, ev.hangup, ev.outcome, ev.record
    return (
        ev.type.value,
        ev.call_id,
        ev.tenant,
        (p.caller_num, p.called_num, p.direction, p.caller_type, p.record_name),
        None if leg is None else (leg.number, leg.name, leg.login, leg.email, leg.external),
        None if h is None else (h.reason, h.answered),
        None if o is None else (o.answered, o.answering_exten, o.last_dial_answered, o.last_dialed_exten, o.missed),
        None if rec is None else (rec.start, rec.end, rec.answer, rec.duration, rec.billsec, rec.disposition),
    )


@pytest.fixture
def lab(mapi: Api) -> Api:
    mapi.hub.directories.replace(lab_directory())
    return mapi


@pytest.mark.parametrize("name", [s for s in SCENARIOS if s != "agent_session"])
def test_voipex_in_gives_pbx2is_and_native_what_ami_gave(lab: Api, name: str) -> None:
    ami = replay(name)
    got = _stored(lab, _post(lab, "voipex", ami))
    # every call's events numbered 1, 2, 3 ... in the order they were stored
    for cid in {e.call_id for e in got}:
        assert [e.seq for e in got if e.call_id == cid] == list(range(1, 1 + sum(e.call_id == cid for e in got)))
    want, have = wire(ami, "pbx2is"), wire(got, "pbx2is")
    if name == "blind_transfer":  # no VOIPEX message for a blind transfer: its dial is all that is missing
        want = [m for m in want if not m.get("transfering_exten")]
        ami = [e for e in ami if e.type is not T.CALL_TRANSFER_BLIND]
    if name == "click2dial":  # "outgoing" on the wire: originate, and the caller's own first answer, are lost
        assert [m["event"] for m in have] == [m["event"].replace("_internal", "_external", 1) for m in want][:2] + [
            m["event"] for m in want[2:]
        ]
        assert {m["caller_type"] for m in want if "caller_type" in m} == {"originate"}
        assert {m["caller_type"] for m in have if "caller_type" in m} == {"internal"}
        keep = ("call_answered", "last_dial_answered", "last_dialed_exten", "caller_num", "called_num", "ts")
        assert [have[-1][k] for k in keep] == [want[-1][k] for k in keep]
        return
    assert have == want
    assert [_native(e) for e in got] == [_native(e) for e in ami if e.type in CARRIED]
    # the statistics computed from them: per agent, and the call-back list
    assert stats.agent_stats(got) == stats.agent_stats(ami)
    assert stats.missed_calls(got) == stats.missed_calls(ami)


def test_voipex_missed_call_is_a_call_to_call_back(lab: Api) -> None:
    """The issue's case: NewCall, Ringing, Hangup "No user response", CDR."""
    ami = replay("inbound_ringall_missed")
    truth = json.loads((FIXTURES / "inbound_ringall_missed.json").read_text())
    call_ids = _post(lab, "voipex", ami)
    pbx2is = wire(_stored(lab, call_ids), "pbx2is")
    assert [m["event"] for m in pbx2is] == ["dial", "endcall"]
    assert pbx2is[0]["caller_type"] == "external"
    assert pbx2is[0]["record_name"]
    assert pbx2is[1]["call_answered"] == "f"
    ended = lab.get("/api/v1/calls", params={"outcome": "missed", "since": "2026-11-01T00:00:00Z"}).json()["items"]
    assert [c["call_id"] for c in ended] == call_ids
    missed = lab.get(
        "/api/v1/missed-calls", params={"since": "2026-11-21T00:00:00Z", "until": "2026-11-22T00:00:00Z"}
    ).json()
    caller = truth["truth"]["caller"]
    # its CDR: the one VOIPEX sent (the truth: 8 s, nobody answered)
    cdrs = lab.get("/api/v1/cdrs", params={"since": "2026-11-21T00:00:00Z"}).json()["items"]
    assert [(c["call_id"], c["disposition"], c["duration"], c["answered_by"]) for c in cdrs] == [
        (call_ids[0], "NO ANSWER", truth["truth"]["caller_gives_up_after_seconds"], "")
    ]
    assert [(m["number"], m["call_ids"]) for m in missed["numbers"]] == [(caller, call_ids)]


def test_the_end_is_inferred_when_the_vendor_does_not_say_it(lab: Api) -> None:
    """No CDR: call.ended comes after the model's wait, not before, and the call leaves the live list."""
    ami = [e for e in replay("inbound_direct_answered") if e.type is not T.CALL_RECORD]
    call_ids = _post(lab, "voipex", ami)
    live = lab.get("/api/v1/calls/live").json()
    assert [c["call_id"] for c in live] == call_ids  # every leg hung up, the end not yet inferred
    assert lab.run(lab.hub.ingest.expire()) == []
    lab.hub.clock.t += lab.hub.ingest.model.end_wait.total_seconds() + 0.001
    ends = lab.run(lab.hub.ingest.expire())
    assert [e.type for e in ends] == [T.CALL_ENDED]  # VOIPEX sends its own CDR: none is made up
    assert ends[0].outcome is not None
    assert ends[0].outcome.answered
    assert lab.get("/api/v1/calls/live").json() == []
    want = [m for m in wire(replay("inbound_direct_answered"), "pbx2is") if m["event"] != "endcall"]
    got = wire(_stored(lab, call_ids), "pbx2is")
    assert got[:-1] == want
    assert got[-1]["event"] == "endcall"
    assert got[-1]["call_answered"] == "t"


def test_a_late_event_continues_the_call(lab: Api) -> None:
    ami = replay("inbound_direct_busy")
    call_ids = _post(lab, "voipex", ami)
    before = _stored(lab, call_ids)
    lab.hub.clock.t += 1
    hangup = next(e for e in ami if e.type is T.CALL_HANGUP)
    _post(lab, "voipex", [hangup])
    after = _stored(lab, call_ids)
    assert len(after) == len(before) + 1
    assert after[-1].seq == before[-1].seq + 1
    assert [e.type for e in after].count(T.CALL_ENDED) == 1


def test_webitel_in_gives_voipex_and_pbx2is_a_call(lab: Api) -> None:
    ami = replay("inbound_ringall_missed")
    call_ids = _post(lab, "webitel", ami)
    lab.hub.clock.t += lab.hub.ingest.model.end_wait.total_seconds() + 1
    lab.run(lab.hub.ingest.expire())
    got = _stored(lab, call_ids)
    pbx2is = wire(got, "pbx2is")
    assert [m["event"] for m in pbx2is] == ["dial", "endcall"]
    assert (pbx2is[0]["caller_num"], pbx2is[0]["caller_type"]) == ("777888999", "external")
    assert (pbx2is[1]["call_answered"], pbx2is[1]["last_dialed_exten"]) == ("f", "22")
    voipex = wire(got, "voipex")
    assert [(m["EventName"], m.get("Line")) for m in voipex] == [
        ("NewCall", None),
        ("Ringing", "20"),
        ("Ringing", "21"),
        ("Ringing", "22"),
        ("Hangup", "20"),
        ("Hangup", "21"),
        ("Hangup", "22"),
        ("Hangup", ""),
        ("CDR", ""),
    ]
    assert voipex[-2]["Reason"] == "No user response"
    assert voipex[1]["Email"] == "novakova@example.cz"  # from the directory: Webitel has no e-mail


# what Webitel's hooks do not carry: the time of the call's start and end (a hook comes
# when the queue acts), the called number (no DID on the hook), hence record_name
WEBITEL_LOST = ("ts", "called_num", "record_name")
QUEUED = [s for s in SCENARIOS if any(e.type.is_queue for e in replay(s))]


@pytest.mark.parametrize("name", QUEUED)
def test_webitel_in_gives_pbx2is_what_ami_gave(lab: Api, name: str) -> None:
    ami = replay(name)
    call_ids = _post(lab, "webitel", ami)
    lab.hub.clock.t += lab.hub.ingest.model.end_wait.total_seconds() + 1
    lab.run(lab.hub.ingest.expire())
    got = _stored(lab, call_ids)
    # call by call: a Webitel hook comes when the queue acts, so one call's end may come
    # after the next call's Joined (queue_wrapup); within a call the order is AMI's
    for cid in call_ids:
        want = [
            {k: v for k, v in m.items() if k not in WEBITEL_LOST} for m in wire(ami, "pbx2is") if m["call_id"] == cid
        ]
        have = [
            {k: v for k, v in m.items() if k not in WEBITEL_LOST} for m in wire(got, "pbx2is") if m["call_id"] == cid
        ]
        assert have == want, cid
    assert lab.get("/api/v1/calls/live").json() == []


def test_webitel_in_counts_in_the_queue_statistics(lab: Api) -> None:
    for name in ("inbound_ringall_missed", "inbound_ringall_answered"):
        _post(lab, "webitel", replay(name))
    lab.hub.clock.t += lab.hub.ingest.model.end_wait.total_seconds() + 1
    lab.run(lab.hub.ingest.expire())
    span = {"since": "2026-11-21T00:00:00Z", "until": "2026-11-22T00:00:00Z"}
    noc = next(q for q in lab.get("/api/v1/queues/stats", params=span).json()["queues"] if q["queue"] == "NOC")
    # the two recordings' truth: one call abandoned, one answered by 21
    assert (noc["offered"], noc["answered"], noc["abandoned"]) == (2, 1, 1)

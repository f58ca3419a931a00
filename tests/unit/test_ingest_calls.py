"""The ingest call model (pure): derived fields, the inferred end and its bounded wait,
late events, agents known by Telphin id; and the directory's agent entries."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from callhook.core.directory import Directory, DirectoryError
from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Hangup, Leg
from callhook.core.ingest_calls import IngestCalls

from labdata import lab_directory

T = EventType
T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


def _model() -> IngestCalls:
    n = itertools.count(1)
    return IngestCalls(lambda ts: f"M{next(n):05d}", end_wait=timedelta(seconds=10))


def _ev(etype: EventType, at: float, **kw: object) -> Event:
    base = {"id": f"E{at}", "type": etype, "ts": T0 + timedelta(seconds=at), "tenant": "lab", "call_id": "c1"}
    return Event(**{**base, "source": "ingest:voipex", **kw})  # type: ignore[arg-type]


def test_caller_type_record_name_and_leg_names_are_derived() -> None:
    m, d = _model(), lab_directory()
    party = CallParty(caller_num="777888999", called_num="222333444", direction=Direction.INCOMING)
    out = m.feed(_ev(T.CALL_NEW, 0, party=party), T0, d)
    out += m.feed(_ev(T.CALL_RINGING, 1, party=CallParty(called_num="20"), leg=Leg(number="20")), T0, d)
    assert [e.seq for e in out] == [1, 2]
    assert {e.party.caller_type for e in out} == {"external"}
    assert {e.party.record_name for e in out} == {"20261121-140000-777888999-222333444"}
    assert out[1].party.called_num == "222333444"  # the call keeps its called number
    assert (out[1].leg.name, out[1].leg.login) == ("Jana Novakova", "novakova")  # type: ignore[union-attr]


def test_direction_from_caller_type_and_the_directory() -> None:
    m, d = _model(), lab_directory()
    out = m.feed(_ev(T.CALL_NEW, 0, party=CallParty(caller_num="20", called_num="21", caller_type="internal")), T0, d)
    assert out[0].party.direction is Direction.OUTGOING_LOCAL
    assert out[0].party.caller_name == "Jana Novakova"


def test_the_end_waits_and_a_new_leg_cancels_it() -> None:
    m, d = _model(), lab_directory()
    m.feed(_ev(T.CALL_NEW, 0, party=CallParty(caller_num="777", called_num="20", direction=Direction.INCOMING)), T0, d)
    m.feed(_ev(T.CALL_RINGING, 1, leg=Leg(number="20")), T0, d)
    hangup = Hangup(reason="No answer")
    m.feed(_ev(T.CALL_HANGUP, 2, leg=Leg(number="20"), hangup=hangup), T0 + timedelta(seconds=2), d)
    assert m.due() == T0 + timedelta(seconds=12)
    assert m.expire(T0 + timedelta(seconds=11)) == []
    m.feed(_ev(T.CALL_RINGING, 5, leg=Leg(number="21")), T0 + timedelta(seconds=5), d)  # the call goes on
    assert m.expire(T0 + timedelta(seconds=13)) == []
    m.feed(_ev(T.CALL_HANGUP, 6, leg=Leg(number="21"), hangup=hangup), T0 + timedelta(seconds=6), d)
    ends = m.expire(T0 + timedelta(seconds=16))
    assert [e.type for e in ends] == [T.CALL_HANGUP, T.CALL_ENDED]  # the missed call's No user response
    assert ends[0].hangup is not None
    assert (ends[0].hangup.reason, ends[0].hangup.cause) == ("No user response", 18)
    o = ends[1].outcome
    assert o is not None
    assert (o.missed, o.last_dialed_exten) == (True, "21")
    assert ends[1].ts == T0 + timedelta(seconds=6)  # the time of the call's last event, not of the timer
    assert m.live_calls() == []
    # remembered for the retain period, then forgotten
    late = m.feed(_ev(T.CALL_HANGUP, 20, hangup=hangup), T0 + timedelta(seconds=20), d)
    assert [e.seq for e in late] == [ends[-1].seq + 1]
    m.expire(T0 + timedelta(minutes=11))
    assert m.due() is None


def test_a_dialect_that_says_its_end_is_not_ended_early() -> None:
    m, d = _model(), lab_directory()
    party = CallParty(caller_num="20", called_num="21")
    m.feed(_ev(T.CALL_NEW, 0, party=party, source="ingest:pbx2is"), T0, d)
    m.feed(_ev(T.CALL_HANGUP, 1, leg=Leg(number="20"), hangup=Hangup(answered=True), source="ingest:pbx2is"), T0, d)
    assert m.expire(T0 + timedelta(minutes=5)) == []
    out = m.feed(_ev(T.CALL_ENDED, 400, source="ingest:pbx2is"), T0 + timedelta(seconds=400), d)
    assert [e.type for e in out] == [T.CALL_ENDED, T.CALL_RECORD]  # pbx2is sends no CDR: one is built
    assert out[1].record is not None
    assert out[1].record.duration == 400


def test_agents_by_telphin_id_and_remote_agents() -> None:
    d = Directory.from_mapping(
        {
            "extensions": [{"number": "94", "name": "Ivan", "agent_id": "136", "extension_name": "000*094@ringme.ru"}],
            "remote_agents": [{"agent_id": "137", "number": "+79161234567", "name": "Olga"}],
        }
    )
    m = _model()
    ev = Event(id="A1", type=T.AGENT_LOGIN, ts=T0, source="ingest:telphin", agent=AgentInfo(agent_id="136"))
    a = m.feed(ev, T0, d)[0].agent
    assert a is not None
    assert (a.number, a.name, a.extension_name) == ("94", "Ivan", "000*094@ringme.ru")
    remote = d.agent_info(agent_id="137")
    assert remote is not None
    assert (remote.agent_type, remote.number) == ("remote", "+79161234567")
    assert d.agent_info(number="94") is not None
    assert d.agent_info(agent_id="94") is None
    assert Directory.from_mapping(d.to_mapping()).remote_agents == d.remote_agents


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"remote_agents": [{"agent_id": "1"}]}, "remote_agents[0].number"),
        ({"remote_agents": [{"agent_id": "", "number": "5"}]}, "remote_agents[0]"),
        ({"remote_agents": "x"}, "remote_agents"),
        (
            {"extensions": [{"number": "1", "agent_id": "7"}], "remote_agents": [{"agent_id": "7", "number": "9"}]},
            "agent_id",
        ),
    ],
)
def test_bad_agent_entries_are_named(data: dict[str, object], field: str) -> None:
    with pytest.raises(DirectoryError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Directory.from_mapping(data)


def test_memory_is_bounded_by_max_calls() -> None:
    n = itertools.count(1)
    m = IngestCalls(lambda ts: f"M{next(n):05d}", max_calls=2)
    d = lab_directory()
    party = CallParty(caller_num="777", called_num="20", direction=Direction.INCOMING)
    for i, cid in enumerate(("a", "b")):
        m.feed(_ev(T.CALL_NEW, i, call_id=cid, party=party), T0 + timedelta(seconds=i), d)
    out = m.feed(_ev(T.CALL_NEW, 5, call_id="c", party=party), T0 + timedelta(seconds=5), d)
    # the least recently touched call ("a") is ended, as a missed call, to make room
    # (no CDR made up: these are VOIPEX events, and VOIPEX sends its own)
    assert [(e.call_id, e.type) for e in out[:-1]] == [("a", T.CALL_HANGUP), ("a", T.CALL_ENDED)]
    assert sorted(c.call_id for c in m.live_calls()) == ["b", "c"]

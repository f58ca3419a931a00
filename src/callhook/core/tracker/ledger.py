"""The tracker's shared memory and the helpers every handler uses: filing channels
under their call, stepping a leg's or a visit's machine, and making events with the
call's envelope (id, time, tenant, call key, sequence).

The handlers are separate objects that hold one :class:`Ledger` (composition, not
inheritance): :class:`~.calls.CallDesk` (channels, dials, hangups, the end of a call),
:class:`~.transfers.TransferDesk` (bridges, hold, transfers), :class:`~.queues.QueueDesk`
(queue callers and agents' offers) and :class:`~.agents.AgentBook` (queue members).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Leg
from callhook.core.tracker.agents import AgentBook
from callhook.core.tracker.machine import (
    Effect,
    LegInput,
    LegState,
    Transition,
    Unexpected,
    VisitInput,
    VisitState,
    step,
)
from callhook.core.tracker.state import Call, Chan, QueueVisit

__all__ = ["UNKNOWN", "IdFactory", "KeyedIds", "Ledger", "num"]

UNKNOWN = ("", "<unknown>", "<Unknown>")
IdFactory = Callable[[datetime], str]
# (time, scope, key, event type, seq) -> id: the deterministic ids of a PBX's events
# (core.events.derived_event_id with the PBX's name; docs/delivery.md)
KeyedIds = Callable[[datetime, str, str, str, int], str]


def _leg_key(call_id: str, leg: Leg | None) -> str:
    """A call event's id key: the Linkedid, and the channel when the event is about one."""
    return f"{call_id}/{leg.leg_id}" if leg is not None and leg.leg_id else call_id


def num(v: str) -> str:
    """A caller ID number, "" for Asterisk's unknown."""
    return "" if v in UNKNOWN else v


class Ledger:
    def __init__(
        self, directory: Directory, new_id: IdFactory, tz: tzinfo = UTC, *, ids: KeyedIds | None = None
    ) -> None:
        self.directory = directory
        self.tenant = directory.tenant
        self.tz = tz
        self.new_id = new_id
        self.ids = ids
        self.calls: dict[str, Call] = {}
        self.chans: dict[str, Chan] = {}
        self.out: list[Event] = []
        self.unexpected: Counter[tuple[str, str, str]] = Counter()
        self.surprises: list[Unexpected] = []  # since the adapter last took them
        self._agent_seq: dict[str, int] = {}
        self.agents = AgentBook(directory, self.emit_agent)
        # what to do with a call whose last channel moved to another call (a pickup's or a
        # spy's own call): the composition root hands in CallDesk.end_call
        self.call_emptied: Callable[[Call, datetime], None] = lambda call, ts: None

    # ------------------------------------------------------------- machines
    def _record(self, found: Transition | Unexpected) -> Effect | None:
        if isinstance(found, Unexpected):
            self.unexpected[found.kind] += 1
            self.surprises.append(found)
            return None
        return found.effect

    def advance(self, ch: Chan, inp: LegInput) -> Effect | None:
        """Step ``ch``'s leg machine: the effect to carry out, None for an unexpected input."""
        found = step(ch.leg, inp, ch.uid)
        effect = self._record(found)
        if isinstance(found, Transition) and isinstance(found.state, LegState):
            ch.leg = found.state
        return effect

    def advance_visit(self, visit: QueueVisit, inp: VisitInput) -> Effect | None:
        found = step(visit.state, inp, visit.member_uid)
        effect = self._record(found)
        if isinstance(found, Transition) and isinstance(found.state, VisitState):
            visit.state = found.state
        return effect

    # ----------------------------------------------------------------- time
    def ts(self, msg: AmiMessage, now: datetime) -> datetime:
        raw = msg.get("Timestamp")
        if raw:
            try:
                return datetime.fromtimestamp(float(raw), self.tz)
            except (ValueError, OverflowError, OSError):
                pass
        return now.astimezone(self.tz)

    # --------------------------------------------------------------- events
    def event_id(self, ts: datetime, scope: str, key: str, etype: EventType, seq: int) -> str:
        """The id of an event: derived from (scope, key, type, seq) when the tracker was
        given ``ids`` (the hub does: the same fact gets the same id in every process),
        else ``new_id`` (replays, tests)."""
        if self.ids is not None:
            return self.ids(ts, scope, key, etype.value, seq)
        return self.new_id(ts)

    def party(self, call: Call, direction: Direction | None = None) -> CallParty:
        return CallParty(
            caller_num=call.caller_num,
            caller_name=call.caller_name,
            called_num=call.called_num,
            direction=direction or call.direction,
            caller_type=call.caller_type,
            record_name=f"{call.start:%Y%m%d-%H%M%S}-{call.caller_num}-{call.called_num}",
        )

    def direction_of(self, call: Call, leg: Leg | None) -> Direction | None:
        """The call's direction, seen from the leg an event is about (docs/dialects.md):
        a supervisor's spy leg is ``barge``; in an internal call, a called extension of
        another tenant than the caller's sees the call coming in: ``incomingLocal``."""
        if leg is None:
            return call.direction
        ch = self.chans.get(leg.leg_id) or call.channels.get(leg.leg_id)
        if ch is not None and ch.spy:
            return Direction.BARGE
        caller_tenant = call.caller_ext.tenant if call.caller_ext is not None else call.tenant
        called = ch is not None and ch.ext is not None and ch.dialed
        if call.direction is Direction.OUTGOING_LOCAL and called and ch is not None and ch.ext is not None:
            return Direction.INCOMING_LOCAL if ch.ext.tenant != caller_tenant else call.direction
        return call.direction

    def emit(self, call: Call, etype: EventType, ts: datetime, **kw: Any) -> None:
        if not call.announced and etype is not EventType.CALL_NEW:
            self.announce(call, ts)
        call.seq += 1
        direction = self.direction_of(call, kw.get("leg"))
        self.out.append(
            Event(
                id=self.event_id(ts, "call", _leg_key(call.id, kw.get("leg")), etype, call.seq),
                type=etype,
                ts=ts,
                tenant=call.tenant or self.tenant,
                call_id=call.id,
                seq=call.seq,
                party=self.party(call, direction),
                **kw,
            )
        )

    def emit_agent(self, etype: EventType, ts: datetime, queue: str, agent: AgentInfo) -> None:
        """An agent event: its sequence is the agent's (the order key of agent events)."""
        key = agent.login or agent.number
        seq = self._agent_seq.get(key, 0) + 1
        self._agent_seq[key] = seq
        ext = self.directory.extension(agent.number)
        tenant = (ext.tenant if ext is not None else "") or self.tenant
        self.out.append(
            Event(
                id=self.event_id(ts, "agent", key, etype, seq),
                type=etype,
                ts=ts,
                tenant=tenant,
                seq=seq,
                queue=queue,
                agent=agent,
            )
        )

    def announce(self, call: Call, ts: datetime) -> None:
        if call.announced:
            return
        call.announced = True
        self.emit(call, EventType.CALL_NEW, ts)

    def leg(self, ch: Chan) -> Leg:
        ext = ch.ext if ch.ext is not None else ch.on_behalf
        if ext is None:
            return Leg(leg_id=ch.uid, channel=ch.name, external=ch.trunk)
        return Leg(
            number=ext.number,
            name=ext.name,
            login=ext.login,
            email=ext.email,
            leg_id=ch.uid,
            channel=ch.name,
            external=ch.ext is None,
        )

    # ------------------------------------------------------------- channels
    def chan(self, msg: AmiMessage, ts: datetime, prefix: str = "") -> Chan | None:
        """The channel an event is about; created (and filed) if we have not seen it."""
        uid = msg.get(prefix + "Uniqueid")
        if not uid:
            return None
        linked = msg.get(prefix + "Linkedid") or uid
        ch = self.chans.get(uid)
        if ch is None:
            ch = self._new_chan(uid, msg.get(prefix + "Channel"), linked, ts, msg, prefix)
        elif linked != ch.linkedid and linked in self.calls:
            self.move(ch, linked)
        return ch

    def _new_chan(self, uid: str, name: str, linked: str, ts: datetime, msg: AmiMessage, prefix: str) -> Chan:
        local = name.lower().startswith("local/")
        ch = Chan(
            uid=uid,
            name=name,
            linkedid=linked,
            created=ts,
            local=local,
            ext=None if local else self.directory.extension_of_channel(name),
            trunk=not local and self.directory.trunk_of_channel(name) is not None,
            state=msg.get(prefix + "ChannelStateDesc"),
            caller_num=num(msg.get(prefix + "CallerIDNum")),
            exten=msg.get(prefix + "Exten"),
        )
        if ch.state == "Up":
            ch.up_at = ts
        self.chans[uid] = ch
        call = self.calls.get(linked)
        if call is None:
            call = self._new_call(ch, msg, prefix, ts)
        call.channels[uid] = ch
        return ch

    def _new_call(self, ch: Chan, msg: AmiMessage, prefix: str, ts: datetime) -> Call:
        call = Call(id=ch.linkedid, start=ts, first_uid=ch.uid)
        self.calls[call.id] = call
        exten = ch.exten if ch.exten not in ("s", "") else ""
        if (ch.trunk or (ch.ext is None and not ch.local)) and ch.state not in ("Down", ""):
            # from a trunk, or from a device the directory does not know (treated as outside)
            call.caller_type, call.direction = "external", Direction.INCOMING
            call.caller_num, call.called_num = ch.caller_num, exten
            call.tenant = self.directory.did_tenants.get(exten, "")
            call.caller_name = num(msg.get(prefix + "CallerIDName"))
            self.announce(call, ts)
        elif ch.ext is not None and ch.state not in ("Down", ""):
            call.caller_type, call.caller_ext = "internal", ch.ext
            call.caller_num, call.caller_name = ch.ext.number, ch.ext.name
            call.tenant = ch.ext.tenant
            call.called_num = self.directory.strip_outbound_prefix(exten)
            call.direction = self.directory.direction(True, self.directory.is_extension_number(call.called_num))
        else:
            # made by the PBX itself (an AMI Originate): known at its first dial
            call.caller_type = "originate"
        return call

    def move(self, ch: Chan, linked: str) -> None:
        old = self.calls.get(ch.linkedid)
        if old is not None:
            old.channels.pop(ch.uid, None)
        ch.linkedid = linked
        self.calls[linked].channels[ch.uid] = ch
        if old is not None and not old.channels:
            self.call_emptied(old, ch.created)

"""The tracker's state and the helpers every handler uses: filing channels under their
call, making events with the call's envelope (id, time, tenant, call key, sequence).

Handlers live in :mod:`.tracker` (channels, dials, hangups, the end of a call),
:mod:`.transfers` (bridges, hold, transfers) and :mod:`.queues` (queue callers and
agents' offers); :class:`TrackerBase` is what they share.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import AgentInfo, CallParty, Direction, Event, EventType, Leg
from callhook.core.tracker.agents import AgentBook
from callhook.core.tracker.state import Call, Chan

__all__ = ["UNKNOWN", "IdFactory", "TrackerBase", "num"]

UNKNOWN = ("", "<unknown>", "<Unknown>")
IdFactory = Callable[[datetime], str]


def num(v: str) -> str:
    """A caller ID number, "" for Asterisk's unknown."""
    return "" if v in UNKNOWN else v


class TrackerBase:
    def __init__(self, directory: Directory, new_id: IdFactory, tz: tzinfo = UTC) -> None:
        self.directory = directory
        self.tenant = directory.tenant
        self.tz = tz
        self._new_id = new_id
        self.calls: dict[str, Call] = {}
        self.chans: dict[str, Chan] = {}
        self._out: list[Event] = []
        self._agent_seq: dict[str, int] = {}
        self.agents = AgentBook(directory, self._emit_agent)

    def _ts(self, msg: AmiMessage, now: datetime) -> datetime:
        raw = msg.get("Timestamp")
        if raw:
            try:
                return datetime.fromtimestamp(float(raw), self.tz)
            except (ValueError, OverflowError, OSError):
                pass
        return now.astimezone(self.tz)

    def _party(self, call: Call) -> CallParty:
        return CallParty(
            caller_num=call.caller_num,
            caller_name=call.caller_name,
            called_num=call.called_num,
            direction=call.direction,
            caller_type=call.caller_type,
            record_name=f"{call.start:%Y%m%d-%H%M%S}-{call.caller_num}-{call.called_num}",
        )

    def _emit(self, call: Call, etype: EventType, ts: datetime, **kw: Any) -> None:
        if not call.announced and etype is not EventType.CALL_NEW:
            self._announce(call, ts)
        call.seq += 1
        self._out.append(
            Event(
                id=self._new_id(ts),
                type=etype,
                ts=ts,
                tenant=call.tenant or self.tenant,
                call_id=call.id,
                seq=call.seq,
                party=self._party(call),
                **kw,
            )
        )

    def _emit_agent(self, etype: EventType, ts: datetime, queue: str, agent: AgentInfo) -> None:
        key = agent.login or agent.number
        seq = self._agent_seq.get(key, 0) + 1
        self._agent_seq[key] = seq
        ext = self.directory.extension(agent.number)
        tenant = (ext.tenant if ext is not None else "") or self.tenant
        self._out.append(
            Event(id=self._new_id(ts), type=etype, ts=ts, tenant=tenant, seq=seq, queue=queue, agent=agent)
        )

    def _announce(self, call: Call, ts: datetime) -> None:
        if call.announced:
            return
        call.announced = True
        self._emit(call, EventType.CALL_NEW, ts)

    def _leg(self, ch: Chan) -> Leg:
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

    def _chan(self, msg: AmiMessage, ts: datetime, prefix: str = "") -> Chan | None:
        """The channel an event is about; created (and filed) if we have not seen it."""
        uid = msg.get(prefix + "Uniqueid")
        if not uid:
            return None
        linked = msg.get(prefix + "Linkedid") or uid
        ch = self.chans.get(uid)
        if ch is None:
            ch = self._new_chan(uid, msg.get(prefix + "Channel"), linked, ts, msg, prefix)
        elif linked != ch.linkedid and linked in self.calls:
            self._move(ch, linked)
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
            self._announce(call, ts)
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

    def _move(self, ch: Chan, linked: str) -> None:
        old = self.calls.get(ch.linkedid)
        if old is not None:
            old.channels.pop(ch.uid, None)
        ch.linkedid = linked
        self.calls[linked].channels[ch.uid] = ch
        if old is not None and not old.channels:
            self._end_call(old, ch.created)

    def _end_call(self, call: Call, ts: datetime) -> None:
        """The whole call ended (its last channel is gone): defined by :class:`Tracker`."""
        raise NotImplementedError

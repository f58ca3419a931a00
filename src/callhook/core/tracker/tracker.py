"""The tracker: AMI messages in, canonical events out. Pure: no I/O, no clock.

Theory of operation
-------------------
A call is Asterisk's Linkedid. Every channel event is filed under the Linkedid it
carries (a channel moved into another call by a pickup or transfer follows it).
For each call the tracker keeps its channels (by Uniqueid) and what they did as
dial destinations, and decides, from the PBX directory, which channels are
extensions' phones, which are trunks and which are Local helpers (never a leg).

    Newchannel (first of a Linkedid)  -> a call; NewCall now for a call from a
                                         trunk, at its first dial otherwise (so
                                         feature codes and pickups make no call)
    DialBegin                         -> a leg (extension, or the outside party
                                         of an outgoing dial); dial groups
    DialState RINGING / Newstate      -> call.ringing, once per leg
    DialEnd ANSWER                    -> call.answered (before the ring-all losers'
                                         hangups, which Asterisk sends right after)
    Pickup                            -> call.pickup
    BlindTransfer / AttendedTransfer  -> call.transfer.*; a transferer that goes
                                         back to its first bridge: .cancelled
    Hangup                            -> call.hangup per extension leg with the
                                         reason (dial status first, cause second);
                                         the last channel gone: the missed-call
                                         hangup, call.ended, then call.record
    Queue*/Agent*                     -> queue.* (Webitel), agent.* (see agents.py)

Messages the tracker does not need cost one dict lookup. Reordering seen between
runs (a Cdr before the last Hangup, repeated DialEnd) is harmless: Cdr events are
not used (callhook builds the record), repeated facts are no-ops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import (
    CallOutcome,
    CallRecord,
    Direction,
    Event,
    EventType,
    Hangup,
)
from callhook.core.tracker import reasons
from callhook.core.tracker.base import IdFactory, num
from callhook.core.tracker.queues import QueueEvents
from callhook.core.tracker.state import Call, Chan
from callhook.core.tracker.transfers import Transfers

__all__ = ["Tracker"]


class Tracker(QueueEvents, Transfers):
    def __init__(self, directory: Directory, new_id: IdFactory, tz: tzinfo = UTC) -> None:
        super().__init__(directory, new_id, tz)
        self._handlers: dict[str, Callable[[AmiMessage, datetime], None]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "NewCallerid": self._on_newcallerid,
            "DialBegin": self._on_dialbegin,
            "DialState": self._on_dialstate,
            "DialEnd": self._on_dialend,
            "Hangup": self._on_hangup,
            "VarSet": self._on_varset,
            "BridgeEnter": self._on_bridgeenter,
            "BridgeLeave": self._on_bridgeleave,
            "Hold": self._on_hold,
            "Unhold": self._on_hold,
            "BlindTransfer": self._on_blindtransfer,
            "AttendedTransfer": self._on_attendedtransfer,
            "Pickup": self._on_pickup,
            "QueueCallerJoin": self._on_queuejoin,
            "QueueCallerAbandon": self._on_queueabandon,
            "QueueCallerLeave": self._on_queueleave,
            "AgentCalled": self._on_agentcalled,
            "AgentRingNoAnswer": self._on_agentringnoanswer,
            "AgentConnect": self._on_agentconnect,
            "QueueMemberAdded": self.agents.on_added,
            "QueueMemberRemoved": self.agents.on_removed,
            "QueueMemberPause": self.agents.on_pause,
            "QueueMemberPaused": self.agents.on_pause,
            "QueueMemberStatus": self.agents.on_status,
            "Rename": self._on_rename,
            "HangupRequest": self._on_hanguprequest,
            "SoftHangupRequest": self._on_hanguprequest,
        }

    # ================================================================ public
    def feed(self, msg: AmiMessage, now: datetime) -> list[Event]:
        """One AMI message -> the events it makes known (often none)."""
        name = msg.event
        if name == "VarSet":  # 40% of a raw stream; needs no time
            self._on_varset(msg, now)
            return []
        handler = self._handlers.get(name)
        if handler is None:
            return []
        handler(msg, self._ts(msg, now))
        out, self._out = self._out, []
        return out

    def feed_many(self, msgs: Iterable[AmiMessage], now: datetime) -> list[Event]:
        out: list[Event] = []
        for m in msgs:
            out.extend(self.feed(m, now))
        return out

    def resync_channels(self, listed: Iterable[AmiMessage], now: datetime) -> list[Event]:
        """After a (re)connect: CoreShowChannel entries. Calls whose channels are gone
        were cut while we were away: they end now, so no ghost call remains."""
        entries = [m for m in listed if m.event == "CoreShowChannel" and m.get("Uniqueid")]
        alive = {m.get("Uniqueid") for m in entries}
        ts = now.astimezone(self.tz)
        for uid in [u for u in self.chans if u not in alive]:
            self._hangup(self.chans[uid], 16, ts, resync=True)
        out, self._out = self._out, []
        # Channels we do not know (callhook started or reconnected mid-call): adopt them,
        # the call's own channel (Uniqueid == Linkedid) first so the call gets its caller.
        entries.sort(key=lambda m: m.get("Uniqueid") != (m.get("Linkedid") or m.get("Uniqueid")))
        for m in entries:
            if m.get("Uniqueid") in self.chans:
                continue
            created = m.get("Linkedid") not in self.calls
            ch = self._chan(m, ts)
            if ch is None:
                continue
            call = self.calls[ch.linkedid]
            # NewCall was sent before (by an earlier run) or the call is too far along
            # for one: what follows (hangups, the end, the record) is still told.
            call.announced = True
            if not created or ch.uid != call.first_uid:
                ch.dialed = ch.rang = True
                if ch.trunk and call.caller_ext is not None:
                    ch.on_behalf = call.caller_ext
            if m.get("ChannelStateDesc") == "Up" and (ch.dialed or not created):
                ch.answered, ch.answered_at = True, ts
                call.answered_by_person = True
                call.first_answer = call.first_answer or ts
                if ch.ext is not None:
                    call.answering_exten = ch.ext.number
        self._out = []  # adopting channels tells nothing new
        return out

    def resync_queues(self, listed: Iterable[AmiMessage], now: datetime) -> list[Event]:
        self.agents.resync(listed, now.astimezone(self.tz))
        out, self._out = self._out, []
        return out

    def expect_agent_change(self, kind: str, queue: str, interface: str, now: datetime) -> None:
        self.agents.expect(kind, queue, interface, now.astimezone(self.tz))

    def live_calls(self) -> list[Call]:
        return [c for c in self.calls.values() if c.announced]

    # ============================================================ channels
    def _on_newchannel(self, msg: AmiMessage, ts: datetime) -> None:
        self._chan(msg, ts)

    def _on_rename(self, msg: AmiMessage, ts: datetime) -> None:
        """A masquerade (call pickup, some transfers) renames channels: the channel a Dial
        is waiting on may now be another extension's phone."""
        ch = self.chans.get(msg.get("Uniqueid"))
        if ch is None:
            return
        ch.name = msg.get("Newname") or ch.name
        if "<ZOMBIE>" in ch.name or ch.local:
            return
        ext = self.directory.extension_of_channel(ch.name)
        if ext is not None and ch.ext is not None and ext.number != ch.ext.number:
            ch.ext, ch.picked = ext, True

    def _on_hanguprequest(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.chans.get(msg.get("Uniqueid"))
        if ch is not None:
            ch.hangup_requested = True

    def _on_newstate(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self._chan(msg, ts)
        if ch is None:
            return
        ch.state = msg.get("ChannelStateDesc")
        if ch.state == "Ringing" and ch.dialed:
            self._ring(ch, ts)

    def _on_newcallerid(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self._chan(msg, ts)
        if ch is not None:
            ch.caller_num = num(msg.get("CallerIDNum")) or ch.caller_num

    def _on_varset(self, msg: AmiMessage, ts: datetime) -> None:
        var = msg.get("Variable")
        if not var.startswith("_") and var != "ipbx_custom_field":
            return
        call = self.calls.get(msg.get("Linkedid"))
        if call is None:
            return
        name = var.lstrip("_")
        if var.startswith("_"):
            call.variables[name] = msg.get("Value")
        if name == "ipbx_custom_field":
            call.custom_field = msg.get("Value")

    # ================================================================ dials
    def _on_dialbegin(self, msg: AmiMessage, ts: datetime) -> None:
        dest = self._chan(msg, ts, "Dest")
        if dest is None:
            return
        src = self._chan(msg, ts) if msg.get("Uniqueid") else None
        call = self.calls[dest.linkedid]
        if call.caller_type == "originate" and not call.announced:
            self._originated(call, dest, msg)
        if not call.announced:
            self._announce(call, ts)
        if dest.dialed:
            return
        dest.dialed = True
        dest.dial_src = src.uid if src else ""
        if dest.trunk:
            src_ext = src.ext if src is not None and src.ext is not None else None
            if src_ext is None and src is not None and src.uid == call.first_uid:
                src_ext = call.caller_ext
            dest.on_behalf = src_ext or call.caller_ext
            if call.called_num == "":
                call.called_num = self.directory.strip_outbound_prefix(msg.get("DestExten"))
        if dest.local:
            return
        pending = [c for c in call.last_group_legs if not c.ended and not c.answered and not c.dial_status]
        if not pending:
            call.dial_group += 1
            call.last_group_legs = []
        dest.dial_group = call.dial_group
        call.last_group_legs.append(dest)
        if dest.state == "Ringing":
            self._ring(dest, ts)

    def _originated(self, call: Call, dest: Chan, msg: AmiMessage) -> None:
        """An Originate rings the extension first; the number to dial shows as its caller ID."""
        ext = dest.ext
        number = num(msg.get("DestCallerIDNum"))
        if ext is not None:
            call.caller_ext = ext
            call.caller_num, call.caller_name = ext.number, ext.name
            call.tenant = ext.tenant
            call.called_num = self.directory.strip_outbound_prefix(number)
        else:
            call.caller_num, call.called_num = number, num(msg.get("DestExten"))
        is_ext = self.directory.is_extension_number(call.called_num)
        call.direction = Direction.OUTGOING_LOCAL if is_ext else Direction.OUTGOING

    def _on_dialstate(self, msg: AmiMessage, ts: datetime) -> None:
        if msg.get("DialStatus") == "RINGING":
            dest = self._chan(msg, ts, "Dest")
            if dest is not None and dest.dialed:
                self._ring(dest, ts)

    def _on_dialend(self, msg: AmiMessage, ts: datetime) -> None:
        dest = self._chan(msg, ts, "Dest")
        if dest is None or dest.dial_status:
            return  # a fact we already hold (Asterisk repeats DialEnd CANCEL)
        status = msg.get("DialStatus")
        if status == "ANSWER":
            call = self.calls[dest.linkedid]
            # a channel the call never dialled, or one renamed into another extension's
            # phone, was brought in by a pickup
            picked = dest.picked or (not dest.dialed and call.pickup_seen)
            self._answer(dest, ts, EventType.CALL_PICKUP if picked else EventType.CALL_ANSWERED)
        elif status:
            dest.dial_status = status
            if status == "BUSY":
                self.calls[dest.linkedid].busy = True

    def _ring(self, ch: Chan, ts: datetime) -> None:
        if ch.rang or not ch.is_leg:
            return
        ch.rang = True
        call = self.calls[ch.linkedid]
        self._emit(
            call,
            EventType.CALL_RINGING,
            ts,
            leg=self._leg(ch),
            custom_field=call.custom_field,
            queue=call.visit.queue if call.visit else "",
            variables=dict(call.variables),
        )

    def _answer(self, ch: Chan, ts: datetime, etype: EventType = EventType.CALL_ANSWERED) -> None:
        ch.dial_status = "ANSWER"
        if ch.answered or ch.local:
            return
        call = self.calls[ch.linkedid]
        if etype is EventType.CALL_ANSWERED:
            self._ring(ch, ts)
        ch.answered, ch.answered_at = True, ts
        call.answered_by_person = True
        call.first_answer = call.first_answer or ts
        if ch.ext is not None:
            call.answering_exten = ch.ext.number
        if ch.is_leg:
            self._emit(call, etype, ts, leg=self._leg(ch), queue=call.visit.queue if call.visit else "")

    def _on_pickup(self, msg: AmiMessage, ts: datetime) -> None:
        target = self._chan(msg, ts, "Target")
        picker = self._chan(msg, ts)
        if target is None or picker is None:
            return
        if picker.linkedid != target.linkedid and target.linkedid in self.calls:
            self._move(picker, target.linkedid)
        call = self.calls.get(target.linkedid)
        if call is not None:
            call.pickup_seen = True
            if any(
                c.answered and c.ext is not None and picker.ext is not None and c.ext.number == picker.ext.number
                for c in call.channels.values()
            ):
                return  # the masquerade's DialEnd ANSWER already told it
        if target is not picker:
            target.dial_status = "PICKUP"
        self._answer(picker, ts, EventType.CALL_PICKUP)

    # =============================================================== hangup
    def _on_hangup(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.chans.get(msg.get("Uniqueid"))
        if ch is None:
            ch = self._chan(msg, ts)
            if ch is None:
                return
        try:
            cause: int | None = int(msg.get("Cause"))
        except ValueError:
            cause = None
        self._hangup(ch, cause, ts)

    def _leg_reason(self, ch: Chan, call: Call, cause: int | None) -> str:
        if ch.answered or (ch.state == "Up" and not ch.dialed):
            return reasons.reason_for_cause(cause)
        if ch.dial_status == "PICKUP" or cause == 26:
            return reasons.ANSWERED_ELSEWHERE
        if ch.dial_status == "NOANSWER":
            return reasons.NO_ANSWER
        if ch.dial_status == "BUSY" or cause == 17:
            return reasons.USER_BUSY
        if ch.dial_status == "CANCEL":
            others = [c for c in call.channels.values() if c is not ch and c.answered and c.is_leg]
            if others or any(c.answered for c in call.last_group_legs if c is not ch):
                return reasons.ANSWERED_ELSEWHERE
            src = self.chans.get(ch.dial_src) or call.channels.get(call.first_uid)
            if src is None or src.hangup_requested or src.ended:
                return reasons.ORIGINATOR_CANCEL
            return reasons.NO_ANSWER  # withdrawn by the PBX (a queue timeout) while the caller waited
        return reasons.reason_for_cause(cause)

    def _hangup(self, ch: Chan, cause: int | None, ts: datetime, resync: bool = False) -> None:
        if ch.ended:
            return
        ch.ended = True
        self.chans.pop(ch.uid, None)
        call = self.calls.get(ch.linkedid)
        if call is None:
            return
        if ch.ext is not None and not ch.local and (call.announced or ch.dialed):
            reason = self._leg_reason(ch, call, cause)
            self._emit(
                call,
                EventType.CALL_HANGUP,
                ts,
                leg=self._leg(ch),
                hangup=Hangup(reason=reason, cause=cause, answered=ch.answered or ch.state == "Up"),
                queue=call.visit.queue if call.visit else "",
            )
        visit = call.visit
        if visit is not None and visit.member_uid == ch.uid and not visit.reported_left:
            self._queue_left(call, visit, ts, cause)
        call.channels.pop(ch.uid, None)
        if not call.channels:
            self._end_call(call, ts)

    def _end_call(self, call: Call, ts: datetime) -> None:
        self.calls.pop(call.id, None)
        if not call.announced:
            return  # never dialled anywhere (a feature code, a pickup's own channel)
        missed = call.direction is Direction.INCOMING and not call.answered_by_person
        if missed:
            self._emit(
                call,
                EventType.CALL_HANGUP,
                ts,
                hangup=Hangup(reason=reasons.NO_USER_RESPONSE, cause=18),
                queue=call.visit.queue if call.visit else "",
            )
        group = call.last_group_legs
        answered_leg = next((c for c in group if c.answered), None)
        last_ext = ""
        if answered_leg is not None and answered_leg.ext is not None:
            last_ext = answered_leg.ext.number
        elif group and group[-1].ext is not None:
            last_ext = group[-1].ext.number
        outcome = CallOutcome(
            answered=call.answered_by_person,
            answering_exten=call.answering_exten,
            last_dial_answered=answered_leg is not None,
            last_dialed_exten=last_ext,
            missed=missed,
        )
        self._emit(call, EventType.CALL_ENDED, ts, outcome=outcome)
        duration = max(0, int((ts - call.start).total_seconds() + 0.5))
        billsec = max(0, int((ts - call.first_answer).total_seconds() + 0.5)) if call.first_answer else 0
        disposition = "ANSWERED" if call.answered_by_person else ("BUSY" if call.busy else "NO ANSWER")
        record = CallRecord(
            start=call.start,
            end=ts,
            answer=call.first_answer,
            duration=duration,
            billsec=billsec,
            disposition=disposition,
            answered_by=call.answering_exten,
            source=call.caller_num,
            destination=call.called_num,
        )
        self._emit(call, EventType.CALL_RECORD, ts, record=record, outcome=outcome)

"""Channels, dials, hangups and the end of a call: the legs' machine driven from AMI.

Each handler turns one AMI message into a :class:`~.machine.LegInput` for the channel
it names and carries out the effect the table gives (see :mod:`.machine`). What the
AMI does not say is inferred here: the reason of a leg's end (dial status first,
hangup cause second), a missed call, the end of the whole call and its record.
"""

from __future__ import annotations

import re
from datetime import datetime

from callhook.core.ami.message import AmiMessage
from callhook.core.events import CallOutcome, CallRecord, Direction, EventType, Hangup
from callhook.core.tracker import reasons
from callhook.core.tracker.ledger import Ledger, num
from callhook.core.tracker.machine import Effect, LegInput, LegState
from callhook.core.tracker.queues import QueueDesk
from callhook.core.tracker.state import Call, Chan

__all__ = ["CallDesk"]

_FAILED = frozenset({"CONGESTION", "CHANUNAVAIL"})
_SIP_CAUSE = re.compile(r"~HASH~SIP_CAUSE~(?P<chan>[^~]+)~")
_SIP_CODE = re.compile(r"SIP (?P<code>[1-6][0-9]{2})\b")
_AMD = frozenset({"HUMAN", "MACHINE"})


class CallDesk:
    def __init__(self, ledger: Ledger, queues: QueueDesk) -> None:
        self.led = ledger
        self.queues = queues
        ledger.call_emptied = self.end_call

    # ============================================================ channels
    def on_newchannel(self, msg: AmiMessage, ts: datetime) -> None:
        self.led.chan(msg, ts)

    def on_rename(self, msg: AmiMessage, ts: datetime) -> None:
        """A masquerade (call pickup, some transfers) renames channels: the channel a Dial
        is waiting on may now be another extension's phone."""
        ch = self.led.chans.get(msg.get("Uniqueid"))
        if ch is None:
            return
        ch.name = msg.get("Newname") or ch.name
        if "<ZOMBIE>" in ch.name or ch.local:
            return
        ext = self.led.directory.extension_of_channel(ch.name)
        if ext is not None and ch.ext is not None and ext.number != ch.ext.number:
            ch.ext, ch.picked = ext, True

    def on_hanguprequest(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chans.get(msg.get("Uniqueid"))
        if ch is not None:
            ch.hangup_requested = True
            cause = _int(msg.get("Cause"))
            if cause is not None:
                ch.hangup_cause = cause

    def on_newstate(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chan(msg, ts)
        if ch is None:
            return
        ch.state = msg.get("ChannelStateDesc")
        if ch.state == "Up" and ch.up_at is None:
            ch.up_at = ts
            call = self.led.calls.get(ch.linkedid)
            if call is not None and ch.uid == call.first_uid:
                call.first_up = ts
        if ch.state == "Ringing" and ch.dialed:
            self._input(ch, LegInput.RING, ts)

    def on_newcallerid(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chan(msg, ts)
        if ch is not None:
            ch.caller_num = num(msg.get("CallerIDNum")) or ch.caller_num

    def on_varset(self, msg: AmiMessage, ts: datetime) -> None:
        var = msg.get("Variable")
        if var.startswith("~HASH~SIP_CAUSE~"):
            self._sip_cause(var, msg.get("Value"))
            return
        if var == "AMDSTATUS":
            call = self.led.calls.get(msg.get("Linkedid"))
            if call is not None:
                value = msg.get("Value").upper()
                call.amd_result = value if value in _AMD else ""
            return
        if not var.startswith("_") and var != "ipbx_custom_field":
            return
        call = self.led.calls.get(msg.get("Linkedid"))
        if call is None:
            return
        name = var.lstrip("_")
        if var.startswith("_"):
            call.variables[name] = msg.get("Value")
        if name == "ipbx_custom_field":
            call.custom_field = msg.get("Value")

    def _sip_cause(self, var: str, value: str) -> None:
        """``HASH(SIP_CAUSE,<channel>)`` = ``SIP 486 Busy Here``: that channel's final SIP response."""
        m, code = _SIP_CAUSE.fullmatch(var), _SIP_CODE.match(value)
        if m is None or code is None:
            return
        name = m.group("chan")
        for ch in self.led.chans.values():
            if ch.name == name:
                ch.sip_code = int(code.group("code"))
                return

    # =============================================================== dials
    def on_dialbegin(self, msg: AmiMessage, ts: datetime) -> None:
        led = self.led
        dest = led.chan(msg, ts, "Dest")
        if dest is None:
            return
        src = led.chan(msg, ts) if msg.get("Uniqueid") else None
        call = led.calls[dest.linkedid]
        if call.caller_type == "originate" and not call.announced:
            self._originated(call, dest, msg)
        if not call.announced:
            led.announce(call, ts)
        if dest.dialed:
            led.advance(dest, LegInput.DIAL)
            return
        led.advance(dest, LegInput.DIAL)
        dest.dialed = True
        dest.dial_src = src.uid if src else ""
        if dest.trunk:
            src_ext = src.ext if src is not None and src.ext is not None else None
            if src_ext is None and src is not None and src.uid == call.first_uid:
                src_ext = call.caller_ext
            dest.on_behalf = src_ext or call.caller_ext
            if call.called_num == "":
                call.called_num = led.directory.strip_outbound_prefix(msg.get("DestExten"))
        if dest.local:
            return
        pending = [c for c in call.last_group_legs if not c.ended and not c.answered and not c.dial_status]
        if not pending:
            call.dial_group += 1
            call.last_group_legs = []
        dest.dial_group = call.dial_group
        call.last_group_legs.append(dest)
        if dest.state == "Ringing":
            self._input(dest, LegInput.RING, ts)

    def _originated(self, call: Call, dest: Chan, msg: AmiMessage) -> None:
        """An Originate rings the extension first; the number to dial shows as its caller ID."""
        ext = dest.ext
        number = num(msg.get("DestCallerIDNum"))
        directory = self.led.directory
        if ext is not None:
            call.caller_ext = ext
            call.caller_num, call.caller_name = ext.number, ext.name
            call.tenant = ext.tenant
            call.called_num = directory.strip_outbound_prefix(number)
        else:
            call.caller_num, call.called_num = number, num(msg.get("DestExten"))
        is_ext = directory.is_extension_number(call.called_num)
        call.direction = Direction.OUTGOING_LOCAL if is_ext else Direction.OUTGOING

    def on_dialstate(self, msg: AmiMessage, ts: datetime) -> None:
        if msg.get("DialStatus") == "RINGING":
            dest = self.led.chan(msg, ts, "Dest")
            if dest is not None and dest.dialed:
                self._input(dest, LegInput.RING, ts)

    def on_dialend(self, msg: AmiMessage, ts: datetime) -> None:
        dest = self.led.chan(msg, ts, "Dest")
        if dest is None:
            return
        status = msg.get("DialStatus")
        if dest.dial_status:
            # a fact we already hold (Asterisk repeats DialEnd CANCEL): a no-op of the table
            # for a leg that answered or failed; a ringing leg a pickup took keeps its PICKUP
            if dest.leg is not LegState.RINGING and status:
                self.led.advance(dest, LegInput.ANSWER if status == "ANSWER" else LegInput.DIAL_FAILED)
            return
        if status == "ANSWER":
            call = self.led.calls[dest.linkedid]
            # a channel the call never dialled, or one renamed into another extension's
            # phone, was brought in by a pickup
            picked = dest.picked or (not dest.dialed and call.pickup_seen)
            self._input(dest, LegInput.PICKUP if picked else LegInput.ANSWER, ts)
        elif status:
            dest.dial_status = status
            call = self.led.calls[dest.linkedid]
            call.busy = call.busy or status == "BUSY"
            call.failed = call.failed or status in _FAILED
            self._input(dest, LegInput.DIAL_FAILED, ts)

    def on_pickup(self, msg: AmiMessage, ts: datetime) -> None:
        led = self.led
        target = led.chan(msg, ts, "Target")
        picker = led.chan(msg, ts)
        if target is None or picker is None:
            return
        if picker.linkedid != target.linkedid and target.linkedid in led.calls:
            led.move(picker, target.linkedid)
        call = led.calls.get(target.linkedid)
        if call is not None:
            call.pickup_seen = True
            if any(
                c.answered and c.ext is not None and picker.ext is not None and c.ext.number == picker.ext.number
                for c in call.channels.values()
            ):
                led.advance(picker, LegInput.PICKUP)  # the masquerade's DialEnd ANSWER already told it
                return
        if target is not picker:
            target.dial_status = "PICKUP"
        self._input(picker, LegInput.PICKUP, ts)

    # ================================================================ spy
    def on_spy_start(self, msg: AmiMessage, ts: datetime) -> None:
        """ChanSpyStart: a supervisor listens to (or barges into) an extension's call. The
        spyer's channel joins the spied call as a ``barge`` leg, answered at once."""
        led = self.led
        spyer, spyee = led.chan(msg, ts, "Spyer"), led.chan(msg, ts, "Spyee")
        if spyer is None or spyee is None or spyer is spyee or spyee.linkedid not in led.calls:
            return
        if spyer.linkedid != spyee.linkedid:
            led.move(spyer, spyee.linkedid)  # its own (feature code) call ends, untold
        spyer.spy = True
        self._input(spyer, LegInput.ANSWER, ts)

    def on_spy_stop(self, msg: AmiMessage, ts: datetime) -> None:
        """ChanSpyStop: the supervisor's leg ends (its Hangup, if any, is then a repeat)."""
        spyer = self.led.chans.get(msg.get("SpyerUniqueid"))
        if spyer is not None and spyer.spy:
            self.hangup(spyer, 16, ts)

    # ======================================================== leg effects
    def _input(self, ch: Chan, inp: LegInput, ts: datetime) -> None:
        """One input to ``ch``'s machine, and the event its transition calls for."""
        effect = self.led.advance(ch, inp)
        if effect is Effect.RING:
            self._emit_ring(ch, ts)
        elif effect is Effect.RING_ANSWER:
            self._emit_ring(ch, ts)
            self._answered(ch, ts, EventType.CALL_ANSWERED)
        elif effect is Effect.ANSWER:
            self._answered(ch, ts, EventType.CALL_ANSWERED)
        elif effect is Effect.PICKUP:
            self._answered(ch, ts, EventType.CALL_PICKUP)

    def _emit_ring(self, ch: Chan, ts: datetime) -> None:
        if not ch.is_leg:
            return
        call = self.led.calls[ch.linkedid]
        self.led.emit(
            call,
            EventType.CALL_RINGING,
            ts,
            leg=self.led.leg(ch),
            custom_field=call.custom_field,
            queue=call.visit.queue if call.visit else "",
            variables=dict(call.variables),
        )

    def _answered(self, ch: Chan, ts: datetime, etype: EventType) -> None:
        ch.dial_status = "ANSWER"
        if ch.local:
            return
        call = self.led.calls[ch.linkedid]
        ch.answered_at = ts
        if ch.spy:  # a supervisor listening in answers nobody's call
            self.led.emit(call, etype, ts, leg=self.led.leg(ch), queue=call.visit.queue if call.visit else "")
            return
        call.answered_by_person = True
        call.first_answer = call.first_answer or ts
        if ch.ext is not None:
            call.answering_exten = ch.ext.number
        if ch.is_leg:
            self.led.emit(call, etype, ts, leg=self.led.leg(ch), queue=call.visit.queue if call.visit else "")

    # ============================================================== hangup
    def on_hangup(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chans.get(msg.get("Uniqueid"))
        if ch is None:
            ch = self.led.chan(msg, ts)
            if ch is None:
                return
        self.hangup(ch, _int(msg.get("Cause")), ts)

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
            src = self.led.chans.get(ch.dial_src) or call.channels.get(call.first_uid)
            if src is None or src.hangup_requested or src.ended:
                return reasons.ORIGINATOR_CANCEL
            return reasons.NO_ANSWER  # withdrawn by the PBX (a queue timeout) while the caller waited
        return reasons.reason_for_cause(cause)

    def hangup(self, ch: Chan, cause: int | None, ts: datetime) -> None:
        if ch.ended:
            self.led.advance(ch, LegInput.HANGUP)  # a repeated Hangup: a no-op in the table
            return
        was_up = ch.answered or ch.state == "Up"
        self.led.advance(ch, LegInput.HANGUP)
        self.led.chans.pop(ch.uid, None)
        call = self.led.calls.get(ch.linkedid)
        if call is None:
            return
        if ch.ext is not None and not ch.local and (call.announced or ch.dialed):
            reason = self._leg_reason(ch, call, cause)
            self.led.emit(
                call,
                EventType.CALL_HANGUP,
                ts,
                leg=self.led.leg(ch),
                hangup=Hangup(reason=reason, cause=cause, answered=was_up),
                queue=call.visit.queue if call.visit else "",
            )
        self.queues.channel_ended(call, ch, cause, ts)
        call.channels.pop(ch.uid, None)
        if not call.channels:
            self.end_call(call, ts)

    def end_call(self, call: Call, ts: datetime) -> None:
        led = self.led
        led.calls.pop(call.id, None)
        if not call.announced:
            return  # never dialled anywhere (a feature code, a pickup's own channel)
        missed = call.direction is Direction.INCOMING and not call.answered_by_person
        if missed:
            led.emit(
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
        led.emit(call, EventType.CALL_ENDED, ts, outcome=outcome)
        # Asterisk's CDR: whole seconds, truncated; billable from the first answer of the
        # call, by a person or by the PBX itself (an IVR, a mailbox), as a carrier bills it
        answers = [t for t in (call.first_answer, call.first_up) if t is not None]
        answer = min(answers) if answers else None
        duration = max(0, int((ts - call.start).total_seconds()))
        billsec = max(0, int((ts - answer).total_seconds())) if answer is not None else 0
        record = CallRecord(
            start=call.start,
            end=ts,
            answer=answer,
            duration=duration,
            billsec=billsec,
            disposition=disposition(call),
            answered_by=call.answering_exten,
            source=call.caller_num,
            destination=call.called_num,
        )
        led.emit(call, EventType.CALL_RECORD, ts, record=record, outcome=outcome)


def disposition(call: Call) -> str:
    """Asterisk's CDR disposition: ANSWERED, BUSY, FAILED (congestion, unavailable), NO ANSWER."""
    if call.answered_by_person:
        return "ANSWERED"
    if call.busy:
        return "BUSY"
    if call.failed:
        return "FAILED"
    return "NO ANSWER"


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None

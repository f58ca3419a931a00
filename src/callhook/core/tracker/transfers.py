"""Bridges, hold and transfers: blind and attended ones Asterisk announces, the cancelled
attended transfer it does not (the transferer, who put the call on hold and left its
bridge for a consultation, comes back to that bridge), and hold / take-back.

Hold is Asterisk's ``Hold`` / ``Unhold`` on the channel of the party that holds (the
``MusicOnHoldStart`` on the held party's channel follows); each is an input of that
leg's machine, so ``call.hold`` / ``call.unhold`` come in pairs and the lone ``Unhold``
Asterisk sends before a blind transfer tells nothing. An attended transfer starts with
the same ``Hold``: the caller *is* held during the consultation, so ``call.hold`` is
told then too, and ``call.unhold`` when the transferer comes back (Asterisk's
``Unhold`` of a cancelled transfer); a transferer whose transfer completes leaves the
call held (its leg ends: ``call.hangup``, no ``call.unhold``).
"""

from __future__ import annotations

from datetime import datetime

from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType, Transfer
from callhook.core.tracker.ledger import Ledger, num
from callhook.core.tracker.machine import Effect, LegInput
from callhook.core.tracker.state import Call, Chan

__all__ = ["TransferDesk"]


class TransferDesk:
    def __init__(self, ledger: Ledger) -> None:
        self.led = ledger

    def on_hold(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chans.get(msg.get("Uniqueid"))
        if ch is None:
            return
        held = msg.event == "Hold"
        effect = self.led.advance(ch, LegInput.HOLD if held else LegInput.UNHOLD)
        call = self.led.calls.get(ch.linkedid)
        if call is None:
            return
        if not held and ch.bridge and call.consult_from.get(ch.uid) == ch.bridge:
            del call.consult_from[ch.uid]
        if effect in (Effect.HOLD, Effect.UNHOLD) and ch.is_leg:
            etype = EventType.CALL_HOLD if effect is Effect.HOLD else EventType.CALL_UNHOLD
            self.led.emit(call, etype, ts, leg=self.led.leg(ch), queue=call.visit.queue if call.visit else "")

    def on_bridgeenter(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chan(msg, ts)
        if ch is None:
            return
        bridge = msg.get("BridgeUniqueid")
        call = self.led.calls[ch.linkedid]
        left = call.consult_from.get(ch.uid)
        if left is not None and bridge == left:
            # the transferer went back to the bridge it left: the consultation was cancelled
            del call.consult_from[ch.uid]
            target = self._consult_target(call, ch)
            self.led.emit(
                call,
                EventType.CALL_TRANSFER_CANCELLED,
                ts,
                leg=self.led.leg(ch),
                transfer=Transfer(transferer=ch.ext.number if ch.ext else "", target=target, kind="attended"),
            )
        ch.bridge = bridge

    def on_bridgeleave(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.led.chans.get(msg.get("Uniqueid"))
        if ch is None:
            return
        call = self.led.calls.get(ch.linkedid)
        if call is not None and ch.ext is not None and ch.on_hold:
            # an extension that put its party on hold leaves their bridge: a consultation starts
            call.consult_from.setdefault(ch.uid, msg.get("BridgeUniqueid"))
        ch.bridge = ""

    @staticmethod
    def _consult_target(call: Call, transferer: Chan) -> str:
        """The extension last dialled in the call other than the transferer: the consultation's target."""
        for c in reversed(call.last_group_legs):
            if c is not transferer and c.ext is not None:
                return c.ext.number
        return ""

    def on_blindtransfer(self, msg: AmiMessage, ts: datetime) -> None:
        transferer = self.led.chans.get(msg.get("TransfererUniqueid"))
        if transferer is None:
            for c in self.led.chans.values():
                if c.name == msg.get("TransfererChannel"):
                    transferer = c
                    break
        if transferer is None or msg.get("Result", "Success") != "Success":
            return
        call = self.led.calls[transferer.linkedid]
        target = msg.get("Extension")
        self.led.emit(
            call,
            EventType.CALL_TRANSFER_BLIND,
            ts,
            leg=self.led.leg(transferer),
            transfer=Transfer(transferer=transferer.ext.number if transferer.ext else "", target=target, kind="blind"),
        )

    def on_attendedtransfer(self, msg: AmiMessage, ts: datetime) -> None:
        if msg.get("Result", "Success") != "Success":
            return
        transferer = self.led.chans.get(msg.get("OrigTransfererUniqueid")) or self.led.chans.get(
            msg.get("SecondTransfererUniqueid")
        )
        if transferer is None:
            return
        call = self.led.calls[transferer.linkedid]
        call.consult_from.pop(transferer.uid, None)
        target = self._consult_target(call, transferer)
        second = self.led.chans.get(msg.get("SecondTransfererUniqueid"))
        if not target:
            target = num(msg.get("SecondTransfererConnectedLineNum")) or (second.exten if second is not None else "")
        self.led.emit(
            call,
            EventType.CALL_TRANSFER_ATTENDED,
            ts,
            leg=self.led.leg(transferer),
            transfer=Transfer(
                transferer=transferer.ext.number if transferer.ext else "", target=target, kind="attended"
            ),
        )

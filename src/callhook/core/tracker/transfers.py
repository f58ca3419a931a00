"""Bridges, hold and transfers: blind and attended ones Asterisk announces, and the
cancelled attended transfer it does not (the transferer, who put the call on hold and
left its bridge for a consultation, comes back to that bridge)."""

from __future__ import annotations

from datetime import datetime

from callhook.core.ami.message import AmiMessage
from callhook.core.events import EventType, Transfer
from callhook.core.tracker.base import TrackerBase, num
from callhook.core.tracker.state import Call, Chan

__all__ = ["Transfers"]


class Transfers(TrackerBase):
    def _on_hold(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.chans.get(msg.get("Uniqueid"))
        if ch is not None:
            ch.on_hold = msg.event == "Hold"
            call = self.calls.get(ch.linkedid)
            if call is not None and not ch.on_hold and ch.bridge and call.consult_from.get(ch.uid) == ch.bridge:
                del call.consult_from[ch.uid]

    def _on_bridgeenter(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self._chan(msg, ts)
        if ch is None:
            return
        bridge = msg.get("BridgeUniqueid")
        call = self.calls[ch.linkedid]
        left = call.consult_from.get(ch.uid)
        if left is not None and bridge == left:
            # the transferer went back to the bridge it left: the consultation was cancelled
            del call.consult_from[ch.uid]
            target = self._consult_target(call, ch)
            self._emit(
                call,
                EventType.CALL_TRANSFER_CANCELLED,
                ts,
                leg=self._leg(ch),
                transfer=Transfer(transferer=ch.ext.number if ch.ext else "", target=target, kind="attended"),
            )
        ch.bridge = bridge

    def _on_bridgeleave(self, msg: AmiMessage, ts: datetime) -> None:
        ch = self.chans.get(msg.get("Uniqueid"))
        if ch is None:
            return
        call = self.calls.get(ch.linkedid)
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

    def _on_blindtransfer(self, msg: AmiMessage, ts: datetime) -> None:
        transferer = self.chans.get(msg.get("TransfererUniqueid"))
        if transferer is None:
            for c in self.chans.values():
                if c.name == msg.get("TransfererChannel"):
                    transferer = c
                    break
        if transferer is None or msg.get("Result", "Success") != "Success":
            return
        call = self.calls[transferer.linkedid]
        target = msg.get("Extension")
        self._emit(
            call,
            EventType.CALL_TRANSFER_BLIND,
            ts,
            leg=self._leg(transferer),
            transfer=Transfer(transferer=transferer.ext.number if transferer.ext else "", target=target, kind="blind"),
        )

    def _on_attendedtransfer(self, msg: AmiMessage, ts: datetime) -> None:
        if msg.get("Result", "Success") != "Success":
            return
        transferer = self.chans.get(msg.get("OrigTransfererUniqueid")) or self.chans.get(
            msg.get("SecondTransfererUniqueid")
        )
        if transferer is None:
            return
        call = self.calls[transferer.linkedid]
        call.consult_from.pop(transferer.uid, None)
        target = self._consult_target(call, transferer)
        second = self.chans.get(msg.get("SecondTransfererUniqueid"))
        if not target:
            target = num(msg.get("SecondTransfererConnectedLineNum")) or (second.exten if second is not None else "")
        self._emit(
            call,
            EventType.CALL_TRANSFER_ATTENDED,
            ts,
            leg=self._leg(transferer),
            transfer=Transfer(
                transferer=transferer.ext.number if transferer.ext else "", target=target, kind="attended"
            ),
        )

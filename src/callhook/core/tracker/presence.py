"""Extension presence: Asterisk's hint state (``ExtensionStatus``) as ``extension.presence``.

An extension's hint combines its devices' states (a phone registered on two devices
is "in use" while either talks), so ``ExtensionStatus`` is read, not the per-device
``DeviceStateChange`` (which also reports queues, trunks and pause devices and would
repeat each change per device). Only extensions of the directory are told (a hint
of a parking lot or a queue is not an extension), and only on a change: Asterisk
repeats a state when another device of the hint changes.

    Status  0 idle · 1 in use · 2 busy · 4 unavailable · 8 ringing · 9 in use and
            ringing (ringing: a second call rings) · 16 on hold · 17 in use and on
            hold (on hold) · -1 / -2 the hint was removed / deactivated (unavailable)

Hold shows here only when the channel driver reports it to the device state (the lab's
IAX2 phones do not: their ``Hold`` stays ``InUse``); ``call.hold`` tells it per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType

from callhook.core.ami.message import AmiMessage
from callhook.core.events import Event, EventType, Presence, PresenceState
from callhook.core.tracker.ledger import Ledger

__all__ = ["PRESENCE", "PresenceDesk"]

P = PresenceState
PRESENCE: Mapping[int, PresenceState] = MappingProxyType(
    {
        0: P.IDLE,
        1: P.IN_USE,
        2: P.BUSY,
        4: P.UNAVAILABLE,
        8: P.RINGING,
        9: P.RINGING,
        16: P.ON_HOLD,
        17: P.ON_HOLD,
        -1: P.UNAVAILABLE,
        -2: P.UNAVAILABLE,
    }
)


class PresenceDesk:
    def __init__(self, ledger: Ledger) -> None:
        self.led = ledger
        self.states: dict[str, PresenceState] = {}  # extension number -> its last state
        self._seq: dict[str, int] = {}

    def on_extension_status(self, msg: AmiMessage, ts: datetime) -> None:
        directory = self.led.directory
        ext = directory.extension(msg.get("Exten"))
        hint = msg.get("Hint")
        if ext is None and hint:
            ext = directory.extension_of_channel(hint.split("&", 1)[0] + "-0")
        try:
            status = int(msg.get("Status"))
        except ValueError:
            return
        state = PRESENCE.get(status)
        if ext is None or state is None:
            return
        previous = self.states.get(ext.number)
        if previous is state:
            return
        self.states[ext.number] = state
        seq = self._seq.get(ext.number, 0) + 1
        self._seq[ext.number] = seq
        self.led.out.append(
            Event(
                id=self.led.event_id(ts, "presence", ext.number, EventType.EXTENSION_PRESENCE, seq),
                type=EventType.EXTENSION_PRESENCE,
                ts=ts,
                tenant=ext.tenant or self.led.tenant,
                seq=seq,
                presence=Presence(
                    number=ext.number,
                    state=state.value,
                    previous=previous.value if previous is not None else "",
                    status=status,
                    name=ext.name,
                    login=ext.login,
                    hint=hint,
                ),
            )
        )

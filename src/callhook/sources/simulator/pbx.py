"""The simulated PBX: its live channels, bridges and queue members, and the AMI
events each primitive change makes (in Asterisk 23's order and shapes).

Theory of operation
-------------------
Scripts (see :mod:`.calls`, :mod:`.queues`) drive a :class:`Pbx` through small
primitives: create a channel, change its state, dial, hang up, bridge. Each
primitive updates the live model and appends the events a real Asterisk sends for
it to :attr:`Pbx.out` as ``(time, AmiMessage)``. Time is :attr:`Pbx.now`, set by
the scheduler (:mod:`.engine`); events of one instant get timestamps a few
microseconds apart, so ``Timestamp`` never goes backwards. Side effects a real PBX
adds on its own (device state, hint and queue member status changes) are added
here, so scripts only say what the call does.

Ids: a Uniqueid is ``<epoch of creation>.<counter>``, the counter counting every
channel since the PBX started; the Linkedid is the first channel's Uniqueid.
Channel names are ``<device>-<n>`` with a random IAX2 call number.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.sources.simulator.shapes import (
    CAUSE_TEXT,
    UNKNOWN,
    Bridge,
    Channel,
    Member,
    bridge_block,
    cdr_time,
    channel_block,
    event,
    member_block,
)

__all__ = ["Pbx"]

_TICK = 0.00002
# device state -> (DeviceStateChange State, ExtensionStatus code and text, QueueMemberStatus Status)
_DEVICE = {
    "idle": ("UNKNOWN", 0, "Idle", 0),
    "ringing": ("RINGING", 8, "Ringing", 6),
    "inuse": ("INUSE", 1, "InUse", 2),
}


class Pbx:
    def __init__(
        self, directory: Directory, start: float, rng: random.Random, *, first_counter: int = 0, noise: bool = True
    ) -> None:
        self.directory = directory
        self.now = start
        self.rng = rng
        self.noise = noise
        self.out: list[tuple[float, AmiMessage]] = []
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.members: dict[tuple[str, str], Member] = {}
        self.calls: dict[str, set[str]] = {}  # scripted call key -> live channel uids
        self.cancelled: set[str] = set()  # calls ended from outside (AMI Hangup)
        self._devices: dict[str, str] = {}
        self._counter = first_counter
        self._first_counter = first_counter
        self._locals = 0
        self._keys = 0
        self.waiting: dict[str, list[str]] = {}  # queue -> caller channel uids, in order
        self.rr_last: dict[str, str] = {}  # rrmemory queue -> interface last tried
        self._last = 0.0
        # a queue's offer: Asterisk reports the member's new device state after AgentCalled
        self.defer_status = False
        self._deferred: list[str] = []
        for q in directory.queues:
            for number in q.members:
                ext = directory.extension(number)
                if ext is not None and ext.channel:
                    self.members[(q.name, ext.channel.lower())] = Member(
                        q.name, ext.channel, ext.login or ext.number, login_time=int(start), status=0
                    )

    # ---------------------------------------------------------------- output
    def tick(self) -> float:
        t = max(self.now, self._last + _TICK)
        self._last = t
        return t

    def emit(self, name: str, *blocks: list[tuple[str, str]]) -> AmiMessage:
        t = self.tick()
        msg = event(name, t, *blocks)
        self.out.append((t, msg))
        return msg

    @property
    def channels_created(self) -> int:
        """Channels made since start (Asterisk's processed calls, ``CoreProcessedCalls``)."""
        return self._counter - self._first_counter

    def take(self) -> list[tuple[float, AmiMessage]]:
        out, self.out = self.out, []
        return out

    # -------------------------------------------------------------- channels
    def new_channel(
        self,
        device: str,
        call: str,
        *,
        state: str = "Down",
        cid: tuple[str, str] = (UNKNOWN, UNKNOWN),
        context: str = "default",
        exten: str = "s",
        linkedid: str = "",
        name: str = "",
    ) -> Channel:
        t = self.tick()
        uid = f"{int(t)}.{self._counter}"
        self._counter += 1
        ch = Channel(
            name=name or f"{device}-{self.rng.randint(1, 16383)}",
            uid=uid,
            linkedid=linkedid or uid,
            device=device,
            created=t,
            state=state,
            cid_num=cid[0],
            cid_name=cid[1],
            context=context,
            exten=exten,
            call=call,
        )
        self.channels[uid] = ch
        self.calls.setdefault(call, set()).add(uid)
        self.emit("Newchannel", channel_block(ch))
        self._device_changed(ch.device)
        return ch

    def local_pair(self, exten: str, context: str, call: str, linkedid: str) -> tuple[Channel, Channel]:
        self._locals += 1
        base = f"Local/{exten}@{context}-{self._locals:08x}"
        one = self.new_channel(
            f"Local/{exten}@{context}", call, context=context, exten=exten, linkedid=linkedid, name=base + ";1"
        )
        two = self.new_channel(
            f"Local/{exten}@{context}",
            call,
            state="Ring",
            context=context,
            exten=exten,
            linkedid=linkedid,
            name=base + ";2",
        )
        return one, two

    def local_bridge(self, one: Channel, two: Channel) -> None:
        self.emit(
            "LocalBridge",
            channel_block(one, "LocalOne"),
            channel_block(two, "LocalTwo"),
            [("Context", one.context), ("Exten", one.exten), ("LocalOptimization", "Yes")],
        )

    def set_state(self, ch: Channel, state: str) -> None:
        ch.state = state
        if state == "Up" and ch.answered_at is None:
            ch.answered_at = self.now
        self.emit("Newstate", channel_block(ch))
        self._device_changed(ch.device)

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.cid_num, ch.cid_name = num, name
        self.emit("NewCallerid", channel_block(ch), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])

    def set_connected(self, ch: Channel, num: str, name: str) -> None:
        ch.cl_num, ch.cl_name = num, name
        if self.noise:
            self.emit("NewConnectedLine", channel_block(ch))

    def app(self, ch: Channel, context: str, exten: str, priority: int, application: str, data: str) -> None:
        """The channel runs a dialplan step (Newexten)."""
        ch.context, ch.exten, ch.priority, ch.application, ch.app_data = context, exten, priority, application, data
        if self.noise:
            self.emit(
                "Newexten", channel_block(ch), [("Extension", exten), ("Application", application), ("AppData", data)]
            )

    def varset(self, ch: Channel, variable: str, value: str, *, always: bool = False) -> None:
        ch.values[variable.lstrip("_")] = value
        if variable.startswith("__"):
            ch.variables[variable] = value
        if always or self.noise or variable.startswith("_"):
            self.emit("VarSet", channel_block(ch), [("Variable", variable), ("Value", value)])

    def inherit(self, src: Channel, dst: Channel) -> None:
        for var, value in src.variables.items():
            self.varset(dst, var, value)

    def hangup(self, ch: Channel, cause: int, *, request: bool = True) -> None:
        if ch.uid not in self.channels:
            return
        if request:  # not noise: the tracker reads who asked to hang up
            self.emit("HangupRequest", channel_block(ch), [("Cause", str(cause))])
        self.emit("Hangup", channel_block(ch), [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))])
        del self.channels[ch.uid]
        self.calls.get(ch.call, set()).discard(ch.uid)
        if not self.calls.get(ch.call):
            self.calls.pop(ch.call, None)
        self._device_changed(ch.device)

    def dtmf(self, ch: Channel, digit: str, *, begin: bool, duration_ms: int = 0) -> None:
        if begin:
            self.emit("DTMFBegin", channel_block(ch), [("Digit", digit), ("Direction", "Received")])
        else:
            self.emit(
                "DTMFEnd",
                channel_block(ch),
                [("Digit", digit), ("DurationMs", str(duration_ms)), ("Direction", "Received")],
            )

    def hold(self, ch: Channel, on: bool, music_class: str = "") -> None:
        extra = [[("MusicClass", music_class)]] if on and music_class else []
        self.emit("Hold" if on else "Unhold", channel_block(ch), *extra)

    def music_on_hold(self, ch: Channel, on: bool, music_class: str = "default") -> None:
        if on:
            self.emit("MusicOnHoldStart", channel_block(ch), [("Class", music_class)])
        else:
            self.emit("MusicOnHoldStop", channel_block(ch))

    # ----------------------------------------------------------------- dials
    def dial(self, kind: str, src: Channel | None, dst: Channel, extra: tuple[str, str]) -> None:
        """DialBegin (extra = DialString), DialState/DialEnd (extra = DialStatus)."""
        blocks = [channel_block(src)] if src is not None else []
        self.emit(kind, *blocks, channel_block(dst, "Dest"), [extra])

    # --------------------------------------------------------------- bridges
    def bridge_create(self) -> Bridge:
        b = Bridge(str(uuid.UUID(int=self.rng.getrandbits(128), version=4)))
        self.bridges[b.uid] = b
        self.emit("BridgeCreate", bridge_block(b))
        return b

    def bridge_enter(self, b: Bridge, ch: Channel) -> None:
        b.members.append(ch.uid)
        ch.bridge = b.uid
        self.emit("BridgeEnter", bridge_block(b), channel_block(ch))
        if len(b.members) == 2 and self.noise:
            one, two = (self.channels[u] for u in b.members)
            self.varset(one, "BRIDGEPEER", two.name)
            self.varset(two, "BRIDGEPEER", one.name)

    def bridge_leave(self, b: Bridge, ch: Channel) -> None:
        if ch.uid in b.members:
            b.members.remove(ch.uid)
        ch.bridge = ""
        self.emit("BridgeLeave", bridge_block(b), channel_block(ch))

    def bridge_destroy(self, b: Bridge) -> None:
        self.bridges.pop(b.uid, None)
        self.emit("BridgeDestroy", bridge_block(b))

    def unbridge(self, b: Bridge, order: Iterable[Channel]) -> None:
        """Every channel leaves, then the bridge goes."""
        for ch in order:
            self.bridge_leave(b, ch)
        self.bridge_destroy(b)

    # ---------------------------------------------------------------- queues
    def member(self, queue: str, interface: str) -> Member | None:
        return self.members.get((queue, interface.lower()))

    def queue_join(self, ch: Channel, queue: str) -> int:
        waiting = self.waiting.setdefault(queue, [])
        waiting.append(ch.uid)
        self.emit(
            "QueueCallerJoin",
            channel_block(ch),
            [("Queue", queue), ("Position", str(len(waiting))), ("Count", str(len(waiting)))],
        )
        return len(waiting)

    def queue_leave(self, ch: Channel, queue: str) -> None:
        waiting = self.waiting.get(queue, [])
        pos = waiting.index(ch.uid) + 1 if ch.uid in waiting else 1
        if ch.uid in waiting:
            waiting.remove(ch.uid)
        self.emit(
            "QueueCallerLeave",
            channel_block(ch),
            [("Queue", queue), ("Position", str(pos)), ("Count", str(len(waiting)))],
        )

    def queue_abandon(self, ch: Channel, queue: str, original: int, held: float) -> None:
        waiting = self.waiting.get(queue, [])
        pos = waiting.index(ch.uid) + 1 if ch.uid in waiting else 1
        self.emit(
            "QueueCallerAbandon",
            channel_block(ch),
            [
                ("Queue", queue),
                ("Position", str(pos)),
                ("OriginalPosition", str(original)),
                ("HoldTime", str(int(held))),
            ],
        )

    def agent_event(self, kind: str, caller: Channel, agent: Channel, m: Member, *extra: tuple[str, str]) -> None:
        self.emit(
            kind,
            channel_block(caller),
            channel_block(agent, "Dest"),
            [("Queue", m.queue), ("Interface", m.interface), ("MemberName", m.name), *extra],
        )

    def member_event(self, kind: str, m: Member) -> None:
        self.emit(kind, member_block(m))

    def available(self, m: Member) -> bool:
        idle = self._devices.get(m.interface.lower(), "idle") == "idle"
        return not m.paused and idle and self.now >= m.wrapup_until

    def _device_changed(self, device: str) -> None:
        """Recompute a phone's state from its channels; announce a change as Asterisk does."""
        if device.startswith("Local/") or self.directory.trunk_of_channel(device + "-0") is not None:
            return
        states = [c.state for c in self.channels.values() if c.device == device]
        new = "inuse" if "Up" in states else ("ringing" if states else "idle")
        key = device.lower()
        if self._devices.get(key, "idle") == new:
            return
        self._devices[key] = new
        dsc, code, text, status = _DEVICE[new]
        for m in self.members.values():
            if m.interface.lower() == key:
                m.status, m.in_call = status, new == "inuse"
        if not self.noise:
            return
        if self.defer_status:
            self._deferred.append(device)
            return
        self._announce_device(device, key, dsc, code, text)

    def flush_status(self) -> None:
        """Announce the device changes held back while :attr:`defer_status` was set."""
        self.defer_status = False
        pending, self._deferred = self._deferred, []
        for device in pending:
            dsc, code, text, _ = _DEVICE[self._devices.get(device.lower(), "idle")]
            self._announce_device(device, device.lower(), dsc, code, text)

    def _announce_device(self, device: str, key: str, dsc: str, code: int, text: str) -> None:
        self.emit("DeviceStateChange", [("Device", device), ("State", dsc)])
        ext = self.directory.extension_of_channel(device + "-0")
        if ext is not None:
            self.emit(
                "ExtensionStatus",
                [
                    ("Exten", ext.number),
                    ("Context", "ext-local"),
                    ("Hint", device),
                    ("Status", str(code)),
                    ("StatusText", text),
                ],
            )
        for m in self.members.values():
            if m.interface.lower() == key:
                self.member_event("QueueMemberStatus", m)

    def device_state(self, device: str) -> str:
        return self._devices.get(device.lower(), "idle")

    def extension_device(self, number: str) -> str:
        ext = self.directory.extension(number)
        if ext is None or not ext.channel:
            raise KeyError(f"extension {number!r} has no channel in the directory")
        return ext.channel

    def trunk(self) -> tuple[str, str, str]:
        """The first trunk: (device, IAX2 peer name for dial strings, outbound prefix)."""
        if not self.directory.trunks:
            raise KeyError("the directory has no trunk")
        t = self.directory.trunks[0]
        return t.channel, t.channel.split("/", 1)[-1], t.outbound_prefix

    def call_key(self) -> str:
        self._keys += 1
        return f"call-{self._keys}"

    def request_hangup(self, ch: Channel, cause: int) -> None:
        if True:  # not noise: a caller's hang-up request tells an abandon from a PBX timeout
            self.emit("HangupRequest", channel_block(ch), [("Cause", str(cause))])

    def cdr(
        self,
        src: Channel,
        dst: Channel | None,
        *,
        destination: str,
        dest_context: str,
        app: str,
        data: str,
        start: float,
        answer: float | None,
        end: float,
        disposition: str,
    ) -> None:
        """One CDR record (``cdr_manager``, with ``linkedid`` mapped to ``LinkedID``)."""
        name = "" if src.cid_name == UNKNOWN else src.cid_name
        self.emit(
            "Cdr",
            [
                ("AccountCode", ""),
                ("Source", src.cid_num),
                ("Destination", destination),
                ("DestinationContext", dest_context),
                ("CallerID", f'"{name}" <{src.cid_num}>'),
                ("Channel", src.name),
                ("DestinationChannel", dst.name if dst is not None else ""),
                ("LastApplication", app),
                ("LastData", data),
                ("StartTime", cdr_time(start)),
                ("AnswerTime", cdr_time(answer)),
                ("EndTime", cdr_time(end)),
                ("Duration", str(int(end - start))),
                ("BillableSeconds", str(int(end - answer)) if answer is not None else "0"),
                ("Disposition", disposition),
                ("AMAFlags", "DOCUMENTATION"),
                ("UniqueID", src.uid),
                ("UserField", ""),
                ("LinkedID", src.linkedid),
            ],
        )

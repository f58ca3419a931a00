"""The tracker: AMI messages in, canonical events out. Pure: no I/O, no clock.

Theory of operation
-------------------
A call is Asterisk's Linkedid. Every channel event is filed under the Linkedid it
carries (a channel moved into another call by a pickup, a transfer or a spy follows
it). For each call the tracker keeps its channels (by Uniqueid), each with a leg
state machine, and its queue visit, with a visit machine; both machines are tables
in :mod:`.machine`, and a handler's only way to change a state is to give the table
an input. The PBX directory says which channels are extensions' phones, which are
trunks and which are Local helpers (never a leg).

    Newchannel (first of a Linkedid)  -> a call; NewCall now for a call from a
                                         trunk, at its first dial otherwise (so
                                         feature codes and pickups make no call)
    DialBegin                         -> leg DIAL; dial groups
    DialState RINGING / Newstate      -> leg RING: call.ringing, once per leg
    DialEnd ANSWER / other            -> leg ANSWER: call.answered / DIAL_FAILED
    Pickup                            -> leg PICKUP: call.pickup
    Hold / Unhold                     -> leg HOLD / UNHOLD: call.hold / call.unhold
    ChanSpyStart / Stop               -> a barge leg answered / ended
    BlindTransfer / AttendedTransfer  -> call.transfer.*; a transferer that goes
                                         back to its first bridge: .cancelled
    Hangup                            -> leg HANGUP: call.hangup per extension leg
                                         with the reason (dial status first, cause
                                         second); the last channel gone: the
                                         missed-call hangup, call.ended, call.record
    QueueCaller* / Agent*             -> visit inputs: queue.* and agent.wrapup
    QueueMember*                      -> agent.* (see agents.py)
    ExtensionStatus                   -> extension.presence (see presence.py)

An input the tables do not expect leaves the state as it is and is counted in
:attr:`Tracker.unexpected`; :meth:`Tracker.take_unexpected` hands the new ones to the
adapter (which logs them; the core does not). Messages the tracker does not need
cost one dict lookup. Reordering seen between runs (a Cdr before the last Hangup,
repeated DialEnd) is harmless: Cdr events are not used (callhook builds the record),
repeated facts are no-ops of the tables. Readers outside the core take a
:meth:`Tracker.snapshot` (frozen views), never the working state.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, tzinfo

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import Event
from callhook.core.tracker.agents import AgentBook
from callhook.core.tracker.calls import CallDesk
from callhook.core.tracker.ledger import IdFactory, KeyedIds, Ledger
from callhook.core.tracker.machine import LegState, Unexpected
from callhook.core.tracker.presence import PresenceDesk
from callhook.core.tracker.queues import QueueDesk
from callhook.core.tracker.snapshot import TrackerSnapshot, take_snapshot
from callhook.core.tracker.state import Call, Chan
from callhook.core.tracker.transfers import TransferDesk

__all__ = ["Tracker"]


class Tracker:
    def __init__(
        self,
        directory: Directory,
        new_id: IdFactory,
        tz: tzinfo = UTC,
        *,
        presence: bool = False,
        ids: KeyedIds | None = None,
    ) -> None:
        """``presence``: also tell extension presence (``extension.presence``); the hub
        turns it on, replays of one call (tests, ``callhook simulate``) leave it off.
        ``ids``: derive each event's id from what it is (the hub passes the PBX's
        :func:`~callhook.core.events.derived_event_id`); without it ``new_id`` is used."""
        self._args = (directory, new_id, tz, presence, ids)
        self._led = led = Ledger(directory, new_id, tz, ids=ids)
        self.queue_desk = QueueDesk(led)
        self.call_desk = CallDesk(led, self.queue_desk)
        self.transfer_desk = TransferDesk(led)
        self.presence_desk = PresenceDesk(led)
        c, q, t, a = self.call_desk, self.queue_desk, self.transfer_desk, led.agents
        self._handlers: dict[str, Callable[[AmiMessage, datetime], None]] = {
            "Newchannel": c.on_newchannel,
            "Newstate": c.on_newstate,
            "NewCallerid": c.on_newcallerid,
            "DialBegin": c.on_dialbegin,
            "DialState": c.on_dialstate,
            "DialEnd": c.on_dialend,
            "Hangup": c.on_hangup,
            "VarSet": c.on_varset,
            "Pickup": c.on_pickup,
            "Rename": c.on_rename,
            "HangupRequest": c.on_hanguprequest,
            "SoftHangupRequest": c.on_hanguprequest,
            "ChanSpyStart": c.on_spy_start,
            "ChanSpyStop": c.on_spy_stop,
            "BridgeEnter": t.on_bridgeenter,
            "BridgeLeave": t.on_bridgeleave,
            "Hold": t.on_hold,
            "Unhold": t.on_hold,
            "BlindTransfer": t.on_blindtransfer,
            "AttendedTransfer": t.on_attendedtransfer,
            "QueueCallerJoin": q.on_join,
            "QueueCallerAbandon": q.on_abandon,
            "QueueCallerLeave": q.on_leave,
            "AgentCalled": q.on_agent_called,
            "AgentRingNoAnswer": q.on_ring_no_answer,
            "AgentConnect": q.on_connect,
            "AgentComplete": q.on_complete,
            "QueueMemberAdded": a.on_added,
            "QueueMemberRemoved": a.on_removed,
            "QueueMemberPause": a.on_pause,
            "QueueMemberPaused": a.on_pause,
            "QueueMemberStatus": a.on_status,
        }
        if presence:
            self._handlers["ExtensionStatus"] = self.presence_desk.on_extension_status

    # ============================================================ the state
    @property
    def directory(self) -> Directory:
        return self._led.directory

    @directory.setter
    def directory(self, new: Directory) -> None:
        self._led.directory = new
        self._led.tenant = new.tenant

    @property
    def tenant(self) -> str:
        return self._led.tenant

    @property
    def calls(self) -> dict[str, Call]:
        """The working state (tests and the AMI adapter's hangup-by-extension); readers use snapshot()."""
        return self._led.calls

    @property
    def chans(self) -> dict[str, Chan]:
        return self._led.chans

    @property
    def agents(self) -> AgentBook:
        return self._led.agents

    @property
    def unexpected(self) -> Counter[tuple[str, str, str]]:
        """(machine, state, input) -> how many times the tables did not expect it."""
        return self._led.unexpected

    @property
    def surprised(self) -> bool:
        """True when unexpected inputs wait to be taken (:meth:`take_unexpected`)."""
        return bool(self._led.surprises)

    def take_unexpected(self) -> list[Unexpected]:
        """The unexpected inputs since the last call (for the adapter to log)."""
        out, self._led.surprises = self._led.surprises, []
        return out

    def snapshot(self) -> TrackerSnapshot:
        """Frozen views of the live calls, queue visits, queue members and extensions' presence."""
        presence = tuple(sorted((number, state.value) for number, state in self.presence_desk.states.items()))
        return dataclasses.replace(take_snapshot(self._led), presence=presence)

    # ================================================================ public
    def feed(self, msg: AmiMessage, now: datetime) -> list[Event]:
        """One AMI message -> the events it makes known (often none)."""
        name = msg.event
        if name == "VarSet":  # 40% of a raw stream; needs no time
            self.call_desk.on_varset(msg, now)
            return []
        handler = self._handlers.get(name)
        if handler is None:
            return []
        handler(msg, self._led.ts(msg, now))
        out, self._led.out = self._led.out, []
        return out

    def feed_many(self, msgs: Iterable[AmiMessage], now: datetime) -> list[Event]:
        out: list[Event] = []
        for m in msgs:
            out.extend(self.feed(m, now))
        return out

    def forget(self) -> None:
        """Drop everything learnt (calls, channels, agents, presence): a new elected AMI
        term starts from what the PBX reports, not from what this process saw in an
        earlier term (another process may have told the calls' ends since)."""
        _, new_id, tz, presence, ids = self._args
        directory, unexpected = self.directory, self._led.unexpected  # the current directory; counts go on
        self.__init__(directory, new_id, tz, presence=presence, ids=ids)  # type: ignore[misc]
        self._led.unexpected = unexpected

    def resync_channels(self, listed: Iterable[AmiMessage], now: datetime) -> list[Event]:
        """After a (re)connect: CoreShowChannel entries. Calls whose channels are gone
        were cut while we were away: they end now, so no ghost call remains."""
        led = self._led
        entries = [m for m in listed if m.event == "CoreShowChannel" and m.get("Uniqueid")]
        alive = {m.get("Uniqueid") for m in entries}
        ts = now.astimezone(led.tz)
        for uid in [u for u in led.chans if u not in alive]:
            self.call_desk.hangup(led.chans[uid], 16, ts)
        out, led.out = led.out, []
        # Channels we do not know (callhook started or reconnected mid-call): adopt them,
        # the call's own channel (Uniqueid == Linkedid) first so the call gets its caller.
        entries.sort(key=lambda m: m.get("Uniqueid") != (m.get("Linkedid") or m.get("Uniqueid")))
        for m in entries:
            if m.get("Uniqueid") in led.chans:
                continue
            created = m.get("Linkedid") not in led.calls
            ch = led.chan(m, ts)
            if ch is None:
                continue
            call = led.calls[ch.linkedid]
            # NewCall was sent before (by an earlier run) or the call is too far along
            # for one: what follows (hangups, the end, the record) is still told.
            call.announced = True
            # Adoption sets the state the PBX reports (outside the tables: nothing happened
            # that we saw, so there is no input to give them).
            if not created or ch.uid != call.first_uid:
                ch.dialed, ch.leg = True, LegState.RINGING
                if ch.trunk and call.caller_ext is not None:
                    ch.on_behalf = call.caller_ext
            if m.get("ChannelStateDesc") == "Up" and (ch.dialed or not created):
                ch.leg, ch.answered_at = LegState.ANSWERED, ts
                call.answered_by_person = True
                call.first_answer = call.first_answer or ts
                if ch.ext is not None:
                    call.answering_exten = ch.ext.number
        led.out = []  # adopting channels tells nothing new
        return out

    def resync_queues(self, listed: Iterable[AmiMessage], now: datetime) -> list[Event]:
        self._led.agents.resync(listed, now.astimezone(self._led.tz))
        out, self._led.out = self._led.out, []
        return out

    def expect_agent_change(self, kind: str, queue: str, interface: str, now: datetime) -> None:
        self._led.agents.expect(kind, queue, interface, now.astimezone(self._led.tz))

    def live_calls(self) -> list[Call]:
        """The working state of the announced calls (kept for the AMI adapter); use snapshot()."""
        return [c for c in self._led.calls.values() if c.announced]

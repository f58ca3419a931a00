"""Queue members (agents): who is logged in to which queue, paused or not.

Events are produced only on a real change of status: a repeated login sends
nothing (Telphin's rule), a static member listed by QueueStatus is known from the
start and never "logs in". A change requested through callhook's own API is
announced beforehand with :meth:`AgentBook.expect` and then carries
``event_source = "api"``; every other change is ``"phone"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory, device_of
from callhook.core.events import AgentInfo, EventType

__all__ = ["AgentBook", "Member"]

API_WINDOW = timedelta(seconds=15)

Emit = Callable[[EventType, datetime, str, AgentInfo], None]


@dataclass(slots=True)
class Member:
    queue: str
    interface: str
    name: str
    paused: bool = False
    reason: str = ""
    since: datetime | None = None
    static: bool = False
    in_call: bool = False
    wrapup: int = 0  # seconds of post-processing after each call (Asterisk's Wrapuptime)
    wrapup_until: datetime | None = None  # in wrap-up until then (the end is not an AMI event)


def _wrapup(msg: AmiMessage) -> int:
    try:
        return max(0, int(msg.get("Wrapuptime") or 0))
    except ValueError:
        return 0


class AgentBook:
    def __init__(self, directory: Directory, emit: Emit) -> None:
        self.directory = directory
        self._emit = emit
        self.members: dict[tuple[str, str], Member] = {}
        self._expected: list[tuple[str, str, str, datetime]] = []  # (kind, queue, interface, at)
        self.synced = False

    # ---------------------------------------------------------------- wrap-up
    def member(self, queue: str, interface: str) -> Member | None:
        return self.members.get((queue, interface.lower()))

    def wrapup_of(self, queue: str, interface: str) -> int:
        m = self.member(queue, interface)
        return m.wrapup if m is not None else 0

    def queue_wrapup(self, queue: str) -> int:
        """The queue's post-processing time as its members report it (0: none)."""
        return max((m.wrapup for m in self.members.values() if m.queue == queue), default=0)

    def start_wrapup(self, queue: str, interface: str, ts: datetime, seconds: int) -> None:
        m = self.member(queue, interface)
        if m is not None:
            m.wrapup_until = ts + timedelta(seconds=seconds)

    # --------------------------------------------------------------- identity
    def agent_info(self, m: Member, source: str) -> AgentInfo:
        ext = self.directory.extension_of_channel(m.interface) or self.directory.extension_by_login(m.name)
        tenant = (ext.tenant if ext else "") or self.directory.tenant
        number = ext.number if ext else device_of(m.interface).split("/", 1)[-1]
        return AgentInfo(
            login=ext.login if ext and ext.login else m.name,
            number=number,
            name=ext.name if ext else m.name,
            email=ext.email if ext else "",
            interface=m.interface,
            agent_type="local",
            extension_name=f"{number}@{tenant}" if tenant else number,
            agent_id=number,
            pause_reason=m.reason if m.paused else "",
            event_source=source,
        )

    def expect(self, kind: str, queue: str, interface: str, now: datetime) -> None:
        """An API call is about to change this member: its event is ``api``-sourced."""
        self._expected = [e for e in self._expected if now - e[3] < API_WINDOW]
        self._expected.append((kind, queue, interface.lower(), now))

    def _source(self, kind: str, queue: str, interface: str, ts: datetime) -> str:
        iface = interface.lower()
        for i, (k, q, itf, at) in enumerate(self._expected):
            if k == kind and itf == iface and (not q or q == queue) and abs(ts - at) < API_WINDOW:
                del self._expected[i]
                return "api"
        return "phone"

    # ------------------------------------------------------------------ events
    def on_added(self, msg: AmiMessage, ts: datetime) -> None:
        queue, iface = msg.get("Queue"), msg.get("Interface") or msg.get("Location")
        if not queue or not iface:
            return
        key = (queue, iface.lower())
        if key in self.members:
            return
        m = Member(
            queue,
            iface,
            msg.get("MemberName") or iface,
            paused=msg.get("Paused") == "1",
            reason=msg.get("PausedReason"),
            since=ts,
            static=msg.get("Membership") == "static",
            wrapup=_wrapup(msg),
        )
        self.members[key] = m
        self._emit(EventType.AGENT_LOGIN, ts, queue, self.agent_info(m, self._source("login", queue, iface, ts)))

    def on_removed(self, msg: AmiMessage, ts: datetime) -> None:
        queue, iface = msg.get("Queue"), msg.get("Interface") or msg.get("Location")
        m = self.members.pop((queue, iface.lower()), None)
        if m is None:
            return
        info = self.agent_info(m, self._source("logout", queue, iface, ts))
        self._emit(EventType.AGENT_LOGOUT, ts, queue, replace(info, pause_reason=""))

    def on_pause(self, msg: AmiMessage, ts: datetime) -> None:
        queue, iface = msg.get("Queue"), msg.get("Interface") or msg.get("Location")
        m = self.members.get((queue, iface.lower()))
        paused = msg.get("Paused") == "1"
        if m is None:
            # a member we did not know (no QueueStatus yet): learn it silently
            self.members[(queue, iface.lower())] = Member(
                queue, iface, msg.get("MemberName") or iface, paused=paused, reason=msg.get("PausedReason"), since=ts
            )
            return
        if m.paused == paused:
            return
        m.paused, m.reason, m.since = paused, (msg.get("PausedReason") if paused else ""), ts
        kind = "pause" if paused else "unpause"
        etype = EventType.AGENT_PAUSED if paused else EventType.AGENT_UNPAUSED
        self._emit(etype, ts, queue, self.agent_info(m, self._source(kind, queue, iface, ts)))

    def on_status(self, msg: AmiMessage, ts: datetime) -> None:
        """QueueMemberStatus: keeps the live view; never an event (not a change of login)."""
        queue, iface = msg.get("Queue"), msg.get("Interface") or msg.get("Location")
        if not queue or not iface:
            return
        m = self.members.get((queue, iface.lower()))
        if m is None:
            self.members[(queue, iface.lower())] = Member(
                queue,
                iface,
                msg.get("MemberName") or iface,
                paused=msg.get("Paused") == "1",
                reason=msg.get("PausedReason"),
                since=ts,
                static=msg.get("Membership") == "static",
                wrapup=_wrapup(msg),
            )
            return
        m.in_call = msg.get("InCall") == "1"
        if msg.get("Wrapuptime"):
            m.wrapup = _wrapup(msg)

    def resync(self, listed: Iterable[AmiMessage], ts: datetime) -> None:
        """QueueStatus answer (QueueMember entries). First time: learn silently.
        After a reconnect: what changed while we were away is announced."""
        seen: dict[tuple[str, str], AmiMessage] = {}
        for msg in listed:
            if msg.event != "QueueMember":
                continue
            iface = msg.get("Location") or msg.get("Interface")
            if msg.get("Queue") and iface:
                seen[(msg.get("Queue"), iface.lower())] = msg
        if not self.synced:
            for key, msg in seen.items():
                if key not in self.members:
                    self.members[key] = Member(
                        key[0],
                        msg.get("Location") or msg.get("Interface"),
                        msg.get("Name") or msg.get("MemberName"),
                        paused=msg.get("Paused") == "1",
                        reason=msg.get("PausedReason"),
                        since=ts,
                        static=msg.get("Membership") == "static",
                        wrapup=_wrapup(msg),
                    )
            self.synced = True
            return
        for key in list(self.members):
            if key not in seen:
                m = self.members.pop(key)
                self._emit(EventType.AGENT_LOGOUT, ts, m.queue, self.agent_info(m, "phone"))
        for key, msg in seen.items():
            if key not in self.members:
                self.on_added(
                    AmiMessage.of(
                        ("Queue", key[0]),
                        ("Interface", msg.get("Location")),
                        ("MemberName", msg.get("Name")),
                        ("Paused", "0"),
                        ("Membership", msg.get("Membership")),
                    ),
                    ts,
                )
            paused = msg.get("Paused")
            self.on_pause(
                AmiMessage.of(
                    ("Queue", key[0]),
                    ("Interface", self.members[key].interface),
                    ("Paused", paused),
                    ("PausedReason", msg.get("PausedReason")),
                ),
                ts,
            )

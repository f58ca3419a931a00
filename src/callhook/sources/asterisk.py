"""The Asterisk source: AMI messages -> bounds -> tracker -> the accepter's commit queue,
and the PBX actions.

A thin shell around the pure tracker. The AMI client awaits :meth:`AsteriskSource.on_message`
for every message in order; it bounds the message's values (:mod:`callhook.core.bounds`),
feeds the tracker and hands the events to the accepter's queue without waiting for
the disk (:meth:`Accepter.enqueue`): the commit loop writes them in order, in batches,
retrying while the store fails. Only when too many events are unwritten does
``on_message`` wait (:meth:`Accepter.room`), so the reader stops reading and the kernel
and Asterisk buffer. Waiting for each commit would buy no durability: Asterisk neither
waits for us nor resends, so what sits in the socket buffer is lost on a crash exactly
like what sits in an unwritten batch. The window is in docs/delivery.md.

After every (re)connect :meth:`on_connect` resyncs: channels that vanished while we
were away end their calls (no ghost calls), queue members are learned or diffed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from callhook.core.ami.message import AmiMessage
from callhook.core.bounds import Issue, bound_event, bound_message, needs_bounds
from callhook.core.directory import Directory, Extension
from callhook.core.events import Event
from callhook.core.tracker.tracker import Tracker

__all__ = ["ActionError", "AmiLike", "AsteriskSource", "EventSink", "NotConnected", "PbxActions", "UnknownExtension"]

log = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where the source puts its events: :class:`callhook.delivery.accept.Accepter`."""

    def enqueue(self, events: Sequence[Event]) -> None: ...

    async def room(self) -> None: ...


class AmiLike(Protocol):
    @property
    def connected(self) -> bool: ...

    async def send_action(
        self,
        name: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 10.0,  # noqa: ASYNC109 -- the AmiLike protocol
    ) -> AmiMessage: ...

    async def collect(
        self,
        name: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 10.0,  # noqa: ASYNC109 -- the AmiLike protocol
    ) -> list[AmiMessage]: ...


class NotConnected(RuntimeError):
    """The PBX is not connected (the API answers 503)."""


class UnknownExtension(LookupError):
    """No such extension, or no call on it (the API answers 404)."""


class ActionError(RuntimeError):
    """The PBX refused the action; the message is Asterisk's."""


class AsteriskSource:
    def __init__(self, tracker: Tracker, sink: EventSink, now: Callable[[], datetime]) -> None:
        self.tracker = tracker
        self._sink = sink
        self._now = now
        self.messages = 0
        self.events = 0
        self.bounded: dict[str, int] = {}  # values bounded at the edge, by kind
        self._told: set[tuple[str, str, str]] = set()  # unexpected (machine, state, input) already logged

    async def on_message(self, msg: AmiMessage) -> None:
        self.messages += 1
        events = self.tracker.feed(self._bounded(msg), self._now())
        if self.tracker.surprised:
            self._tell_unexpected(msg)
        if events:
            self._put(events)
            await self._sink.room()

    def _tell_unexpected(self, msg: AmiMessage) -> None:
        """Log each kind of input the tracker's tables did not expect once (all are counted
        in ``tracker.unexpected`` and exported as ``callhook_tracker_unexpected_total``)."""
        for u in self.tracker.take_unexpected():
            if u.kind not in self._told:
                self._told.add(u.kind)
                log.warning(
                    "AMI %s: the %s machine did not expect %s in state %s (channel %s); state kept, "
                    "further ones of this kind are only counted",
                    msg.event or "message",
                    u.machine,
                    u.input,
                    u.state,
                    u.subject or "-",
                )

    def _bounded(self, msg: AmiMessage) -> AmiMessage:
        msg, issues = bound_message(msg)
        if issues:
            self._note(issues, msg.event or msg.response or "message")
        return msg

    def _put(self, events: Sequence[Event]) -> None:
        out: list[Event] | None = None
        for i, ev in enumerate(events):
            if needs_bounds(ev):
                bounded, issues = bound_event(ev, strict=False)
                self._note(issues, f"{ev.type.value} {ev.id}")
                out = out if out is not None else list(events)
                out[i] = bounded
        self.events += len(events)
        self._sink.enqueue(events if out is None else out)

    def _note(self, issues: Sequence[Issue], what: str) -> None:
        for i in issues:
            self.bounded[i.kind] = self.bounded.get(i.kind, 0) + 1
        log.warning(
            "AMI %s: %d value(s) bounded: %s",
            what,
            len(issues),
            "; ".join(f"{i.field}: {i.detail}" for i in issues[:5]),
        )

    async def on_connect(self, client: AmiLike) -> None:
        """Resync after every (re)connect: CoreShowChannels, then QueueStatus."""
        channels = [self._bounded(m) for m in await client.collect("CoreShowChannels", timeout=15.0)]
        events = self.tracker.resync_channels(channels, self._now())
        members = [self._bounded(m) for m in await client.collect("QueueStatus", timeout=15.0)]
        events += self.tracker.resync_queues(members, self._now())
        log.info(
            "AMI resync: %d channels alive, %d queue members, %d events",
            sum(m.event == "CoreShowChannel" for m in channels),
            sum(m.event == "QueueMember" for m in members),
            len(events),
        )
        if events:
            self._put(events)


class PbxActions:
    """What the actions API asks of the PBX (IS2PBX): dial, hang up, agent login/pause."""

    def __init__(
        self,
        client: AmiLike | None,
        tracker: Tracker,
        directory: Directory,
        now: Callable[[], datetime],
        *,
        context: str = "click2dial",
        variable: str = "C2D_EXTEN",
        timeout_ms: int = 30000,
    ) -> None:
        self.client = client
        self.tracker = tracker
        self.directory = directory
        self._now = now
        self.context = context
        self.variable = variable
        self.timeout_ms = timeout_ms

    def _client(self) -> AmiLike:
        if self.client is None or not self.client.connected:
            raise NotConnected("the PBX (AMI) is not connected")
        return self.client

    def extension(self, number: str) -> Extension:
        ext = self.directory.extension(number)
        if ext is None:
            raise UnknownExtension(f"unknown extension {number!r}")
        if not ext.channel:
            raise UnknownExtension(f"extension {number!r} has no channel in the directory")
        return ext

    async def _do(self, name: str, headers: Sequence[tuple[str, str]]) -> AmiMessage:
        from callhook.sources.ami_client import AmiActionError, AmiNotConnected, AmiTimeout

        client = self._client()
        try:
            resp = await client.send_action(name, headers, timeout=10.0)
        except AmiActionError as exc:
            raise ActionError(exc.message or str(exc)) from exc
        except (AmiNotConnected, AmiTimeout, ConnectionError) as exc:
            raise NotConnected(str(exc)) from exc
        if resp.response.lower() not in ("success", "goodbye"):
            raise ActionError(resp.get("Message") or f"{name} failed")
        return resp

    async def click_to_dial(self, exten: str, number: str) -> AmiMessage:
        """Ring the extension; once it answers, the dial plan dials the number."""
        ext = self.extension(exten)
        if not number or any(c in number for c in "\r\n"):
            raise ValueError("number: must be a non-empty phone number")
        return await self._do(
            "Originate",
            [
                ("Channel", ext.channel),
                ("Context", self.context),
                ("Exten", number),
                ("Priority", "1"),
                ("CallerID", f'"Click2Dial" <{number}>'),
                ("Timeout", str(self.timeout_ms)),
                ("Async", "true"),
                ("Variable", f"{self.variable}={ext.number}"),
            ],
        )

    async def hangup(self, exten: str) -> list[str]:
        """Hang up every live channel of the extension; 404 when it has none."""
        ext = self.extension(exten)
        self._client()
        names = [c.name for c in self.tracker.chans.values() if c.ext is not None and c.ext.number == ext.number]
        if not names:
            raise UnknownExtension(f"extension {exten!r} has no call")
        for name in names:
            await self._do("Hangup", [("Channel", name)])
        return names

    async def agent_login(self, queue: str, exten: str) -> None:
        ext = self.extension(exten)
        self.tracker.expect_agent_change("login", queue, ext.channel, self._now())
        await self._do(
            "QueueAdd",
            [
                ("Queue", queue),
                ("Interface", ext.channel),
                ("MemberName", ext.login or ext.number),
                ("StateInterface", ext.channel),
                ("Penalty", "0"),
                ("Paused", "false"),
            ],
        )

    async def agent_logout(self, queue: str, exten: str) -> None:
        ext = self.extension(exten)
        self.tracker.expect_agent_change("logout", queue, ext.channel, self._now())
        await self._do("QueueRemove", [("Queue", queue), ("Interface", ext.channel)])

    async def agent_pause(self, exten: str, paused: bool, reason: str = "", queue: str = "") -> None:
        ext = self.extension(exten)
        self.tracker.expect_agent_change("pause" if paused else "unpause", queue, ext.channel, self._now())
        headers = [("Interface", ext.channel), ("Paused", "true" if paused else "false")]
        if queue:
            headers.append(("Queue", queue))
        if paused and reason:
            headers.append(("Reason", reason))
        await self._do("QueuePause", headers)

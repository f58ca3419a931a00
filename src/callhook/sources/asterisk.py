"""The Asterisk source: AMI messages -> tracker -> durable events, and the PBX actions.

A thin shell around the pure tracker. The AMI client awaits :meth:`AsteriskSource.on_message`
for every message in order, and that returns only once the message's events are durable
(the accept callable commits them), so a crash never loses an event the PBX already sent
past us. After every (re)connect :meth:`on_connect` resyncs: channels that vanished while
we were away end their calls (no ghost calls), queue members are learned or diffed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory, Extension
from callhook.core.events import Event
from callhook.core.tracker.tracker import Tracker

__all__ = ["ActionError", "AmiLike", "AsteriskSource", "NotConnected", "PbxActions", "UnknownExtension"]

log = logging.getLogger(__name__)

Accept = Callable[[Sequence[Event]], Awaitable[None]]


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
    def __init__(self, tracker: Tracker, accept: Accept, now: Callable[[], datetime]) -> None:
        self.tracker = tracker
        self._accept = accept
        self._now = now
        self.messages = 0
        self.events = 0
        self.accept_failures = 0

    async def on_message(self, msg: AmiMessage) -> None:
        self.messages += 1
        events = self.tracker.feed(msg, self._now())
        if events:
            self.events += len(events)
            await self._durable(events)

    async def _durable(self, events: Sequence[Event]) -> None:
        """Accept, retrying while the store fails: the AMI reader waits (Asterisk buffers)
        rather than dropping events the tracker already made."""
        delay = 0.1
        while True:
            try:
                await self._accept(events)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.accept_failures += 1
                log.error(
                    "could not store %d event(s), retrying in %.1f s: %s",
                    len(events),
                    delay,
                    exc,
                    extra={"call_id": events[0].call_id},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def on_connect(self, client: AmiLike) -> None:
        """Resync after every (re)connect: CoreShowChannels, then QueueStatus."""
        channels = await client.collect("CoreShowChannels", timeout=15.0)
        events = self.tracker.resync_channels(channels, self._now())
        members = await client.collect("QueueStatus", timeout=15.0)
        events += self.tracker.resync_queues(members, self._now())
        log.info(
            "AMI resync: %d channels alive, %d queue members, %d events",
            sum(m.event == "CoreShowChannel" for m in channels),
            sum(m.event == "QueueMember" for m in members),
            len(events),
        )
        if events:
            await self._durable(events)


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

"""The AMI client: a thin asyncio shell around the sans-IO codec (:mod:`callhook.core.ami`).

One connection at a time::

    connect (connect_timeout) -> banner -> [Challenge] Login (Events: on) -> Filter x n
    -> on_connect(client)  # the resync hook: CoreShowChannels, QueueStatus ... via this client
    -> stream: every message in arrival order, on_message awaited for each one
    -> lost (EOF, reset, no Pong) -> backoff with full jitter -> connect again

Responses and events that carry the ActionID of a pending :meth:`AmiClient.send_action`
or :meth:`AmiClient.collect` go to that waiter; all other messages go to ``on_message``,
one at a time and in order (never a task per message). Messages that arrive while
``on_connect`` runs are held and delivered after it returns, so the caller sees its
snapshot first and the live stream after it. ``on_message`` must not await an action on
this client (its answer could not be read until ``on_message`` returns); start a task
for that. It should return at once (the Asterisk source only queues the events for the
accepter's commit loop) and wait only for back-pressure: while it waits, nothing is read.

Exceptions (one tree; OSError and asyncio.TimeoutError never leave this module)::

    AmiError
     +-- AmiAuthError       Login refused: run() raises it at once, no retry
     +-- AmiNotConnected    no logged-in connection now, or it was lost during the wait
     +-- AmiTimeout         no complete answer within the timeout
     +-- AmiActionError     Asterisk answered "Response: Error" (.message, .response)

The secret is never logged; ``repr`` leaves it out.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from callhook.core.ami import actions
from callhook.core.ami.actions import Action, EventFilter
from callhook.core.ami.codec import DEFAULT_MAX_BUFFER, AmiFrameTooLarge, AmiParser
from callhook.core.ami.message import AmiMessage

__all__ = [
    "DEFAULT_FILTERS",
    "DEFAULT_PORT",
    "AmiActionError",
    "AmiAuthError",
    "AmiClient",
    "AmiError",
    "AmiNotConnected",
    "AmiTimeout",
    "Backoff",
    "parse_ami_url",
]

_log = logging.getLogger(__name__)

DEFAULT_PORT = 5038
Headers = Sequence[tuple[str, str]] | Mapping[str, str]
OnMessage = Callable[[AmiMessage], Awaitable[None]]
OnConnect = Callable[["AmiClient"], Awaitable[None]]
DEFAULT_FILTERS = actions.noise_filters()


class AmiError(Exception):
    """Base of every error this module raises."""


class AmiAuthError(AmiError):
    """The PBX refused the login (bad user name or secret)."""


class AmiNotConnected(AmiError):
    """There is no logged-in AMI connection, or it was lost while waiting."""


class AmiTimeout(AmiError):
    """No complete answer within the timeout."""


class AmiActionError(AmiError):
    """Asterisk answered an action with ``Response: Error``."""

    def __init__(self, action: str, response: AmiMessage) -> None:
        self.action = action
        self.response = response
        self.message = response.get("Message")
        super().__init__(f"AMI {action} failed: {self.message or 'Response: Error'}")


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter: ``rand() * min(cap, initial * factor**attempt)``."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    rand: Callable[[], float] = random.random  # injectable for tests

    def delay(self, attempt: int) -> float:
        return self.rand() * min(self.cap, self.initial * self.factor ** min(attempt, 64))


class _Waiter:
    """Collects the answer to one ActionID; ``collect`` waits for ``EventList: Complete``."""

    __slots__ = ("collect", "future", "messages")

    def __init__(self, future: asyncio.Future[list[AmiMessage]], collect: bool) -> None:
        self.future = future
        self.collect = collect
        self.messages: list[AmiMessage] = []

    def wants(self, msg: AmiMessage) -> bool:
        return self.collect or msg.has("Response")

    def add(self, msg: AmiMessage) -> None:
        self.messages.append(msg)
        if len(self.messages) == 1 and msg.has("Response"):
            done = not self.collect or msg.response.lower() == "error" or msg.get("EventList").lower() != "start"
        else:
            done = msg.get("EventList").lower() == "complete"
        if done and not self.future.done():
            self.future.set_result(self.messages)


class AmiClient:
    """A self-healing AMI connection. ``await run()`` until ``stop()``; see the module docstring."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_message: OnMessage,
        on_connect: OnConnect | None = None,
        events_filter: Sequence[EventFilter] = DEFAULT_FILTERS,
        events_mask: str = "on",
        auth: Literal["plain", "md5"] = "plain",
        ping_interval: float = 20.0,
        ping_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        action_timeout: float = 10.0,
        on_connect_timeout: float = 120.0,
        backoff: Backoff | None = None,
        max_frame: int = DEFAULT_MAX_BUFFER,
    ) -> None:
        self.host, self.port, self.username = host, port, username
        self._secret = secret
        self.on_message, self.on_connect = on_message, on_connect
        self.events_filter = tuple(events_filter)
        self.events_mask, self.auth = events_mask, auth
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.connect_timeout, self.action_timeout = connect_timeout, action_timeout
        self.on_connect_timeout = on_connect_timeout
        self.backoff = backoff or Backoff()
        self.max_frame = max_frame
        self.banner = ""
        # counters for metrics
        self.reconnects = 0
        self.messages = 0
        self.protocol_issues = 0
        self.frames_too_large = 0
        self.handler_errors = 0
        self._writer: asyncio.StreamWriter | None = None
        self._logged_in = False
        self._logged_in_once = False  # during the current connection: resets the backoff
        self._stopping = False
        self._stop_event = asyncio.Event()
        self._ids = itertools.count(1)
        self._id_prefix = "callhook-" + secrets.token_hex(3)
        self._waiters: dict[str, _Waiter] = {}
        self._anonymous: _Waiter | None = None  # Login: also accept a Response without ActionID
        self._banner: asyncio.Future[str] | None = None
        self._holding = True
        self._held: deque[AmiMessage] = deque()
        self._delivering = False

    def __repr__(self) -> str:
        return f"AmiClient({self.host}:{self.port}, user={self.username!r}, connected={self.connected})"

    @property
    def connected(self) -> bool:
        return self._logged_in and self._writer is not None and not self._writer.is_closing()

    # -- public API
    # The timeouts are parameters on purpose (ASYNC109): every wait has its own bound, 503 not hang.
    async def send_action(
        self,
        name: Action | str,
        headers: Headers = (),
        timeout: float | None = None,  # noqa: ASYNC109
        *,
        check: bool = True,
    ) -> AmiMessage:
        """Send one action and return its Response; AmiActionError on ``Response: Error`` if ``check``."""
        act = _as_action(name, headers)
        if not self.connected:
            raise AmiNotConnected(f"AMI {act.name}: not connected to {self.host}:{self.port}")
        response = (await self._request(act, timeout, collect=False))[0]
        if check and response.response.lower() == "error":
            raise AmiActionError(act.name, response)
        return response

    async def collect(
        self,
        name: Action | str,
        headers: Headers = (),
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> list[AmiMessage]:
        """Run an EventList action: its Response, every event of the list, and the Complete event."""
        act = _as_action(name, headers)
        if not self.connected:
            raise AmiNotConnected(f"AMI {act.name}: not connected to {self.host}:{self.port}")
        messages = await self._request(act, timeout, collect=True)
        if messages[0].response.lower() == "error":
            raise AmiActionError(act.name, messages[0])
        return messages

    async def stop(self, grace: float = 2.0) -> None:
        """Log off and close; ``run()`` then returns."""
        self._stopping = True
        self._stop_event.set()
        if self.connected:
            with contextlib.suppress(AmiError):
                await self.send_action(actions.logoff(), timeout=grace, check=False)
        if self._writer is not None:
            self._writer.close()

    async def run(self) -> None:
        """Connect and stay connected until :meth:`stop`; raises AmiAuthError on a refused login.
        May be called again after it returned (a new elected term, docs/deployment.md)."""
        self._stopping = False
        self._stop_event.clear()
        attempt = 0
        while not self._stopping:
            try:
                await self._session()
            except AmiAuthError:
                raise
            except AmiError as exc:
                _log.warning("AMI %s:%d: %s", self.host, self.port, exc)
            if self._stopping:
                break
            if self._logged_in_once:
                attempt = 0
            delay = self.backoff.delay(attempt)
            attempt += 1
            self.reconnects += 1
            _log.info("AMI %s:%d: reconnecting in %.2f s", self.host, self.port, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), delay)

    # -- one connection
    async def _session(self) -> None:
        self._logged_in_once = False
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except TimeoutError as exc:
            raise AmiTimeout(f"connecting timed out after {self.connect_timeout:g} s") from exc
        except OSError as exc:
            raise AmiNotConnected(f"cannot connect: {exc}") from exc
        self._writer = writer
        self._holding, self._held = True, deque()
        self._banner = asyncio.get_running_loop().create_future()
        read_task = asyncio.create_task(self._read_loop(reader, AmiParser(self.max_frame)))
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    self.banner = await self._banner
            except TimeoutError:
                raise AmiTimeout(f"no banner within {self.connect_timeout:g} s") from None
            if not self.banner.startswith("Asterisk Call Manager/"):
                _log.warning("AMI %s:%d: unexpected banner %r", self.host, self.port, self.banner[:80])
            if self._stopping:
                return
            await self._login()
            await self._install_filters()
            await self._resync()
            while self._held:  # deliver what came during on_connect; the reader holds new ones meanwhile
                await self._deliver(self._held.popleft())
            self._holding = False
            await self._keepalive(read_task)
        finally:
            self._logged_in = False
            if not self._banner.done():
                self._banner.cancel()
            if self._held:
                _log.warning("AMI %s:%d: %d messages lost with the connection", self.host, self.port, len(self._held))
            writer.close()
            read_task.cancel()
            await asyncio.gather(read_task, return_exceptions=True)
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._writer = None

    async def _login(self) -> None:
        if self.auth == "md5":
            answer = (await self._request(actions.challenge(), None, collect=False, anonymous=True))[0]
            if answer.response.lower() != "success":
                raise AmiAuthError(f"AMI MD5 challenge refused by {self.host}:{self.port}: {answer.get('Message')}")
            login = actions.login_md5(self.username, answer.get("Challenge"), self._secret, self.events_mask)
        else:
            login = actions.login(self.username, self._secret, self.events_mask)
        answer = (await self._request(login, None, collect=False, anonymous=True))[0]
        if answer.response.lower() != "success":
            reason = answer.get("Message") or answer.response or "no reason given"
            raise AmiAuthError(f"AMI login to {self.host}:{self.port} as {self.username!r} refused: {reason}")
        self._logged_in = self._logged_in_once = True
        _log.info("AMI %s:%d: logged in as %s (%s)", self.host, self.port, self.username, self.banner)

    async def _resync(self) -> None:
        if self.on_connect is None:
            return
        try:
            async with asyncio.timeout(self.on_connect_timeout):
                await self.on_connect(self)
        except AmiError:
            raise
        except TimeoutError:
            raise AmiTimeout(f"on_connect did not finish within {self.on_connect_timeout:g} s") from None
        except Exception as exc:
            _log.exception("AMI %s:%d: on_connect failed", self.host, self.port)
            raise AmiError(f"on_connect failed: {exc!r}") from exc

    async def _install_filters(self) -> None:
        for flt in self.events_filter:
            try:
                await self.send_action(actions.filter_add(flt))
            except AmiActionError as exc:
                # Stop at the first refusal: a partial set could drop events a later filter would let in.
                _log.error("AMI filter %s refused (%s); no further filters installed", flt.criteria, exc.message)
                return

    async def _keepalive(self, read_task: asyncio.Task[None]) -> None:
        while True:
            done, _ = await asyncio.wait({read_task}, timeout=self.ping_interval)
            if done:
                return
            try:
                await self.send_action(actions.ping(), timeout=self.ping_timeout)
            except AmiTimeout:
                if self._delivering:
                    _log.warning("AMI %s:%d: no Pong while on_message is busy; waiting", self.host, self.port)
                    continue
                raise AmiTimeout(f"no Pong within {self.ping_timeout:g} s; reconnecting") from None

    async def _read_loop(self, reader: asyncio.StreamReader, parser: AmiParser) -> None:
        reason = "connection closed"
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    reason = "connection closed by the PBX"
                    break
                for msg in self._feed(parser, data):
                    self.messages += 1
                    if self._to_waiter(msg):
                        continue
                    if self._holding:
                        self._held.append(msg)
                    else:
                        await self._deliver(msg)
        except OSError as exc:
            reason = f"connection lost: {exc}"
        finally:
            self._logged_in = False
            if self._banner is not None and not self._banner.done():
                self._banner.set_exception(AmiNotConnected(f"{reason} before the banner"))
            for waiter in self._waiters.values():
                if not waiter.future.done():
                    waiter.future.set_exception(AmiNotConnected(f"AMI {reason} while waiting for an answer"))
            _log.info("AMI %s:%d: %s", self.host, self.port, reason)

    def _feed(self, parser: AmiParser, data: bytes) -> list[AmiMessage]:
        messages: list[AmiMessage] = []
        while True:
            try:
                messages += parser.feed(data)
                break
            except AmiFrameTooLarge as exc:
                self.frames_too_large += 1
                _log.error("AMI %s:%d: %s", self.host, self.port, exc)
                data = b""
        if parser.banner is not None and self._banner is not None and not self._banner.done():
            self._banner.set_result(parser.banner)
        for issue in parser.take_issues():
            self.protocol_issues += 1
            _log.warning("AMI %s:%d: protocol issue %s: %s", self.host, self.port, issue.kind, issue.detail)
        return messages

    def _to_waiter(self, msg: AmiMessage) -> bool:
        if not self._waiters:  # the common case while streaming: nobody waits for an answer
            return False
        action_id = msg.action_id
        waiter = self._waiters.get(action_id) if action_id else None
        if waiter is None and not action_id and self._anonymous is not None and msg.has("Response"):
            waiter = self._anonymous
        if waiter is None or not waiter.wants(msg):
            return False
        waiter.add(msg)
        return True

    async def _deliver(self, msg: AmiMessage) -> None:
        self._delivering = True
        try:
            await self.on_message(msg)
        except Exception:
            self.handler_errors += 1
            _log.exception("AMI on_message failed for %s", msg.event or msg.response or "a message")
        finally:
            self._delivering = False

    async def _request(
        self, action: Action, wait: float | None, *, collect: bool, anonymous: bool = False
    ) -> list[AmiMessage]:
        writer = self._writer
        if writer is None or writer.is_closing():
            raise AmiNotConnected(f"AMI {action.name}: not connected to {self.host}:{self.port}")
        timeout = self.action_timeout if wait is None else wait
        action_id = f"{self._id_prefix}-{next(self._ids)}"
        data = action.to_bytes(action_id)
        waiter = _Waiter(asyncio.get_running_loop().create_future(), collect)
        self._waiters[action_id] = waiter
        if anonymous:
            self._anonymous = waiter
        try:
            writer.write(data)
            async with asyncio.timeout(timeout):
                await writer.drain()
                return await waiter.future
        except TimeoutError as exc:
            raise AmiTimeout(f"AMI {action.name}: no complete answer within {timeout:g} s") from exc
        except (OSError, RuntimeError) as exc:
            raise AmiNotConnected(f"AMI {action.name}: {exc}") from exc
        finally:
            del self._waiters[action_id]
            if self._anonymous is waiter:
                self._anonymous = None


def _as_action(action: Action | str, headers: Headers) -> Action:
    if isinstance(action, Action):
        if headers:
            raise ValueError("pass headers inside the Action, not beside it")
        return action
    pairs = tuple(headers.items()) if isinstance(headers, Mapping) else tuple(headers)
    return Action(action, pairs)


def parse_ami_url(url: str) -> tuple[str, int, str, str]:
    """``ami://USER:SECRET@HOST[:PORT]`` -> (host, port, user, secret); user and secret are percent-decoded.

    Error messages never repeat the URL: it holds the secret.
    """
    form = "expected ami://USER:SECRET@HOST[:PORT]"
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise ValueError(f"AMI URL: invalid host or port ({form}, port 1-65535)") from None
    if parts.scheme != "ami":
        raise ValueError(f"AMI URL: scheme must be 'ami', not {parts.scheme!r} ({form})")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"AMI URL: unexpected path, query or fragment ({form})")
    if not parts.hostname:
        raise ValueError(f"AMI URL: no host ({form})")
    if not parts.username:
        raise ValueError(f"AMI URL: no user name ({form})")
    if parts.password is None:
        raise ValueError(f"AMI URL: no secret ({form}; percent-encode ':', '@', '/' and '#' in it)")
    if port == 0:
        raise ValueError(f"AMI URL: port must be 1-65535 ({form})")
    return parts.hostname, port or DEFAULT_PORT, unquote(parts.username), unquote(parts.password)

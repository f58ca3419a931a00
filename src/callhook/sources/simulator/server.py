"""An AMI server in front of a :class:`~.simulation.Simulation`: a thin asyncio shell.

Theory of operation
-------------------
One pump task moves simulated time with the real clock (``speed`` simulated seconds
per real second): it sleeps until the next scripted event is due, advances the
simulation to "now" and writes the events to every logged-in session whose
``Events`` mask holds every class of the event (:mod:`.classes`) and whose filters
let it pass (:mod:`.filters`: the user's ``eventfilter`` lines from
``ServerConfig.filters``, then the session's ``Filter`` actions). Each connection
gets the banner ``Asterisk Call Manager/12.0.0``, must log in (plain ``Login``, or
``Challenge`` then ``Login`` with ``AuthType: MD5``; a refused login is answered
``Response: Error`` and the connection is closed, as Asterisk does), and then may
send actions. Actions that change the PBX (Originate, Hangup, QueueAdd,
QueueRemove, QueuePause) first bring the simulation up to now, so their events
fall in time order after everything already due, and wake the pump. Parsing is
the project's sans-IO codec; a session whose client stops reading is dropped once
``max_backlog`` bytes are waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from callhook.core.ami.codec import AmiFrameTooLarge, AmiParser
from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.actions import ActionHandler
from callhook.sources.simulator.classes import ALL, event_classes
from callhook.sources.simulator.filters import EventFilterEntry, SessionFilters
from callhook.sources.simulator.shapes import event
from callhook.sources.simulator.simulation import Simulation

__all__ = ["ServerConfig", "SimulatorServer", "frame"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"  # loopback only unless told otherwise
    port: int = 0  # 0: any free port (see SimulatorServer.port)
    username: str = "lab"
    secret: str = "labsecret"  # noqa: S105 (the lab's documented credentials; configurable)
    speed: float = 1.0  # simulated seconds per real second
    banner: str = "Asterisk Call Manager/12.0.0"
    max_frame: int = 64 * 1024
    max_backlog: int = 8 << 20
    read: frozenset[str] = ALL  # the user's read classes (manager.conf ``read``)
    filters: tuple[EventFilterEntry, ...] = ()  # the user's eventfilter lines (manager.conf)

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise ValueError("ServerConfig.speed must be positive")


def frame(msg: AmiMessage) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in msg.headers) + "\r\n").encode()


@dataclass(slots=True, eq=False)
class Session:
    writer: asyncio.StreamWriter
    peer: str
    logged_in: bool = False
    send_events: frozenset[str] = frozenset()  # the classes this session gets (none before login)
    challenge: str = ""  # the Challenge action's value, for an MD5 login
    filters: SessionFilters = field(default_factory=SessionFilters)

    def wants(self, msg: AmiMessage) -> bool:
        """Asterisk's test: every class of the event in the mask, then the filters."""
        return event_classes(msg) <= self.send_events and self.filters.passes(msg)

    def send(self, msgs: list[AmiMessage]) -> None:
        if msgs and not self.writer.is_closing():
            self.writer.write(b"".join(frame(m) for m in msgs))


class SimulatorServer:
    def __init__(
        self, simulation: Simulation, config: ServerConfig | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.sim = simulation
        self.config = config or ServerConfig()
        self._clock = clock
        self._real0 = clock()
        self._sim0 = simulation.now
        self._server: asyncio.Server | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.sessions: set[Session] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self.actions = ActionHandler(self)
        self.logins = 0  # sessions that logged in since start
        self.peak = 0  # most sessions logged in at once

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        self._real0, self._sim0 = self._clock(), self.sim.now
        self._server = await asyncio.start_server(self._on_connect, self.config.host, self.config.port)
        self._pump_task = asyncio.create_task(self._pump(), name="ami-simulator-pump")
        log.info("AMI simulator listening on %s:%d", self.config.host, self.port)

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 (a bounded graceful shutdown)
        if self._pump_task is not None:
            self._pump_task.cancel()
            await asyncio.gather(self._pump_task, return_exceptions=True)
        if self._server is not None:
            self._server.close()
        # Closing each connection ends its handler's read loop normally. Cancelling the
        # handlers instead would make asyncio's stream callback log a CancelledError
        # traceback for every connected client (Ctrl-C with a client connected).
        for s in list(self.sessions):
            s.writer.close()
        if self._handlers:
            await asyncio.wait(self._handlers, timeout=timeout)
        for task in list(self._handlers):  # a handler stuck past the timeout: the last resort
            task.cancel()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), timeout)

    async def __aenter__(self) -> SimulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------- time
    def sim_now(self) -> float:
        return self._sim0 + (self._clock() - self._real0) * self.config.speed

    def flush(self) -> None:
        """Bring the simulation up to now and send what happened to the sessions."""
        msgs = [m for _, m in self.sim.advance(max(self.sim.now, self.sim_now()))]
        if not msgs:
            return
        for s in list(self.sessions):
            if s.logged_in and s.send_events:
                s.send([m for m in msgs if s.wants(m)])
                if s.writer.transport.get_write_buffer_size() > self.config.max_backlog:
                    log.warning("AMI simulator: %s does not read; dropped", s.peer)
                    s.writer.close()

    def wake(self) -> None:
        self._wake.set()

    def play(self, name: str, delay: float = 0.0, **params: Any) -> str:
        """Start a recorded scenario now (plus ``delay`` simulated seconds); its call key."""
        self.flush()
        key = self.sim.play(name, delay, **params)
        self.wake()
        return key

    async def _pump(self) -> None:
        while True:
            due = self.sim.next_time()
            wait = None if due is None else (due - self.sim_now()) / self.config.speed
            if wait is None or wait > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
                continue
            self.flush()
            await asyncio.sleep(0)

    # --------------------------------------------------------------- sessions
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        peer = str(writer.get_extra_info("peername"))
        session = Session(writer, peer)
        self.sessions.add(session)
        parser = AmiParser(self.config.max_frame, expect_banner=False)
        try:
            writer.write(f"{self.config.banner}\r\n".encode())
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                try:
                    msgs = parser.feed(data)
                except AmiFrameTooLarge:
                    log.warning("AMI simulator: %s sent a frame too large; dropped", peer)
                    break
                for msg in msgs:
                    session.send(self.actions.handle(session, msg))
                    if msg.get("Action").lower() in ("logoff",) or (
                        msg.get("Action").lower() == "login" and not session.logged_in
                    ):
                        writer.close()
                        break
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.sessions.discard(session)
            writer.close()
            with contextlib.suppress(OSError, TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if task is not None:
                self._handlers.discard(task)

    def session_logged_in(self) -> None:
        self.logins += 1
        self.peak = max(self.peak, sum(1 for s in self.sessions if s.logged_in))

    def user_filters(self) -> SessionFilters:
        """A new session's filters: the user's configured ones (Asterisk copies them at login)."""
        out = SessionFilters()
        for f in self.config.filters:
            out.add_entry(f)
        return out

    def uptime(self) -> float:
        return max(0.0, self.sim_now() - self._sim0)

    def started_at(self) -> datetime:
        return datetime.fromtimestamp(self._sim0, UTC)

    def auth_event(self, session: Session) -> AmiMessage:
        """The security event Asterisk raises for a login (the recordings' ``SuccessfulAuth``).

        Asterisk leaves ``using_password`` unset, so it reads ``UsingPassword: 0`` whichever way
        the user logged in (the recordings, plain logins, show it)."""
        now = self.sim_now()
        tv = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(now % 1 * 1000):03d}+0000"
        local = session.writer.get_extra_info("sockname") or ("127.0.0.1", self.port)
        remote = session.writer.get_extra_info("peername") or ("127.0.0.1", 0)
        msg = event(
            "SuccessfulAuth",
            now,
            [
                ("EventTV", tv),
                ("Severity", "Informational"),
                ("Service", "AMI"),
                ("EventVersion", "1"),
                ("AccountID", self.config.username),
                ("SessionID", f"0x{id(session):x}"),
                ("LocalAddress", f"IPV4/TCP/{local[0]}/{local[1]}"),
                ("RemoteAddress", f"IPV4/TCP/{remote[0]}/{remote[1]}"),
                ("UsingPassword", "0"),
                ("SessionTV", tv),
            ],
        )
        return msg

    def broadcast(self, msg: AmiMessage, *, skip: Session | None = None) -> None:
        """An event raised outside the simulation's script, to every session that wants it."""
        for s in list(self.sessions):
            if s is not skip and s.logged_in and s.wants(msg):
                s.send([msg])

    def check_user(self, username: str) -> bool:
        return secrets.compare_digest(username.encode(), self.config.username.encode())

    def check_login(self, username: str, secret: str) -> bool:
        ok_user = secrets.compare_digest(username.encode(), self.config.username.encode())
        ok_secret = secrets.compare_digest(secret.encode(), self.config.secret.encode())
        return ok_user and ok_secret

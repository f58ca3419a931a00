"""One PBX of a deployment: its AMI session, its tracker, its directory, its actions.

A deployment reads one or more Asterisk servers (``[[pbx]]`` tables in the config
file, or the single ``--ami`` of a one-PBX installation; docs/deployment.md). Each
:class:`PbxLink` is everything callhook runs for one of them:

- the directory of its extensions, DIDs and queues (:class:`DirectoryHolder`; a PBX
  without a file of its own shares the deployment's);
- the tracker that follows its calls, stamping each event with the PBX's name and
  deriving each event's id from the PBX's name (docs/delivery.md, "Event ids");
- the AMI connection and the source that feeds the tracker from it;
- the actions API's way to it (:class:`PbxActions`);
- its election on PostgreSQL (:class:`PgElection`, one lock per PBX name), so that of
  several processes exactly one holds each PBX's AMI session, and different PBXs may
  be held by different processes.

The composition root (:mod:`callhook.bootstrap`) makes the links; nothing else does.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import Event, derived_event_id
from callhook.core.recordings import RecordingNames
from callhook.core.tracker.tracker import Tracker
from callhook.directories import DirectoryHolder
from callhook.directory_sync import DirectoryState
from callhook.sources.asterisk import AmiLike, AsteriskSource, EventSink, PbxActions
from callhook.sources.election import PgElection

__all__ = ["AmiConnection", "Connect", "PbxLink", "PbxOptions", "pbx_ids"]

log = logging.getLogger(__name__)


class AmiConnection(AmiLike, Protocol):
    """What a link needs of its AMI client (:class:`callhook.sources.ami_client.AmiClient`)."""

    reconnects: int

    async def run(self) -> None: ...

    async def stop(self, grace: float = 2.0) -> None: ...


# (url, on_message, on_connect) -> the connection; the real one is AmiClient, tests pass doubles
Connect = Callable[[str, Callable[[AmiMessage], Awaitable[None]], Callable[[AmiLike], Awaitable[None]]], AmiConnection]


def pbx_ids(pbx: str) -> Callable[[datetime, str, str, str, int], str]:
    """The tracker's id hook for one PBX: each event's id derived from what it is
    (:func:`callhook.core.events.derived_event_id`), time-prefixed by the PBX's time."""

    def ids(ts: datetime, scope: str, key: str, etype: str, seq: int) -> str:
        return derived_event_id(int(ts.timestamp() * 1000), pbx, scope, key, etype, seq)

    return ids


@dataclasses.dataclass(frozen=True, slots=True)
class PbxOptions:
    originate_context: str = "click2dial"
    originate_variable: str = "C2D_EXTEN"
    originate_timeout_ms: int = 30000
    election_poll: float = 1.0


class _Stamped:
    """The source's sink for one PBX: the recording names MixMonitor reported put in, the
    PBX's name on each event (and before each call id, when the deployment lists its PBXs),
    then the accepter's queue (the reader never waits)."""

    def __init__(self, pbx: str, prefix: str, sink: EventSink, recordings: RecordingNames) -> None:
        self._pbx, self._prefix, self._sink, self._recordings = pbx, prefix, sink, recordings

    def enqueue(self, events: Sequence[Event]) -> None:
        named = self._recordings.apply(events)  # by the PBX's own call ids (Linkedid)
        self._recordings.forget(named)
        pbx, prefix = self._pbx, self._prefix
        self._sink.enqueue(
            [
                dataclasses.replace(e, pbx=pbx, call_id=prefix + e.call_id if e.call_id else "")
                if prefix
                else (e if e.pbx == pbx else dataclasses.replace(e, pbx=pbx))
                for e in named
            ]
        )

    async def room(self) -> None:
        await self._sink.room()


class PbxLink:
    """The running parts of one PBX (see the module docstring)."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        tenant: str,
        directories: DirectoryHolder,
        directory_state: DirectoryState | None,
        sink: EventSink,
        recordings: RecordingNames,
        new_id: Callable[[datetime], str],
        tz: tzinfo,
        now: Callable[[], datetime],
        connect: Connect | None,
        options: PbxOptions = PbxOptions(),
        call_prefix: str = "",
    ) -> None:
        """``call_prefix``: put before each call id (``"<name>:"`` when the deployment
        lists its PBXs, so the same Linkedid on two PBXs is two calls); "" keeps the
        PBX's own Linkedid."""
        self.name, self.url, self.tenant = name, url, tenant
        self.call_prefix = call_prefix
        self.directories = directories
        self.directory_state = directory_state  # None: it shares the deployment's directory
        self.recordings = recordings
        self.options = options
        self.tracker = Tracker(directories.current, new_id, tz, presence=True, ids=pbx_ids(name))
        self.source = AsteriskSource(self.tracker, _Stamped(name, call_prefix, sink, recordings), now)
        self.ami: AmiConnection | None = None
        if url and connect is not None:
            self.ami = connect(url, self._on_message, self.source.on_connect)
        self.actions = PbxActions(
            self.ami,
            self.tracker,
            directories.current,
            now,
            context=options.originate_context,
            variable=options.originate_variable,
            timeout_ms=options.originate_timeout_ms,
        )
        self.election: PgElection | None = None  # set by start() on PostgreSQL
        self.error = ""  # why the AMI session stopped for good
        self._task: asyncio.Task[None] | None = None
        directories.on_replace(self._directory_replaced)

    def __repr__(self) -> str:
        return f"<PbxLink {self.name} held={self.held} connected={self.connected}>"

    @property
    def directory(self) -> Directory:
        return self.directories.current

    def _directory_replaced(self, new: Directory) -> None:
        self.tracker.directory = new
        self.tracker.agents.directory = new
        self.actions.directory = new

    def call_id(self, own: str) -> str:
        """The deployment's id of the PBX's call ``own`` (its Linkedid)."""
        return self.call_prefix + own

    def own_call_id(self, call_id: str) -> str | None:
        """The PBX's own id of the deployment's ``call_id``; None: not a call of this PBX."""
        if not self.call_prefix:
            return call_id
        return call_id[len(self.call_prefix) :] if call_id.startswith(self.call_prefix) else None

    def use_connection(self, ami: AmiConnection | None) -> None:
        """Talk to the PBX through ``ami`` from now on (a test double, or a new client)."""
        self.ami = ami
        self.actions.client = ami

    async def _on_message(self, msg: AmiMessage) -> None:
        self.recordings.observe(msg)
        await self.source.on_message(msg)

    # ------------------------------------------------------------------ state
    @property
    def configured(self) -> bool:
        return self.ami is not None

    @property
    def connected(self) -> bool:
        return bool(self.ami is not None and self.ami.connected)

    @property
    def held(self) -> bool:
        """Does this process hold the PBX's AMI session? Without an election (SQLite,
        one process) the one process always does."""
        if self.ami is None:
            return False
        return self.election.held if self.election is not None else True

    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task that reads the PBX (or runs its election); None before start()."""
        return self._task

    # ------------------------------------------------------------------ life
    def start(self, database_url: str) -> None:
        """Read the PBX: on PostgreSQL only while this process is its elected reader."""
        if self.ami is None or self._task is not None:
            return
        if database_url.startswith(("postgresql://", "postgres://")):
            self.election = PgElection(database_url, self.name, self._term, poll=self.options.election_poll)
            self._task = asyncio.create_task(self.election.run(), name=f"ami-election-{self.name}")
        else:
            self._task = asyncio.create_task(self._run(), name=f"ami-{self.name}")

    async def _term(self) -> None:
        """One elected term: the tracker starts from what the PBX reports (the previous
        holder's calls are adopted by the resync), then the AMI session runs until the
        term ends (cancelled: the lock's connection failed, or this process stops)."""
        if self.election is not None and self.election.terms > 1:
            self.tracker.forget()
        try:
            await self._run()
        finally:
            if self.ami is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ami.stop(), 2.0)
            # no longer the reader: what the tracker holds goes stale from now on, so this
            # process shows no live calls rather than calls another process ends
            self.tracker.forget()

    async def _run(self) -> None:
        assert self.ami is not None
        try:
            await self.ami.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("AMI source %s stopped: %s", self.name, exc)
            self.error = str(exc)
            raise

    async def stop(self) -> None:
        if self._task is None:
            return
        if self.ami is not None:
            with contextlib.suppress(Exception):
                await self.ami.stop()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None

"""The composition root: builds the store, the sources, the dispatcher and the API.

Nothing else constructs adapters; everything below takes its dependencies by
constructor. ``Hub`` is what the API routes and the CLI commands are handed: the
same services, so a command and a route never disagree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
import tomllib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callhook.api.directory import directory_state  # i12-state
from callhook.api.recordings import recording_linker  # i15-ledger
from callhook.api.sessions import SessionBook
from callhook.broadcast import Broadcast
from callhook.config import Config, ConfigError
from callhook.core import dialects
from callhook.core.ami.message import AmiMessage
from callhook.core.dialects import signing
from callhook.core.directory import Directory, DirectoryError
from callhook.core.events import Event, derived_event_id, new_event_id
from callhook.core.ingest_calls import IngestCalls
from callhook.core.recordings import RecordingNames
from callhook.core.tracker.tracker import Tracker
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import Sender, make_sender
from callhook.directories import DirectoryHolder
from callhook.metrics import Metrics
from callhook.sources.asterisk import AsteriskSource, PbxActions
from callhook.sources.election import FileLock, PgElection
from callhook.sources.ingest import IngestSource
from callhook.store import open_store
from callhook.store.base import NewEvent, Store
from callhook.store.sealed import SealedStore, Sealer
from callhook.store.sessions import session_store  # i12-state
from callhook.store.sqlite import SqliteStore

__all__ = ["Hub", "build", "load_directory"]

log = logging.getLogger(__name__)


def load_directory(path: str) -> Directory:
    """A directory file (JSON or TOML, shaped like lab-directory.json); "" is an empty one."""
    if not path:
        return Directory()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"directory {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if p.suffix.lower() == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"directory {path}: not valid {'TOML' if p.suffix == '.toml' else 'JSON'}: {exc}") from None
    try:
        return Directory.from_mapping(data)
    except DirectoryError as exc:
        raise ConfigError(f"directory {path}: {exc}") from None


def _tz(name: str) -> tzinfo:
    if name.upper() in ("UTC", "Z", ""):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {name!r}") from None


def _sender(config: Config) -> Sender:
    """pycurl (measured faster, docs/benchmarks.md) unless aiohttp is asked for or pycurl is missing."""
    kind = config.sender
    if kind == "curl":
        try:
            import pycurl  # noqa: F401
        except ImportError:
            log.warning("pycurl is not installed: sending webhooks with aiohttp")
            kind = "aiohttp"
    return make_sender(kind, allow_private=config.allow_private_networks)


class _Entropy:
    """os.urandom in 4 KiB reads, handed out 10 bytes per ULID: one getrandom() call per
    409 event ids instead of one each (measured: the single largest cost of the AMI path
    on a busy host, docs/benchmarks.md). Same randomness source, same id format."""

    def __init__(self, size: int = 4090) -> None:
        self._size = size
        self._buf = b""
        self._at = 0

    def take(self, n: int = 10) -> bytes:
        if self._at + n > len(self._buf):
            self._buf, self._at = os.urandom(self._size), 0
        out = self._buf[self._at : self._at + n]
        self._at += n
        return out


_entropy = _Entropy()


def new_id(ts: datetime) -> str:
    ms = int(ts.timestamp() * 1000)
    return new_event_id(ms if 0 <= ms < 1 << 48 else 0, _entropy.take())


def pbx_ids(pbx: str) -> Callable[[datetime, str, str, str, int], str]:
    """The tracker's id hook for one PBX: each event's id derived from what it is
    (:func:`callhook.core.events.derived_event_id`), time-prefixed by the PBX's time."""

    def ids(ts: datetime, scope: str, key: str, etype: str, seq: int) -> str:
        return derived_event_id(int(ts.timestamp() * 1000), pbx, scope, key, etype, seq)

    return ids


class _RecordedSink:
    """The AMI source's sink: the accepter's queue, with the PBX's recording name put into
    the tracker's events where MixMonitor reported one (the reader still never waits)."""

    def __init__(self, accepter: Accepter, recordings: RecordingNames) -> None:
        self._accepter, self._recordings = accepter, recordings

    def enqueue(self, events: Sequence[Event]) -> None:
        self._accepter.enqueue(self._recordings.apply(events))
        self._recordings.forget(events)

    async def room(self) -> None:
        await self._accepter.room()


class Hub:
    """The running services of one callhook process."""

    def __init__(self, config: Config, store: Store, directory: Directory, *, admin_token: str) -> None:
        self.config = config
        self.store = store
        self.directories = DirectoryHolder(directory)  # hub.directory reads it; replace() changes it everywhere
        self.admin_token = admin_token
        self.tz = _tz(config.timezone)
        self.started = time.time()
        self.metrics = Metrics()
        self.broadcast = Broadcast()
        self.sessions = SessionBook(session_store(store))  # dashboard sessions and codes, in the store
        self.tracker = Tracker(directory, new_id, self.tz, presence=True, ids=pbx_ids(config.pbx_name))
        policy = config.retry_policy
        self.accepter = Accepter(store, encode=dialects.encode, policy=policy, now=time.time)
        self.accepter.on_committed(self._committed)
        self.sender = _sender(config)
        self.endpoints = Endpoints(EndpointPolicy(concurrency=config.endpoint_concurrency))
        self.dispatcher = Dispatcher(
            store,
            self.sender,
            sign=signing.sign,
            encode=dialects.encode,
            policy=policy,
            now=time.time,
            metrics=self.metrics,
            endpoints=self.endpoints,
            options=DispatcherOptions(
                max_inflight=config.dispatch_concurrency,
                lease=config.delivery_lease,
                # expired leases (a process that died mid-send) back to pending within a quarter lease
                sweep_interval=min(30.0, max(1.0, config.delivery_lease / 4)),
                disable_after=config.disable_after_days * 86400.0,  # i15-ledger: disable notices
            ),
        )
        # --- i15-ledger: call.recording's signed download link (when configured) ---
        self.recordings = RecordingNames(link=recording_linker(config, admin_token))
        # --- end i15-ledger ---
        self.source = AsteriskSource(self.tracker, _RecordedSink(self.accepter, self.recordings), self.now_dt)
        self.ingest = IngestSource(IngestCalls(new_id), self.accept, self.now_dt, lambda: self.directory)
        self.ami: Any = None
        if config.ami_url:
            from callhook.sources.ami_client import AmiClient, parse_ami_url

            host, port, user, secret = parse_ami_url(config.ami_url)
            self.ami = AmiClient(
                host,
                port,
                user,
                secret,
                on_message=self._on_ami_message,
                on_connect=self.source.on_connect,
                ping_interval=config.ami_ping_interval,
            )
        self.election: PgElection | None = None  # set by start() on PostgreSQL with a PBX
        self.file_lock: FileLock | None = None  # SQLite: one serving process per database
        self._ami_task: asyncio.Task[None] | None = None
        self.actions = PbxActions(
            self.ami,
            self.tracker,
            directory,
            self.now_dt,
            context=config.originate_context,
            variable=config.originate_variable,
            timeout_ms=config.originate_timeout_ms,
        )
        self.directory_state = directory_state(self)  # i12-state: the directory's stored versions, followed
        self.directories.on_replace(self._directory_replaced)

    @property
    def directory(self) -> Directory:
        """The running directory (:class:`~callhook.directories.DirectoryHolder`)."""
        return self.directories.current

    def _directory_replaced(self, new: Directory) -> None:
        self.tracker.directory = new
        self.tracker.agents.directory = new
        self.actions.directory = new

    def now_dt(self) -> datetime:
        return datetime.now(self.tz)

    @staticmethod
    def now() -> float:
        return time.time()

    @property
    def ami_connected(self) -> bool:
        return bool(self.ami is not None and self.ami.connected)

    async def accept(self, events: Sequence[Event]) -> None:
        """Make events durable (with their deliveries); returns once they are committed."""
        await self.accepter.accept(events)

    def _committed(self, items: Sequence[NewEvent]) -> None:
        """Every commit, in order (the AMI path's and ingest's): count, tell the live listeners."""
        self.metrics.events_in(len(items))
        self.broadcast.publish([i.event for i in items])

    async def _on_ami_message(self, msg: AmiMessage) -> None:
        self.recordings.observe(msg)
        await self.source.on_message(msg)

    @property
    def ami_task(self) -> asyncio.Task[None] | None:
        """The task that reads the PBX (or runs its election); None without a PBX or before start()."""
        return self._ami_task

    @property
    def ami_held(self) -> bool:
        """Does this process hold the PBX's AMI session (the election, docs/deployment.md)?
        Without an election (SQLite, one process) the one process always does."""
        if self.ami is None:
            return False
        return self.election.held if self.election is not None else True

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        """Open the store, start dispatching and (when a PBX is configured) reading it: on
        PostgreSQL only while this process is the PBX's elected reader; on SQLite after
        taking the database's process lock (a second process refuses to start)."""
        path = _sqlite_path(self.store)
        if path is not None and self.file_lock is None:
            lock = FileLock(path)
            lock.acquire()  # AlreadyRunning: a clear message, nothing started
            self.file_lock = lock
        await self.store.open()
        await self.directory_state.start()  # i12-state: the newest stored directory, then follow it
        await self.dispatcher.start()
        if self.ami is None:
            return
        if self.config.database_url.startswith(("postgresql://", "postgres://")):
            self.election = PgElection(
                self.config.database_url, self.config.pbx_name, self._ami_term, poll=self.config.election_poll
            )
            self._ami_task = asyncio.create_task(self.election.run(), name="ami-election")
        else:
            self._ami_task = asyncio.create_task(self._run_ami(), name="ami")

    async def _ami_term(self) -> None:
        """One elected term: the tracker starts from what the PBX reports (the previous
        holder's calls are adopted by the resync), then the AMI session runs until the
        term ends (cancelled: the lock's connection failed, or this process stops)."""
        if self.election is not None and self.election.terms > 1:
            self.tracker.forget()
        try:
            await self._run_ami()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ami.stop(), 2.0)
            # no longer the reader: what the tracker holds goes stale from now on, so this
            # process shows no live calls rather than calls another process ends
            self.tracker.forget()

    async def _run_ami(self) -> None:
        try:
            await self.ami.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("AMI source stopped: %s", exc)
            self.ami_error = str(exc)
            raise

    async def stop(self) -> None:
        if self._ami_task is not None:
            with contextlib.suppress(Exception):
                await self.ami.stop()
            self._ami_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._ami_task
        await self.directory_state.stop()  # i12-state
        await self.ingest.close()
        await self.dispatcher.stop()
        await self.accepter.close()
        await self.sender.close()
        await self.store.close()
        if self.file_lock is not None:
            self.file_lock.release()
            self.file_lock = None


def _sqlite_path(store: Store) -> str | None:
    inner = store.inner if isinstance(store, SealedStore) else store
    return inner.path if isinstance(inner, SqliteStore) else None


def build(config: Config) -> Hub:
    directory = load_directory(config.directory)
    token = config.admin_token or secrets.token_urlsafe(24)
    store = sealed_store(config)
    return Hub(config, store, directory, admin_token=token)


def sealed_store(config: Config) -> SealedStore:
    """The configured store behind the secrets-at-rest wrapper (:mod:`callhook.store.sealed`)."""
    keys = list((getattr(config, "extra", {}) or {}).get("secret_keys", []))
    if not keys:
        log.warning(
            "secrets at rest: no CALLHOOK_SECRET_KEYS, so webhook passwords and signing secrets are stored "
            "unencrypted in the database; make a key with 'callhook secrets new-key' to encrypt them"
        )
    return SealedStore(open_store(config.database_url), Sealer(keys))

"""The composition root: builds the store, the sources, the dispatcher and the API.

Nothing else constructs adapters; everything below takes its dependencies by
constructor. :func:`build` returns one frozen, typed :class:`Hub`: what the API
routes and the CLI commands are handed, the same services, so a command and a route
never disagree. Tests build it with the same function, replacing parts through its
keyword arguments (a memory store, a clock, a fake AMI connection). The running state
lives in the parts (the PBX links' tasks and elections, the SQLite process lock), so
the hub itself never changes after :func:`build`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from callhook.api.recordings import recording_linker
from callhook.api.sessions import SessionBook
from callhook.broadcast import Broadcast
from callhook.config import Config, ConfigError, PbxSource, pbx_sources
from callhook.core import dialects
from callhook.core.ami.message import AmiMessage
from callhook.core.dialects import signing
from callhook.core.directory import Directory, DirectoryError
from callhook.core.events import Event, new_event_id
from callhook.core.ingest_calls import IngestCalls
from callhook.core.recordings import RecordingNames
from callhook.core.retry import RetryPolicy
from callhook.delivery.accept import Accepter
from callhook.delivery.dispatcher import Dispatcher, DispatcherOptions
from callhook.delivery.endpoints import EndpointPolicy, Endpoints
from callhook.delivery.sender import Sender, make_sender
from callhook.directories import DirectoryHolder
from callhook.directory_sync import DirectoryState
from callhook.metrics import Metrics
from callhook.pbx_link import AmiConnection, Connect, PbxLink, PbxOptions, pbx_ids
from callhook.sources.asterisk import AmiLike
from callhook.sources.election import FileLock
from callhook.sources.ingest import IngestSource
from callhook.store import open_store
from callhook.store.base import NewEvent, Store
from callhook.store.directory_versions import directory_versions
from callhook.store.sealed import SealedStore, Sealer
from callhook.store.sessions import session_store
from callhook.store.sqlite import SqliteStore

__all__ = ["Clock", "Hub", "ProcessLock", "build", "load_directory", "pbx_ids", "sealed_store"]

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


class Clock:
    """The process's clock: Unix seconds and the installation's local time (tests pass
    one they move by hand)."""

    def __init__(self, tz: tzinfo = UTC) -> None:
        self.tz = tz

    def now(self) -> float:
        return time.time()

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), self.tz)


class ProcessLock:
    """SQLite: one serving process per database file (:class:`FileLock`); nothing elsewhere."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._lock: FileLock | None = None

    def acquire(self) -> None:
        if self.path is not None and self._lock is None:
            lock = FileLock(self.path)
            lock.acquire()  # AlreadyRunning: a clear message, nothing started
            self._lock = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


@dataclass(frozen=True, slots=True)
class Hub:
    """The running services of one callhook process: what the API routes and the CLI
    commands are handed (:func:`build` makes it; tests pass test doubles to it)."""

    config: Config
    store: Store
    admin_token: str
    clock: Clock
    metrics: Metrics
    broadcast: Broadcast
    sessions: SessionBook  # dashboard sessions and one-time codes, in the store
    directories: DirectoryHolder  # the deployment's directory (``--directory``)
    directory_state: DirectoryState  # its stored versions, followed
    accepter: Accepter
    sender: Sender
    endpoints: Endpoints
    dispatcher: Dispatcher
    ingest: IngestSource
    pbxes: tuple[PbxLink, ...]  # the PBXs read over AMI, in the config's order
    lock: ProcessLock
    started: float = field(default_factory=time.time)

    # ------------------------------------------------------------------ reads
    @property
    def tz(self) -> tzinfo:
        return self.clock.tz

    def now(self) -> float:
        return self.clock.now()

    def now_dt(self) -> datetime:
        return self.clock.now_dt()

    @property
    def directory(self) -> Directory:
        """The deployment's running directory (:class:`~callhook.directories.DirectoryHolder`)."""
        return self.directories.current

    @property
    def pbx(self) -> PbxLink | None:
        """The first PBX (the only one of a one-PBX installation); None without a PBX."""
        return self.pbxes[0] if self.pbxes else None

    def pbx_named(self, name: str) -> PbxLink | None:
        return next((p for p in self.pbxes if p.name == name), None)

    @property
    def ami_connected(self) -> bool:
        """Every configured PBX's AMI connection is up (False without a PBX)."""
        return bool(self.pbxes) and all(p.connected for p in self.pbxes)

    async def accept(self, events: Sequence[Event]) -> None:
        """Make events durable (with their deliveries); returns once they are committed."""
        await self.accepter.accept(events)

    def committed(self, items: Sequence[NewEvent]) -> None:
        """Every commit, in order (the AMI path's and ingest's): count, tell the live listeners."""
        self.metrics.events_in(len(items))
        self.metrics.pbx_events(items)
        self.broadcast.publish([i.event for i in items])

    # ------------------------------------------------------------------ life
    async def start(self) -> None:
        """Open the store, start dispatching and reading the PBXs: on PostgreSQL each only
        while this process is its elected reader; on SQLite after taking the database's
        process lock (a second process refuses to start)."""
        self.lock.acquire()
        await self.store.open()
        await self.directory_state.start()  # the newest stored directory, then follow it
        for p in self.pbxes:
            if p.directory_state is not None:
                await p.directory_state.start()
        await self.dispatcher.start()
        for p in self.pbxes:
            p.start(self.config.database_url)

    async def stop(self) -> None:
        for p in self.pbxes:
            await p.stop()
        for p in self.pbxes:
            if p.directory_state is not None:
                await p.directory_state.stop()
        await self.directory_state.stop()
        await self.ingest.close()
        await self.dispatcher.stop()
        await self.accepter.close()
        await self.sender.close()
        await self.store.close()
        self.lock.release()


def _sqlite_path(store: Store) -> str | None:
    inner = store.inner if isinstance(store, SealedStore) else store
    return inner.path if isinstance(inner, SqliteStore) else None


def _ami_client(config: Config) -> Connect:
    def connect(
        url: str, on_message: Callable[[AmiMessage], Awaitable[None]], on_connect: Callable[[AmiLike], Awaitable[None]]
    ) -> AmiConnection:
        from callhook.sources.ami_client import AmiClient, parse_ami_url

        host, port, user, secret = parse_ami_url(url)
        return AmiClient(
            host,
            port,
            user,
            secret,
            on_message=on_message,
            on_connect=on_connect,
            ping_interval=config.ami_ping_interval,
        )

    return connect


def _pbx_directory(src: PbxSource) -> Directory:
    """A PBX's own directory: its file, with its tenant as the default owner."""
    d = load_directory(src.directory)
    if not src.tenant:
        return d
    if src.directory and d.tenant and d.tenant != src.tenant:
        raise ConfigError(
            f"pbx {src.name}: tenant {src.tenant!r} differs from the tenant {d.tenant!r} "
            f"of its directory {src.directory}"
        )
    data = d.to_mapping()
    data["tenant"] = src.tenant
    return Directory.from_mapping(data)


def _reader(holder: DirectoryHolder) -> Callable[[], Directory]:
    return lambda: holder.current


def _accept(accepter: Accepter) -> Callable[[Sequence[Event]], Awaitable[None]]:
    async def accept(events: Sequence[Event]) -> None:
        await accepter.accept(events)

    return accept


def build(
    config: Config,
    *,
    store: Store | None = None,
    directory: Directory | None = None,
    sender: Sender | None = None,
    clock: Clock | None = None,
    connect: Connect | None = None,
    admin_token: str | None = None,
    policy: RetryPolicy | None = None,
    endpoint_policy: EndpointPolicy | None = None,
    dispatch: DispatcherOptions | None = None,
) -> Hub:
    """The services of one process, from ``config``; the keyword arguments replace a
    part (tests: a memory store, a directory, a clock, a fake AMI connection, quicker
    retries, a circuit breaker or dispatcher tuned for the test)."""
    token = admin_token or config.admin_token or secrets.token_urlsafe(24)
    store = store if store is not None else sealed_store(config)
    clock = clock if clock is not None else Clock(_tz(config.timezone))
    holder = DirectoryHolder(directory if directory is not None else load_directory(config.directory))
    versions = directory_versions(store)
    metrics = Metrics()
    policy = policy if policy is not None else config.retry_policy
    accepter = Accepter(store, encode=dialects.encode, policy=policy, now=time.time)
    sender = sender if sender is not None else _sender(config)
    endpoints = Endpoints(endpoint_policy or EndpointPolicy(concurrency=config.endpoint_concurrency))
    dispatcher = Dispatcher(
        store,
        sender,
        sign=signing.sign,
        encode=dialects.encode,
        policy=policy,
        now=time.time,
        metrics=metrics,
        endpoints=endpoints,
        options=dispatch
        or DispatcherOptions(
            max_inflight=config.dispatch_concurrency,
            lease=config.delivery_lease,
            # expired leases (a process that died mid-send) back to pending within a quarter lease
            sweep_interval=min(30.0, max(1.0, config.delivery_lease / 4)),
            disable_after=config.disable_after_days * 86400.0,
            # SQLite has one process per file: nobody to leave work to (docs/benchmarks.md, "Scale-out")
            feed_lag=math.inf if _sqlite_path(store) is not None else DispatcherOptions().feed_lag,
        ),
    )
    connect = connect if connect is not None else _ami_client(config)
    options = PbxOptions(
        originate_context=config.originate_context,
        originate_variable=config.originate_variable,
        originate_timeout_ms=config.originate_timeout_ms,
        election_poll=config.election_poll,
    )
    pbxes: list[PbxLink] = []
    listed = bool(config.extra.get("pbx"))  # [[pbx]] tables: call ids carry the PBX's name
    for src in pbx_sources(config):
        own: DirectoryHolder = holder
        state: DirectoryState | None = None
        if src.directory or src.tenant:  # a directory of its own, stored under its own scope
            own = DirectoryHolder(_pbx_directory(src))
            state = DirectoryState(versions, _reader(own), own.replace, scope=f"pbx:{src.name}")
        pbxes.append(
            PbxLink(
                src.name,
                src.ami,
                tenant=src.tenant,
                directories=own,
                directory_state=state,
                sink=accepter,
                recordings=RecordingNames(link=recording_linker(config, token)),
                new_id=new_id,
                tz=clock.tz,
                now=clock.now_dt,
                connect=connect,
                options=options,
                call_prefix=f"{src.name}:" if listed else "",
            )
        )
    hub = Hub(
        config=config,
        store=store,
        admin_token=token,
        clock=clock,
        metrics=metrics,
        broadcast=Broadcast(),
        sessions=SessionBook(session_store(store)),
        directories=holder,
        directory_state=DirectoryState(versions, _reader(holder), holder.replace),
        accepter=accepter,
        sender=sender,
        endpoints=endpoints,
        dispatcher=dispatcher,
        ingest=IngestSource(IngestCalls(new_id), _accept(accepter), clock.now_dt, _reader(holder)),
        pbxes=tuple(pbxes),
        lock=ProcessLock(_sqlite_path(store)),
    )
    accepter.on_committed(hub.committed)
    return hub


def sealed_store(config: Config) -> SealedStore:
    """The configured store behind the secrets-at-rest wrapper (:mod:`callhook.store.sealed`)."""
    keys = list(config.extra.get("secret_keys", []))
    if not keys:
        log.warning(
            "secrets at rest: no CALLHOOK_SECRET_KEYS, so webhook passwords and signing secrets are stored "
            "unencrypted in the database; make a key with 'callhook secrets new-key' to encrypt them"
        )
    return SealedStore(open_store(config.database_url), Sealer(keys))

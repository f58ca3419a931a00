"""Who reads a PBX's AMI: exactly one process of a deployment (docs/deployment.md).

On PostgreSQL the reader is elected with a **session-level advisory lock held on a
dedicated connection** (:class:`PgElection`): the process that holds
``pg_advisory_lock(<class>, <hash of the PBX's name>)`` runs the AMI session; the
others poll ``pg_try_advisory_lock`` every ``poll`` seconds and serve the API and
dispatch meanwhile. The lock lives exactly as long as the holder's database session,
so it is released by PostgreSQL itself when the holder dies (kill -9 closes its
socket), when PostgreSQL restarts, or when the connection is cut (TCP keepalives on
the connection make the server notice a silent cut in seconds). No clock, no lease to
renew, no row to clean up. The holder pings its lock connection every ``poll``
seconds; a failed or late ping ends its term at once (the AMI session is stopped), so
it stops reading before another process can hold the lock.

On SQLite there is one process per database file: :class:`FileLock` holds an
exclusive ``flock`` on ``<database>.lock`` for the life of ``serve``, and a second
process on the same file refuses to start with a clear message.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import IO, Any

__all__ = ["ELECTION_CLASS", "AlreadyRunning", "FileLock", "PgElection", "pbx_lock_key"]

log = logging.getLogger(__name__)

# The class key of the AMI reader locks (two-int advisory keys: a key space of their own,
# apart from the store's bigint group locks and its per-event locks).
ELECTION_CLASS = 0x41_4D_49  # "AMI"

Term = Callable[[], Coroutine[Any, Any, None]]


def pbx_lock_key(pbx: str) -> int:
    """The 32-bit lock key of a PBX's name (every process derives the same)."""
    return int.from_bytes(hashlib.blake2b(pbx.encode(), digest_size=4).digest(), "big", signed=True)


class AlreadyRunning(RuntimeError):
    """Another callhook process already serves this SQLite database."""


class FileLock:
    """An exclusive lock on ``<path>.lock``, held until :meth:`release` (or the process ends)."""

    def __init__(self, path: str) -> None:
        self.path = path + ".lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        f = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 -- held for the process's life
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise AlreadyRunning(
                f"the SQLite database is already served by {holder} (lock {self.path}); "
                "SQLite allows one callhook process per database: stop that one, or use PostgreSQL "
                "to run several (docs/deployment.md)"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None


class PgElection:
    """Runs ``term()`` (the AMI session) while this process holds the PBX's lock.

    ``term`` runs until it is cancelled; :meth:`run` loops (connect, wait for the lock,
    hold it while pinging, give it up) until cancelled. ``held`` and ``terms`` are for
    ``/healthz`` and the metrics.
    """

    def __init__(self, url: str, pbx: str, term: Term, *, poll: float = 1.0, ping_timeout: float = 2.0) -> None:
        self.url, self.pbx, self._term = url, pbx, term
        self.key = pbx_lock_key(pbx)
        self.poll, self.ping_timeout = poll, ping_timeout
        self.held = False
        self.terms = 0  # times this process took the AMI session
        self.error = ""  # why the last connection to PostgreSQL ended, for /healthz

    async def run(self) -> None:
        import psycopg

        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=5,
                    application_name=f"callhook ami election {self.pbx}",
                    keepalives=1,
                    keepalives_idle=5,
                    keepalives_interval=2,
                    keepalives_count=2,
                    tcp_user_timeout=int(self.ping_timeout * 3000),
                )
            except (psycopg.Error, OSError) as exc:
                self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                await asyncio.sleep(self.poll)
                continue
            try:
                await self._hold(conn)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                self.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                log.warning("AMI election for %s: connection to PostgreSQL lost: %s", self.pbx, self.error)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), self.ping_timeout)
            await asyncio.sleep(self.poll)

    async def _query(self, conn: object, sql: str, args: tuple[int, ...] = ()) -> object:
        import psycopg

        assert isinstance(conn, psycopg.AsyncConnection)
        async with asyncio.timeout(self.ping_timeout):
            cur = await conn.execute(sql, args)
            row = await cur.fetchone()
        return row[0] if row else None

    async def _hold(self, conn: object) -> None:
        while True:  # polled, not blocked on: a waiting session stays checkable and cancellable
            if await self._query(conn, "SELECT pg_try_advisory_lock(%s, %s)", (ELECTION_CLASS, self.key)):
                break
            await asyncio.sleep(self.poll)  # the holder's session is alive: ask again
        self.held, self.terms, self.error = True, self.terms + 1, ""
        log.info("AMI election for %s: this process now reads the PBX (term %d)", self.pbx, self.terms)
        term = asyncio.create_task(self._term(), name=f"ami-{self.pbx}")
        try:
            while not term.done():
                await asyncio.wait({term}, timeout=self.poll)
                if not term.done():
                    await self._query(conn, "SELECT 1")  # the session, and so the lock, is alive
            term.result()  # the session ended by itself (a refused login): raise it
        finally:
            self.held = False
            if not term.done():
                term.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await term
            log.info("AMI election for %s: this process no longer reads the PBX", self.pbx)

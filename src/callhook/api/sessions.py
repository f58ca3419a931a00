"""Browser sessions: an API token exchanged once for an opaque cookie, kept in the store.

A browser cannot put an ``Authorization`` header on an ``EventSource`` (the live
stream) or on a download link, so the dashboard signs in with ``POST`` of the token
and gets back a session: a random id (the ``callhook_session`` cookie, HttpOnly,
SameSite=Strict, no Max-Age: it ends with the browser session) mapped here to the
principal, and a CSRF value the page sends back in the ``X-Callhook-CSRF`` header
(or, for a GET that cannot carry a header, the ``csrf`` query parameter). The token
itself is never stored, neither here nor in the browser.

Sessions and codes live in the store (:mod:`callhook.store.sessions`: memory, SQLite
or PostgreSQL), so every process on one database knows them: a session opened through
one process behind a load balancer works on the others, and a restart signs nobody
out. The cookie's value is stored only as its SHA-256. A session expires after
``idle`` seconds without a request (the last request is written at most every
``touch_every`` seconds, so a busy page is not a write per request) and after
``lifetime`` seconds in any case; it ends at once when its API token is revoked
(:meth:`SessionBook.end_token`, and the token check in :mod:`callhook.api.auth`).

One-time codes (:meth:`SessionBook.issue_code`) are for a sign-in link made on the
hub's machine (``callhook demo``, ``callhook dashboard-link``): short-lived,
single-use (taken from the store with one atomic delete, so a code used through one
process is refused by every other), and not the API token. A code is 16 characters (96 random bits): enough
against guessing for something that lives 5 minutes and works once, and short
enough that the link fits one line of an 80-column terminal.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from callhook.api.auth import Principal
from callhook.store.sessions import CodeRecord, SessionRecord, SessionStore, session_store

__all__ = ["COOKIE", "CSRF_HEADER", "Session", "SessionBook"]

COOKIE = "callhook_session"
CSRF_HEADER = "X-Callhook-CSRF"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str
    name: str
    created: float
    seen: float


def _session(r: SessionRecord) -> Session:
    p = Principal(r.tenant, read_only=r.read_only, token_id=r.token_id, actor=r.actor)
    return Session(p, r.csrf, r.name, r.created_at, r.seen_at)


class SessionBook:
    """Session id -> :class:`Session`, and one-time code -> principal, in ``store``; bounded in size."""

    def __init__(
        self,
        store: SessionStore | None = None,
        *,
        idle: float = 8 * 3600,
        lifetime: float = 24 * 3600,
        code_ttl: float = 300,
        max_sessions: int = 10_000,
        touch_every: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store: SessionStore = store if store is not None else session_store(None)
        self.idle, self.lifetime, self.code_ttl = idle, lifetime, code_ttl
        self.max_sessions = max_sessions
        self.touch_every = min(touch_every, idle / 10)
        self._clock = clock  # wall clock: the processes sharing the store compare their times

    def _alive(self, r: SessionRecord, now: float) -> bool:
        return now - r.seen_at < self.idle and now - r.created_at < self.lifetime

    async def _prune(self, now: float) -> None:
        await self.store.prune(seen_before=now - self.idle, created_before=now - self.lifetime, now=now)

    async def open(self, principal: Principal, name: str = "") -> tuple[str, Session]:
        """A new session: (its id, for the cookie; the session with its CSRF value)."""
        now = self._clock()
        await self._prune(now)
        sid = secrets.token_urlsafe(32)
        p = principal
        record = SessionRecord(
            _hash(sid), secrets.token_urlsafe(24), p.tenant, p.read_only, p.token_id, p.actor, name, now, now
        )
        await self.store.add_session(record, keep=self.max_sessions)
        return sid, _session(record)

    async def get(self, sid: str, *, touch: bool = True) -> Session | None:
        if not sid:
            return None
        key = _hash(sid)
        r = await self.store.get_session(key)
        if r is None:
            return None
        now = self._clock()
        if not self._alive(r, now):
            await self.store.delete_session(key)
            return None
        if touch and now - r.seen_at >= self.touch_every:
            await self.store.touch_session(key, now)
        return _session(r)

    async def close(self, sid: str) -> bool:
        return bool(sid) and await self.store.delete_session(_hash(sid))

    async def end_token(self, token_id: str) -> int:
        """End every session signed in with the API token ``token_id`` (it was revoked)."""
        return await self.store.delete_token_sessions(token_id) if token_id else 0

    async def issue_code(self, principal: Principal, name: str = "") -> str:
        """A single-use sign-in code, valid for ``code_ttl`` seconds."""
        now = self._clock()
        await self._prune(now)
        code = secrets.token_urlsafe(12)
        await self.store.add_code(CodeRecord(_hash(code), principal.tenant, name, now + self.code_ttl))
        return code

    async def code_valid(self, code: str) -> bool:
        """Whether ``code`` would still sign in (not used, not expired)."""
        return bool(code) and await self.store.code_valid(_hash(code), self._clock())

    async def redeem(self, code: str) -> tuple[str, Session] | None:
        """Exchange a code for a new session; a code works once, and only before it expires."""
        found = await self.store.take_code(_hash(code), self._clock()) if code else None
        if found is None or found.expires_at <= self._clock():
            return None
        return await self.open(Principal(found.tenant), found.name)

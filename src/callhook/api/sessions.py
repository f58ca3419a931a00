"""Browser sessions: an API token exchanged once for an opaque cookie, kept in memory.

A browser cannot put an ``Authorization`` header on an ``EventSource`` (the live
stream) or on a download link, so the dashboard signs in with ``POST`` of the token
and gets back a session: a random id (the ``callhook_session`` cookie, HttpOnly,
SameSite=Strict, no Max-Age: it ends with the browser session) mapped here to the
principal, and a CSRF value the page sends back in the ``X-Callhook-CSRF`` header
(or, for a GET that cannot carry a header, the ``csrf`` query parameter). The token
itself is never stored, neither here nor in the browser.

Sessions live in this process only (a restart signs everybody out) and expire after
``idle`` seconds without a request, and after ``lifetime`` seconds in any case.

One-time codes (:meth:`SessionBook.issue_code`) are for a sign-in link made on the
hub's machine (``callhook demo``, ``callhook dashboard-link``): short-lived,
single-use, and not the API token. A code is 16 characters (96 random bits): enough
against guessing for something that lives 5 minutes and works once, and short
enough that the link fits one line of an 80-column terminal.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from callhook.api.auth import Principal

__all__ = ["COOKIE", "CSRF_HEADER", "Session", "SessionBook"]

COOKIE = "callhook_session"
CSRF_HEADER = "X-Callhook-CSRF"


@dataclass(slots=True)
class Session:
    principal: Principal
    csrf: str
    name: str
    created: float
    seen: float


@dataclass(frozen=True, slots=True)
class _Code:
    principal: Principal
    name: str
    expires: float


class SessionBook:
    """Session id -> :class:`Session`, and one-time code -> principal; bounded in size."""

    def __init__(
        self,
        *,
        idle: float = 8 * 3600,
        lifetime: float = 24 * 3600,
        code_ttl: float = 300,
        max_sessions: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle, self.lifetime, self.code_ttl = idle, lifetime, code_ttl
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._codes: dict[str, _Code] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def _alive(self, s: Session, now: float) -> bool:
        return now - s.seen < self.idle and now - s.created < self.lifetime

    def _prune(self, now: float) -> None:
        for sid in [k for k, s in self._sessions.items() if not self._alive(s, now)]:
            del self._sessions[sid]
        for code in [k for k, c in self._codes.items() if c.expires <= now]:
            del self._codes[code]
        while len(self._sessions) >= self.max_sessions:  # the least recently used go first
            del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].seen)]

    def open(self, principal: Principal, name: str = "") -> tuple[str, Session]:
        """A new session: (its id, for the cookie; the session with its CSRF value)."""
        now = self._clock()
        self._prune(now)
        sid = secrets.token_urlsafe(32)
        session = Session(principal, secrets.token_urlsafe(24), name, now, now)
        self._sessions[sid] = session
        return sid, session

    def get(self, sid: str, *, touch: bool = True) -> Session | None:
        s = self._sessions.get(sid) if sid else None
        if s is None:
            return None
        now = self._clock()
        if not self._alive(s, now):
            del self._sessions[sid]
            return None
        if touch:
            s.seen = now
        return s

    def close(self, sid: str) -> bool:
        return self._sessions.pop(sid, None) is not None

    def issue_code(self, principal: Principal, name: str = "") -> str:
        """A single-use sign-in code, valid for ``code_ttl`` seconds."""
        now = self._clock()
        self._prune(now)
        code = secrets.token_urlsafe(12)
        self._codes[code] = _Code(principal, name, now + self.code_ttl)
        return code

    def code_valid(self, code: str) -> bool:
        """Whether ``code`` would still sign in (not used, not expired)."""
        found = self._codes.get(code) if code else None
        return found is not None and found.expires > self._clock()

    def redeem(self, code: str) -> tuple[str, Session] | None:
        """Exchange a code for a new session; a code works once, and only before it expires."""
        found = self._codes.pop(code, None) if code else None
        if found is None or found.expires <= self._clock():
            return None
        return self.open(found.principal, found.name)

"""A one-time sign-in link for the hub's own machine (``callhook demo`` prints one).

The link carries a random code, not the API token: it is good for one visit within
``SessionBook.code_ttl`` seconds (5 minutes), and the visit
(``GET /dashboard/signin?code=...``) exchanges it for a session cookie and
redirects to the dashboard. A used or expired code is refused.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from callhook.api.auth import Principal
from callhook.api.sessions import SessionBook

__all__ = ["issue_link"]


def issue_link(hub: Any, base_url: str, *, tenant: str | None = None, name: str = "") -> str:
    """``{base_url}/dashboard/signin?code=...`` signing in as the admin (or as ``tenant``).

    ``base_url`` is where the browser reaches the hub, e.g. ``http://127.0.0.1:8080``.
    The hub's ``sessions`` book is created when missing, and the same book must serve
    the API app (``create_app`` uses ``hub.sessions``).
    """
    book = getattr(hub, "sessions", None)
    if book is None:
        book = hub.sessions = SessionBook()
    code = book.issue_code(Principal(tenant), name)
    return f"{base_url.rstrip('/')}/dashboard/signin?{urlencode({'code': code})}"

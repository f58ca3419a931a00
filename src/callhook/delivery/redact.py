"""What an attempt record may keep of a request: no credentials, no secrets.

URLs lose their user:password part and the values of query parameters whose name
looks secret; headers whose name looks secret keep their name and lose their value.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["REDACTED", "redact_headers", "redact_url"]

REDACTED = "[redacted]"
_SECRET_NAME = re.compile(r"auth|token|secret|passw|pwd|key|cookie|session|credential", re.IGNORECASE)
_KEEP = frozenset({"webhook-signature", "webhook-id", "webhook-timestamp"})


def _secret(name: str) -> bool:
    return name.lower() not in _KEEP and _SECRET_NAME.search(name) is not None


def redact_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    return tuple((k, REDACTED if _secret(k) else v) for k, v in headers)


def redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return REDACTED
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(k) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _secret(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

"""A subscription (webhook): where to send which events, in which dialect.

Pure data. The API validates input into it, the store persists it, routing
matches events to it, the dialect encoders read it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from callhook.core.retry import RetryOverride

__all__ = ["BasicAuth", "Dialect", "Filters", "Subscription", "check_secret", "check_url_template"]


class Dialect(enum.StrEnum):
    VOIPEX = "voipex"
    PBX2IS = "pbx2is"
    TELPHIN = "telphin"
    WEBITEL = "webitel"
    CALLHOOK = "callhook"


DEFAULT_METHOD: Mapping[Dialect, str] = {
    Dialect.VOIPEX: "POST",
    Dialect.PBX2IS: "GET",
    Dialect.TELPHIN: "POST",
    Dialect.WEBITEL: "POST",
    Dialect.CALLHOOK: "POST",
}


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Filters:
    """Only events of this queue / extension / agent login (empty: any)."""

    queue: str = ""
    extension: str = ""
    agent: str = ""


@dataclass(frozen=True, slots=True)
class Subscription:
    """``events`` holds canonical event types (strings); empty means every type
    the dialect carries. ``secret`` turns on the Standard Webhooks signature
    (``whsec_<base64 key>``, the Standard Webhooks form, or any other text used as its UTF-8 bytes)."""

    id: str
    url: str
    dialect: Dialect
    method: str = "POST"
    events: frozenset[str] = frozenset()
    url_template: str = ""
    auth: BasicAuth | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str = ""
    filters: Filters = field(default_factory=Filters)
    tenant: str = ""
    enabled: bool = True
    description: str = ""
    # Telphin's own routes scope a subscription to one agent; "" elsewhere.
    telphin_client: str = ""
    telphin_agent_type: str = ""
    telphin_agent_id: str = ""
    # Telphin (seed 004: "with GET the data is in the request header"): the name of the
    # header that carries a GET's urlencoded form instead of the query string; "" = the
    # query string (as the seed's PHP example reads it). docs/dialects.md, telphin.
    get_data_header: str = ""
    # This subscription's own retry schedule / attempts / lifetimes; None: the installation's.
    retry: RetryOverride | None = None
    # --- per-subscription delivery limits (issue 15; keep these last) ---
    # At most this many of its requests in flight at once (0: only the endpoint's limit),
    # and at most this many requests per second, a token bucket of ``limit_burst``
    # (0: no rate limit; burst 0: one second's worth). docs/delivery.md, "Limits".
    limit_concurrency: int = 0
    limit_rps: float = 0.0
    limit_burst: int = 0

    def __hash__(self) -> int:
        return hash(self.id)


# The Standard Webhooks key length (https://www.standardwebhooks.com: 24 to 64 bytes).
SECRET_BYTES = (24, 64)
_WHSEC = "whsec_"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")  # as the pbx2is encoder fills them


def check_secret(secret: str) -> str:
    """``secret`` if it is a usable signing secret, else ValueError saying why.

    ``whsec_<base64>`` (the Standard Webhooks form) must decode to 24 to 64 bytes;
    any other text (a receiver's shared secret taken as UTF-8 bytes) must be
    printable, without spaces at its ends. Empty means "do not sign".
    """
    if not secret:
        return secret
    if secret.startswith(_WHSEC):
        raw = secret[len(_WHSEC) :]
        try:
            key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("the part after whsec_ is not valid base64") from None
        lo, hi = SECRET_BYTES
        if not lo <= len(key) <= hi:
            raise ValueError(f"a whsec_ key must decode to {lo} to {hi} bytes, not {len(key)}")
        return secret
    if not secret.isprintable() or secret != secret.strip():
        raise ValueError("must be printable text without spaces at its ends, or whsec_<base64>")
    return secret


def check_url_template(template: str, names: Set[str]) -> str:
    """``template`` if each ``{placeholder}`` in it is one of ``names``, else ValueError naming it."""
    for m in _PLACEHOLDER.finditer(template):
        if m.group(1) not in names:
            raise ValueError(f"unknown placeholder {{{m.group(1)}}}; known: {', '.join(sorted(names))}")
    return template

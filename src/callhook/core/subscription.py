"""A subscription (webhook): where to send which events, in which dialect.

Pure data. The API validates input into it, the store persists it, routing
matches events to it, the dialect encoders read it.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from callhook.core.retry import RetryOverride

__all__ = [
    "MASK_FIELDS",
    "MASK_MODES",
    "ORDERINGS",
    "BasicAuth",
    "Dialect",
    "Filters",
    "Masking",
    "Renderer",
    "Subscription",
    "Template",
    "check_secret",
    "check_url_template",
]


ORDERINGS = ("arrival", "call")


class Dialect(enum.StrEnum):
    VOIPEX = "voipex"
    PBX2IS = "pbx2is"
    TELPHIN = "telphin"
    WEBITEL = "webitel"
    CALLHOOK = "callhook"
    TEMPLATE = "template"


DEFAULT_METHOD: Mapping[Dialect, str] = {
    Dialect.VOIPEX: "POST",
    Dialect.PBX2IS: "GET",
    Dialect.TELPHIN: "POST",
    Dialect.WEBITEL: "POST",
    Dialect.CALLHOOK: "POST",
    Dialect.TEMPLATE: "POST",
}


@dataclass(frozen=True, slots=True)
class BasicAuth:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Filters:
    """Only events of these queues / extensions / agent logins / numbers / directions /
    tenants (each empty: any). The single-value fields (the first contract) and the
    sets add up: ``queue="sales", queues={"support"}`` takes either queue. Numbers
    (``numbers`` exactly, ``number_prefixes`` as prefixes) are compared by their digits
    only and match the caller or the called number (the DID of an incoming call)."""

    queue: str = ""
    extension: str = ""
    agent: str = ""
    queues: frozenset[str] = frozenset()
    extensions: frozenset[str] = frozenset()
    agents: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    number_prefixes: frozenset[str] = frozenset()
    directions: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()

    def all_of(self, name: str) -> frozenset[str]:
        """``queue``/``extension``/``agent``: the single value and the set together."""
        one: str = getattr(self, name)
        many: frozenset[str] = getattr(self, name + "s")
        return many | {one} if one else many


# Number masking: which numbers ("cdr": the call record's source and destination;
# "agent": a remote agent's own phone).
MASK_FIELDS = ("caller", "called", "cdr", "agent")
MASK_MODES = ("last_digits", "hash")


@dataclass(frozen=True, slots=True)
class Masking:
    """Which numbers a subscription's requests hide, and how (:mod:`callhook.core.masking`).

    ``last_digits`` keeps the last ``keep`` digits; ``hash`` replaces a number by a
    token from HMAC-SHA256 under ``key`` (this subscription's own, secret), so one
    number always gives one token for this subscription and a different one elsewhere."""

    fields: frozenset[str]
    mode: str = "last_digits"
    keep: int = 4
    key: str = ""


#: ``render(source, context) -> text``: the template engine, given to a Template by
#: the adapter that builds it (the core imports no engine; ``callhook.templating``).
Renderer = Callable[[str, Mapping[str, Any]], str]


@dataclass(frozen=True, slots=True)
class Template:
    """The ``template`` dialect's request: each part a template over the canonical
    event (:mod:`callhook.core.dialects.template`); ``url`` "" sends to the webhook's URL."""

    body: str = ""
    method: str = "POST"
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    render: Renderer | None = field(default=None, compare=False, repr=False)


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
    # Number masking of this subscription's requests; None: numbers as they are.
    masking: Masking | None = None
    # Key rotation: the secret before the last rotation, still signing until this unix time.
    previous_secret: str = ""
    previous_secret_until: float | None = None
    # The template dialect's request parts; None for every other dialect.
    template: Template | None = None
    # "arrival": the deliveries go out one after the other in the order the events were
    # accepted, across calls too (as a PBX posting its own webhooks does); "call": calls
    # in parallel, each in its own order (receivers that order by ``seq``).
    ordering: str = "arrival"
    # --- per-subscription delivery limits (issue 15; keep these last) ---
    # At most this many of its requests in flight at once (0: only the endpoint's limit),
    # and at most this many requests per second, a token bucket of ``limit_burst``
    # (0: no rate limit; burst 0: one second's worth). docs/delivery.md, "Limits".
    limit_concurrency: int = 0
    limit_rps: float = 0.0
    limit_burst: int = 0

    def __hash__(self) -> int:
        return hash(self.id)

    def signing_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets a request sent at ``now`` is signed with: the current one, and
        the previous one while its overlap lasts."""
        out = (self.secret,) if self.secret else ()
        if self.previous_secret and self.previous_secret_until is not None and now < self.previous_secret_until:
            out = (*out, self.previous_secret)
        return out


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

"""A subscription (webhook): where to send which events, in which dialect.

Pure data. The API validates input into it, the store persists it, routing
matches events to it, the dialect encoders read it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from callhook.core.retry import RetryOverride

__all__ = ["BasicAuth", "Dialect", "Filters", "Subscription"]


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

    def __hash__(self) -> int:
        return hash(self.id)

"""Builders for the AMI actions callhook sends: pure values, serialised by the codec.

Each function returns an :class:`Action` (a name and ordered headers, no ActionID: the
client adds one when it sends). Builders check what Asterisk would otherwise reject
late or misread (empty channel, a comma in an Originate variable, CR/LF anywhere is
left to :func:`~callhook.core.ami.codec.serialize_action`).

Event filters
-------------
Asterisk 20.10+/21.5+/22+ (and 23) understand *advanced* filters on the ``Filter``
action: ``Operation: Add``, ``MatchCriteria: action(include|exclude),name(Event),
header(Key),method(none|regex|exact|starts_with|ends_with|contains)`` and the pattern
in ``Filter``. An event passes when it matches any include filter (if there are
include filters) and no exclude filter. :func:`noise_filters` builds the set callhook
uses: everything except ``VarSet`` is included, ``VarSet`` only for the variables the
tracker reads (inherited ``_``/``__`` ones, which it copies into the call, the named
ones — the custom field, click-to-dial's ``C2D_EXTEN``, AMD's ``AMDSTATUS`` — and the
``HASH(SIP_CAUSE,<channel>)`` entries a SIP channel driver sets), and chatty events
(``Newexten``, ``DeviceStateChange``, ``RTCP*``) are excluded. ``ExtensionStatus`` passes:
it is the extensions' presence. Regular expressions are POSIX extended
(Asterisk uses ``regcomp``), so "everything but VarSet" is spelt without look-ahead.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from callhook.core.ami.codec import serialize_action

__all__ = [
    "NOISE_EVENTS",
    "NOISE_PREFIXES",
    "TRACKED_VARIABLES",
    "TRACKED_VARIABLE_PREFIXES",
    "Action",
    "EventFilter",
    "challenge",
    "core_show_channels",
    "events",
    "filter_add",
    "hangup",
    "login",
    "login_md5",
    "logoff",
    "noise_filters",
    "not_equal_regex",
    "originate",
    "ping",
    "queue_add",
    "queue_pause",
    "queue_remove",
    "queue_status",
    "status",
]

NOISE_EVENTS = ("Newexten", "DeviceStateChange")
NOISE_PREFIXES = ("RTCP",)  # RTCPSent, RTCPReceived
TRACKED_VARIABLES = ("ipbx_custom_field", "C2D_EXTEN", "AMDSTATUS")  # VarSet kept for these (any __ prefix)
TRACKED_VARIABLE_PREFIXES = ("~HASH~SIP_CAUSE~",)  # VarSet kept for names starting so

_NAME = re.compile(r"[A-Za-z0-9_]+")
_METHODS = frozenset({"none", "regex", "exact", "starts_with", "ends_with", "contains"})


@dataclass(frozen=True, slots=True)
class Action:
    """An AMI action to send: ``Action: name`` plus ordered headers (keys may repeat)."""

    name: str
    headers: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str = "") -> str:
        low = key.lower()
        return next((v for k, v in self.headers if k.lower() == low), default)

    def to_bytes(self, action_id: str | None = None) -> bytes:
        return serialize_action(self.name, self.headers, action_id)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """One advanced event filter (see the module docstring)."""

    include: bool
    name: str = ""  # event name, exact
    header: str = ""  # match the value of this header instead of the whole event
    method: str = "none"
    pattern: str = ""

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"unknown filter method {self.method!r}")
        if (self.method == "none") != (not self.pattern):
            raise ValueError("a filter needs a pattern exactly when its method is not 'none'")
        if not (self.name or self.header or self.pattern):
            raise ValueError("a filter needs a name, a header or a pattern")
        for part in (self.name, self.header):
            if part and not _NAME.fullmatch(part):
                raise ValueError(f"invalid event or header name in a filter: {part!r}")

    @property
    def criteria(self) -> str:
        parts = [f"action({'include' if self.include else 'exclude'})"]
        if self.name:
            parts.append(f"name({self.name})")
        if self.header:
            parts.append(f"header({self.header})")
        parts.append(f"method({self.method})")
        return ",".join(parts)


def not_equal_regex(word: str) -> str:
    """A POSIX ERE matching any whole string except ``word`` (and its proper prefixes)."""
    if not _NAME.fullmatch(word):
        raise ValueError(f"invalid word {word!r}")
    alts = ["[^" + word[0] + "]"]
    alts += [word[:i] + "[^" + word[i] + "]" for i in range(1, len(word))]
    alts.append(word + ".")
    return "^(" + "|".join(alts) + ")"


def noise_filters(
    keep_variables: Iterable[str] = TRACKED_VARIABLES,
    drop_events: Iterable[str] = NOISE_EVENTS,
    drop_prefixes: Iterable[str] = NOISE_PREFIXES,
    *,
    keep_inherited: bool = True,
    keep_prefixes: Iterable[str] = TRACKED_VARIABLE_PREFIXES,
) -> tuple[EventFilter, ...]:
    """The filters callhook installs after login (the lists are parameters).

    ``VarSet`` passes for the named variables (with or without ``_``/``__``) and, with
    ``keep_inherited``, for every inherited variable (a name starting with ``_``).
    """
    keep = list(keep_variables)
    for var in keep:
        if not _NAME.fullmatch(var):
            raise ValueError(f"invalid variable name {var!r}")
    out = [EventFilter(True, header="Event", method="regex", pattern=not_equal_regex("VarSet"))]
    alternatives = ["_"] if keep_inherited else []  # any inherited variable
    if keep:
        names = "|".join(v.lstrip("_") for v in keep)
        alternatives.append(f"_*({names})$")
    for prefix in keep_prefixes:
        if not re.fullmatch(r"[A-Za-z0-9_~]+", prefix):
            raise ValueError(f"invalid variable prefix {prefix!r}")
        alternatives.append(prefix)
    if alternatives:
        out.append(EventFilter(True, "VarSet", "Variable", "regex", "^(" + "|".join(alternatives) + ")"))
    out += [EventFilter(False, name) for name in drop_events]
    out += [EventFilter(False, header="Event", method="starts_with", pattern=p) for p in drop_prefixes]
    return tuple(out)


def filter_add(flt: EventFilter) -> Action:
    return Action("Filter", (("Operation", "Add"), ("MatchCriteria", flt.criteria), ("Filter", flt.pattern)))


def login(username: str, secret: str, events_mask: str = "on") -> Action:
    return Action("Login", (("Username", username), ("Secret", secret), ("Events", events_mask)))


def challenge() -> Action:
    return Action("Challenge", (("AuthType", "MD5"),))


def login_md5(username: str, challenge_value: str, secret: str, events_mask: str = "on") -> Action:
    """Login with ``Key = md5(challenge + secret)``: the secret never crosses the wire."""
    key = hashlib.md5((challenge_value + secret).encode(), usedforsecurity=False).hexdigest()
    return Action("Login", (("AuthType", "MD5"), ("Username", username), ("Key", key), ("Events", events_mask)))


def logoff() -> Action:
    return Action("Logoff")


def ping() -> Action:
    return Action("Ping")


def events(mask: str) -> Action:
    """``on``, ``off`` or a comma list of classes (``call,agent,cdr``)."""
    return Action("Events", (("EventMask", mask),))


def core_show_channels() -> Action:
    return Action("CoreShowChannels")


def queue_status(queue: str = "", member: str = "") -> Action:
    return Action("QueueStatus", _present(("Queue", queue), ("Member", member)))


def status(channel: str = "") -> Action:
    return Action("Status", _present(("Channel", channel)))


def originate(
    channel: str,
    context: str,
    exten: str,
    *,
    priority: int = 1,
    caller_id: str = "",
    timeout_ms: int = 30_000,
    variables: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    run_async: bool = True,
) -> Action:
    """Click-to-dial: ring ``channel``; once answered it continues at ``exten@context``."""
    _require(channel=channel, context=context, exten=exten)
    if priority < 1 or timeout_ms < 1:
        raise ValueError("priority and timeout_ms must be positive")
    headers = [("Channel", channel), ("Context", context), ("Exten", exten), ("Priority", str(priority))]
    if caller_id:
        headers.append(("CallerID", caller_id))
    headers.append(("Timeout", str(timeout_ms)))
    pairs = variables.items() if isinstance(variables, Mapping) else variables
    for name, value in pairs:
        if not _NAME.fullmatch(name) or "," in value:
            raise ValueError(f"Originate variable {name!r}: the name must be [A-Za-z0-9_]+ and the value hold no ','")
        headers.append(("Variable", f"{name}={value}"))
    headers.append(("Async", "true" if run_async else "false"))
    return Action("Originate", tuple(headers))


def hangup(channel: str, cause: int | None = None) -> Action:
    _require(channel=channel)
    return Action("Hangup", (("Channel", channel), *(() if cause is None else (("Cause", str(cause)),))))


def queue_add(
    queue: str,
    interface: str,
    *,
    member_name: str = "",
    paused: bool = False,
    state_interface: str = "",
    penalty: int | None = None,
) -> Action:
    _require(queue=queue, interface=interface)
    headers = [("Queue", queue), ("Interface", interface)]
    headers += _present(("MemberName", member_name), ("StateInterface", state_interface))
    if penalty is not None:
        headers.append(("Penalty", str(penalty)))
    headers.append(("Paused", "true" if paused else "false"))
    return Action("QueueAdd", tuple(headers))


def queue_remove(queue: str, interface: str) -> Action:
    _require(queue=queue, interface=interface)
    return Action("QueueRemove", (("Queue", queue), ("Interface", interface)))


def queue_pause(interface: str, paused: bool, *, queue: str = "", reason: str = "") -> Action:
    """Pause or unpause ``interface`` in ``queue`` (in every queue when ``queue`` is empty)."""
    _require(interface=interface)
    headers = [("Interface", interface), ("Paused", "true" if paused else "false")]
    headers += _present(("Queue", queue), ("Reason", reason))
    return Action("QueuePause", tuple(headers))


def _present(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in pairs if v)


def _require(**values: str) -> None:
    for key, value in values.items():
        if not value.strip():
            raise ValueError(f"{key} must not be empty")

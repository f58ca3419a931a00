"""Further IS2PBX actions (seed 003: "further requests as the customer wishes"): a
configurable mapping from a named request to one AMI action.

A mapped action is ``name -> AMI action + headers``; header values are templates whose
``{placeholders}`` are filled per request:

==============  ==============================================================
``{exten}``     the extension the request names (checked against the directory
                and the caller's tenant by the API)
``{interface}`` its device (``IAX2/20``: the directory's ``channel``)
``{channel}``   its live channel (``IAX2/20-0000001a``), asked of the PBX
                (``CoreShowChannels``; the one that is up, else the newest)
``{peer}``      the channel bridged to it (the other party); needs a call
``{<param>}``   a request parameter the entry declares, checked by its pattern
``{<const>}``   a constant of the entry (a dial plan context, a parking lot)
==============  ==============================================================

The defaults (:data:`DEFAULTS`; docs/api.md lists them) give ``transfer`` (Asterisk's
``BlindTransfer`` of the extension's call to ``target``), ``attended_transfer``
(``Atxfer``), ``redirect`` (``Redirect`` of the extension's own channel), ``park``
(``Park`` of the other party, back to the extension on time-out) and the agent state
``agent_penalty`` (``QueuePenalty``) and ``agent_ringinuse``
(``QueueMemberRingInUse``). A configuration (TOML ``[actions.<name>]``) adds entries
or replaces them; :func:`parse_mapping` validates it and names the field at fault.
Only AMI actions that act on one call or agent are allowed (:data:`ALLOWED`):
never ``Command``, ``Originate`` (that is ``dial``), configuration or module actions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callhook.core.ami.actions import Action

__all__ = ["ALLOWED", "DEFAULTS", "MappedAction", "MappingError", "Param", "parse_mapping", "render"]

#: AMI actions a mapping may name (case-insensitive), each acting on one call or agent
ALLOWED = frozenset(
    {
        "atxfer",
        "blindtransfer",
        "cancelatxfer",
        "hangup",
        "mixmonitor",
        "mixmonitormute",
        "park",
        "playdtmf",
        "queuememberringinuse",
        "queuepause",
        "queuepenalty",
        "redirect",
        "sendtext",
        "stopmixmonitor",
    }
)
#: names the built-in routes already take
RESERVED = frozenset({"dial", "hangup", "agent", "login", "logout", "pause", "unpause"})
BUILTIN = frozenset({"exten", "interface", "channel", "peer"})
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HEADER = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
NUMBER = r"[0-9*#+]{1,32}"


class MappingError(ValueError):
    """An action mapping that is not valid; the message names the field."""


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    pattern: str = NUMBER
    default: str | None = None  # None: required

    def check(self, value: str | None) -> str:
        if value is None or value == "":
            if self.default is None:
                raise ValueError(f"{self.name}: required")
            return self.default
        if not re.fullmatch(self.pattern, value):
            raise ValueError(f"{self.name}: {value[:40]!r} does not match {self.pattern}")
        return value


@dataclass(frozen=True, slots=True)
class MappedAction:
    name: str
    action: str
    headers: tuple[tuple[str, str], ...]
    params: tuple[Param, ...] = ()
    consts: Mapping[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def placeholders(self) -> frozenset[str]:
        return frozenset(m for _, v in self.headers for m in _PLACEHOLDER.findall(v))

    @property
    def needs_channel(self) -> bool:
        return bool(self.placeholders & {"channel", "peer"})


def render(entry: MappedAction, values: Mapping[str, str]) -> Action:
    """The AMI action for one request; ``values`` has the built-ins and checked params.

    A header whose template is only an optional placeholder that came out empty is
    left out (``Queue: {queue}`` with no queue: every queue).
    """
    filled = {**entry.consts, **values}
    headers = []
    for name, template in entry.headers:
        value = _PLACEHOLDER.sub(lambda m: filled.get(m.group(1), ""), template)
        if value == "" and _PLACEHOLDER.fullmatch(template):
            continue
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"{name}: a value may not hold a line break")
        headers.append((name, value))
    return Action(entry.action, tuple(headers))


def _entry(name: str, raw: Any) -> MappedAction:
    where = f"actions.{name}"
    if not _NAME.fullmatch(name) or name in RESERVED:
        raise MappingError(
            f"{where}: a name is lower-case letters, digits and _, and not {', '.join(sorted(RESERVED))}"
        )
    if not isinstance(raw, Mapping):
        raise MappingError(f"{where}: expected a table")
    unknown = set(raw) - {"action", "headers", "params", "consts", "description"}
    if unknown:
        raise MappingError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    action = raw.get("action")
    if not isinstance(action, str) or action.lower() not in ALLOWED:
        raise MappingError(f"{where}.action: one of {', '.join(sorted(ALLOWED))}")
    headers = raw.get("headers")
    if not isinstance(headers, Mapping) or not headers:
        raise MappingError(f"{where}.headers: expected a table of AMI header = template")
    for k, v in headers.items():
        if not isinstance(k, str) or not _HEADER.fullmatch(k) or k.lower() in ("action", "actionid"):
            raise MappingError(f"{where}.headers.{k}: not an AMI header name")
        if not isinstance(v, str) or any(c in v for c in "\r\n\0"):
            raise MappingError(f"{where}.headers.{k}: expected text on one line")
    params = []
    for pname, spec in dict(raw.get("params", {})).items():
        params.append(_param(f"{where}.params.{pname}", pname, spec))
    consts = raw.get("consts", {})
    if not isinstance(consts, Mapping) or not all(isinstance(v, str) for v in consts.values()):
        raise MappingError(f"{where}.consts: expected a table of name = text")
    entry = MappedAction(
        name=name,
        action=action,
        headers=tuple(headers.items()),
        params=tuple(params),
        consts=dict(consts),
        description=str(raw.get("description", "")),
    )
    known = BUILTIN | {p.name for p in params} | set(consts)
    missing = entry.placeholders - known
    if missing:
        raise MappingError(f"{where}.headers: unknown placeholder {{{sorted(missing)[0]}}}")
    return entry


def _param(where: str, name: str, spec: Any) -> Param:
    if not _NAME.fullmatch(name) or name in BUILTIN:
        raise MappingError(f"{where}: a parameter name is lower-case, not {', '.join(sorted(BUILTIN))}")
    if not isinstance(spec, Mapping):
        raise MappingError(f"{where}: expected a table (pattern, default)")
    pattern = spec.get("pattern", NUMBER)
    try:
        compiled = re.compile(pattern)
    except (re.error, TypeError):
        raise MappingError(f"{where}.pattern: not a regular expression") from None
    if any(compiled.fullmatch(probe) for probe in ("\n", "\r", "\0", "a\r\nb")):
        raise MappingError(f"{where}.pattern: must not match a line break")
    default = spec.get("default")
    if default is not None and (not isinstance(default, str) or (default and not compiled.fullmatch(default))):
        raise MappingError(f"{where}.default: must match the pattern (or be empty: optional)")
    return Param(name, pattern, default)


def parse_mapping(data: Any, *, base: Mapping[str, MappedAction] | None = None) -> dict[str, MappedAction]:
    """The defaults (or ``base``) with the configured entries added or replacing them."""
    out = dict(DEFAULTS if base is None else base)
    if data is None:
        return out
    if not isinstance(data, Mapping):
        raise MappingError("actions: expected a table of [actions.<name>]")
    for name, raw in data.items():
        out[str(name)] = _entry(str(name), raw)
    return out


_TARGET = {"target": {"pattern": NUMBER}}
_CONTEXT = {"context": "from-internal"}
DEFAULTS: Mapping[str, MappedAction] = {
    name: _entry(name, raw)
    for name, raw in {
        "transfer": {
            "action": "BlindTransfer",
            "headers": {"Channel": "{channel}", "Context": "{context}", "Exten": "{target}"},
            "params": _TARGET,
            "consts": _CONTEXT,
            "description": "blind transfer of the extension's call (the other party) to target",
        },
        "attended_transfer": {
            "action": "Atxfer",
            "headers": {"Channel": "{channel}", "Context": "{context}", "Exten": "{target}"},
            "params": _TARGET,
            "consts": _CONTEXT,
            "description": "attended transfer: the extension consults target, then completes by hanging up",
        },
        "redirect": {
            "action": "Redirect",
            "headers": {"Channel": "{channel}", "Context": "{context}", "Exten": "{target}", "Priority": "1"},
            "params": _TARGET,
            "consts": _CONTEXT,
            "description": "send the extension's own channel to target in the dial plan",
        },
        "park": {
            "action": "Park",
            "headers": {"Channel": "{peer}", "TimeoutChannel": "{channel}", "Parkinglot": "{parkinglot}"},
            "params": {"parkinglot": {"pattern": r"[A-Za-z0-9_-]{1,64}", "default": "default"}},
            "description": "park the other party; it rings back the extension on the parking time-out",
        },
        "agent_penalty": {
            "action": "QueuePenalty",
            "headers": {"Interface": "{interface}", "Penalty": "{penalty}", "Queue": "{queue}"},
            "params": {
                "penalty": {"pattern": r"[0-9]{1,3}"},
                "queue": {"pattern": r"[A-Za-z0-9_.-]{1,64}", "default": ""},
            },
            "description": "set the agent's penalty in queue (or every queue)",
        },
        "agent_ringinuse": {
            "action": "QueueMemberRingInUse",
            "headers": {"Interface": "{interface}", "RingInUse": "{ringinuse}", "Queue": "{queue}"},
            "params": {
                "ringinuse": {"pattern": r"true|false"},
                "queue": {"pattern": r"[A-Za-z0-9_.-]{1,64}", "default": ""},
            },
            "description": "whether queue calls ring the agent while it is on a call",
        },
    }.items()
}

"""The PBX directory: who is behind each extension, which channels are trunks, the queues.

A tracker needs it to fill Line/Login/Email and to decide a call's direction. It
is loaded from a mapping shaped like ``lab-directory.json`` (JSON or TOML: the
adapter reads the file, :func:`Directory.from_mapping` validates the data).

Channel matching: Asterisk names channels ``<tech>/<resource>-<suffix>``
(``IAX2/20-534``, ``PJSIP/20-0000001a``); the directory names the device without
the suffix (``IAX2/20``). :meth:`Directory.device_of` strips the suffix.

Ownership: every device (an extension's or a trunk's channel), extension number,
agent login, DID and queue belongs to exactly one tenant (an extension's, a queue's
or a DID's own ``tenant``, else the directory's). Two extensions never share a
device or a login, and no extension uses a trunk's device: the tracker gives a call
to the tenant of the device it rings on, so a shared device would hand one
tenant's calls to another. :func:`claim_error` says why a new or changed extension
may not be installed; :meth:`Directory.from_mapping` applies the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callhook.core.events import AgentInfo, Direction

__all__ = ["Directory", "DirectoryError", "Extension", "Queue", "RemoteAgent", "Trunk", "claim_error", "device_of"]


class DirectoryError(ValueError):
    """The directory data is not valid; the message names the field."""


@dataclass(frozen=True, slots=True)
class Extension:
    number: str
    name: str = ""
    login: str = ""
    email: str = ""
    channel: str = ""
    tenant: str = ""
    # Telphin: the agent's id there (seed 004's agent 136), when it is not the number,
    # and its extension name there (``000*094@ringme.ru``)
    agent_id: str = ""
    extension_name: str = ""


@dataclass(frozen=True, slots=True)
class RemoteAgent:
    """A queue agent who is no extension of this PBX: reached on an outside ``number``
    (Telphin ``agent_type`` remote, ``agent_number``)."""

    agent_id: str
    number: str
    name: str = ""
    login: str = ""
    email: str = ""
    tenant: str = ""


@dataclass(frozen=True, slots=True)
class Trunk:
    name: str
    channel: str
    outbound_prefix: str = ""


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    strategy: str = "ringall"
    members: tuple[str, ...] = ()
    service_level: int = 20
    tenant: str = ""  # "" in a Directory value built by hand: the directory's


def device_of(channel: str) -> str:
    """``IAX2/20-534`` -> ``IAX2/20``; ``Local/20@ctx-0001;1`` -> ``Local/20@ctx``."""
    base = channel.split(";", 1)[0]
    tech, sep, rest = base.partition("/")
    if not sep:
        return base
    if "-" in rest:
        rest = rest.rsplit("-", 1)[0]
    return f"{tech}/{rest}"


@dataclass(frozen=True, slots=True)
class Directory:
    tenant: str = ""
    extensions: tuple[Extension, ...] = ()
    trunks: tuple[Trunk, ...] = ()
    queues: tuple[Queue, ...] = ()
    dids: Mapping[str, str] = field(default_factory=dict)  # number -> description
    did_tenants: Mapping[str, str] = field(default_factory=dict)  # number -> tenant, where it differs
    remote_agents: tuple[RemoteAgent, ...] = ()
    _by_number: dict[str, Extension] = field(default_factory=dict, compare=False, repr=False)
    _by_device: dict[str, Extension] = field(default_factory=dict, compare=False, repr=False)
    _by_login: dict[str, Extension] = field(default_factory=dict, compare=False, repr=False)
    _trunk_devices: dict[str, Trunk] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for e in self.extensions:
            self._by_number[e.number] = e
            if e.channel:
                self._by_device[e.channel.lower()] = e
            if e.login:
                self._by_login[e.login.lower()] = e
        for t in self.trunks:
            self._trunk_devices[t.channel.lower()] = t

    # ------------------------------------------------------------------ lookups
    def agent_info(self, *, agent_id: str = "", number: str = "", login: str = "") -> AgentInfo | None:
        """The agent the directory knows by Telphin id, number or login (in that order), else None.

        A local agent is an extension (``agent_id``: its Telphin id, else its number);
        a remote one a :class:`RemoteAgent` (``number``: the outside number).
        """
        for e in self.extensions:
            if (agent_id and agent_id in (e.agent_id, e.number if not e.agent_id else "")) or (
                not agent_id and ((number and e.number == number) or (login and e.login.lower() == login.lower()))
            ):
                return AgentInfo(
                    login=e.login,
                    number=e.number,
                    name=e.name,
                    email=e.email,
                    interface=e.channel,
                    agent_id=e.agent_id or e.number,
                    extension_name=e.extension_name,
                )
        for r in self.remote_agents:
            if (agent_id and r.agent_id == agent_id) or (
                not agent_id and ((number and r.number == number) or (login and r.login.lower() == login.lower()))
            ):
                return AgentInfo(
                    login=r.login, number=r.number, name=r.name, email=r.email, agent_type="remote", agent_id=r.agent_id
                )
        return None

    def extension(self, number: str) -> Extension | None:
        return self._by_number.get(number)

    def extension_by_login(self, login: str) -> Extension | None:
        return self._by_login.get(login.lower())

    def extension_of_channel(self, channel: str) -> Extension | None:
        """The extension whose device this channel (or queue interface) is."""
        dev = device_of(channel).lower()
        ext = self._by_device.get(dev)
        if ext is None and dev.startswith("local/"):
            return None
        return ext

    def trunk_of_channel(self, channel: str) -> Trunk | None:
        return self._trunk_devices.get(device_of(channel).lower())

    def queue(self, name: str) -> Queue | None:
        for q in self.queues:
            if q.name == name:
                return q
        return None

    def queue_tenant(self, q: Queue) -> str:
        return q.tenant or self.tenant

    def did_tenant(self, number: str) -> str:
        return self.did_tenants.get(number, "") or self.tenant

    def members_seen(self, q: Queue, tenant: str | None) -> tuple[str, ...]:
        """The queue's members a token of ``tenant`` may see (None: the admin, all of them)."""
        if tenant is None:
            return q.members
        return tuple(m for m in q.members if (e := self._by_number.get(m)) is not None and e.tenant == tenant)

    def device_owner(self, channel: str) -> str | None:
        """Who holds this device: ``"extension 20"``, ``"trunk trunk"``, else None."""
        dev = device_of(channel).lower()
        if (e := self._by_device.get(dev)) is not None:
            return f"extension {e.number}"
        if (t := self._trunk_devices.get(dev)) is not None:
            return f"trunk {t.name}"
        return None

    def is_extension_number(self, number: str) -> bool:
        return number in self._by_number

    def strip_outbound_prefix(self, number: str) -> str:
        """The dialled number without the trunk's dial prefix (``0777888999`` -> ``777888999``)."""
        for t in self.trunks:
            p = t.outbound_prefix
            if p and number.startswith(p) and len(number) > len(p) and not self.is_extension_number(number):
                return number[len(p) :]
        return number

    def direction(self, caller_is_extension: bool, callee_is_extension: bool) -> Direction:
        """VOIPEX direction from which ends are extensions of this PBX."""
        if caller_is_extension and callee_is_extension:
            return Direction.OUTGOING_LOCAL
        if caller_is_extension:
            return Direction.OUTGOING
        return Direction.INCOMING

    # --------------------------------------------------------------- construction
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Directory:
        """Validate a parsed JSON/TOML document; raises DirectoryError naming the field."""
        if not isinstance(data, Mapping):
            raise DirectoryError("directory: expected an object at the top level")
        tenant = _text(data, "tenant", "directory", default="")
        exts = []
        for i, raw in enumerate(_list(data, "extensions")):
            where = f"extensions[{i}]"
            if not isinstance(raw, Mapping):
                raise DirectoryError(f"{where}: expected an object")
            number = _text(raw, "number", where)
            if not number:
                raise DirectoryError(f"{where}.number: must not be empty")
            exts.append(
                Extension(
                    number=number,
                    name=_text(raw, "name", where, default=""),
                    login=_text(raw, "login", where, default=""),
                    email=_text(raw, "email", where, default=""),
                    channel=_text(raw, "channel", where, default=""),
                    tenant=_text(raw, "tenant", where, default=tenant),
                    agent_id=_text(raw, "agent_id", where, default=""),
                    extension_name=_text(raw, "extension_name", where, default=""),
                )
            )
        numbers = [e.number for e in exts]
        dup = {n for n in numbers if numbers.count(n) > 1}
        if dup:
            raise DirectoryError(f"extensions: duplicate number {sorted(dup)[0]!r}")
        _unique([device_of(e.channel).lower() for e in exts if e.channel], "extensions", "device")
        _unique([e.login.lower() for e in exts if e.login], "extensions", "login")
        trunks = []
        for i, raw in enumerate(_list(data, "trunks")):
            where = f"trunks[{i}]"
            if not isinstance(raw, Mapping):
                raise DirectoryError(f"{where}: expected an object")
            trunks.append(
                Trunk(
                    name=_text(raw, "name", where),
                    channel=_text(raw, "channel", where),
                    outbound_prefix=_text(raw, "outbound_prefix", where, default=""),
                )
            )
        queues = []
        for i, raw in enumerate(_list(data, "queues")):
            where = f"queues[{i}]"
            if not isinstance(raw, Mapping):
                raise DirectoryError(f"{where}: expected an object")
            members = raw.get("members", [])
            if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
                raise DirectoryError(f"{where}.members: expected a list of extension numbers")
            sl = raw.get("service_level", 20)
            if not isinstance(sl, int) or isinstance(sl, bool) or sl <= 0:
                raise DirectoryError(f"{where}.service_level: expected a positive integer (seconds)")
            queues.append(
                Queue(
                    name=_text(raw, "name", where),
                    strategy=_text(raw, "strategy", where, default="ringall"),
                    members=tuple(members),
                    service_level=sl,
                    tenant=_text(raw, "tenant", where, default=tenant),
                )
            )
        _unique([q.name for q in queues], "queues", "name")
        _unique([t.name for t in trunks], "trunks", "name")
        _unique(
            [device_of(e.channel).lower() for e in exts if e.channel] + [device_of(t.channel).lower() for t in trunks],
            "trunks",
            "device (also an extension's)",
        )
        raw_dids = data.get("dids", {})
        if not isinstance(raw_dids, Mapping):
            raise DirectoryError("dids: expected an object of number -> description")
        dids: dict[str, str] = {}
        did_tenants: dict[str, str] = {}
        for number, v in raw_dids.items():
            if isinstance(v, str):
                dids[str(number)] = v
            elif isinstance(v, Mapping):  # {"description": ..., "tenant": ...}: a DID of another tenant
                dids[str(number)] = _text(v, "description", f"dids.{number}", default="")
                t = _text(v, "tenant", f"dids.{number}", default="")
                if t:
                    did_tenants[str(number)] = t
            else:
                raise DirectoryError(f"dids.{number}: expected a description or an object")
        remote = []
        for i, raw in enumerate(_list(data, "remote_agents")):
            where = f"remote_agents[{i}]"
            if not isinstance(raw, Mapping):
                raise DirectoryError(f"{where}: expected an object")
            agent = RemoteAgent(
                agent_id=_text(raw, "agent_id", where),
                number=_text(raw, "number", where),
                name=_text(raw, "name", where, default=""),
                login=_text(raw, "login", where, default=""),
                email=_text(raw, "email", where, default=""),
                tenant=_text(raw, "tenant", where, default=tenant),
            )
            if not agent.agent_id or not agent.number:
                raise DirectoryError(f"{where}: agent_id and number must not be empty")
            remote.append(agent)
        ids = [e.agent_id for e in exts if e.agent_id] + [r.agent_id for r in remote]
        dup = {n for n in ids if ids.count(n) > 1}
        if dup:
            raise DirectoryError(f"agent_id: {sorted(dup)[0]!r} names two agents")
        return cls(
            tenant=tenant,
            remote_agents=tuple(remote),
            extensions=tuple(exts),
            trunks=tuple(trunks),
            queues=tuple(queues),
            dids=dids,
            did_tenants=did_tenants,
        )

    def to_mapping(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "extensions": [
                {
                    "number": e.number,
                    "name": e.name,
                    "login": e.login,
                    "email": e.email,
                    "channel": e.channel,
                    "tenant": e.tenant,
                }
                | ({"agent_id": e.agent_id} if e.agent_id else {})
                | ({"extension_name": e.extension_name} if e.extension_name else {})
                for e in self.extensions
            ],
            **(
                {
                    "remote_agents": [
                        {"agent_id": r.agent_id, "number": r.number, "name": r.name, "login": r.login}
                        | {"email": r.email, "tenant": r.tenant}
                        for r in self.remote_agents
                    ]
                }
                if self.remote_agents
                else {}
            ),
            "trunks": [
                {"name": t.name, "channel": t.channel, "outbound_prefix": t.outbound_prefix} for t in self.trunks
            ],
            "queues": [
                {
                    "name": q.name,
                    "strategy": q.strategy,
                    "members": list(q.members),
                    "service_level": q.service_level,
                    "tenant": self.queue_tenant(q),
                }
                for q in self.queues
            ],
            "dids": {
                n: ({"description": d, "tenant": self.did_tenants[n]} if n in self.did_tenants else d)
                for n, d in self.dids.items()
            },
        }


def claim_error(d: Directory, new: Extension, replacing: str | None) -> str | None:
    """Why ``new`` (replacing the extension numbered ``replacing``, if any) may not go in, else None.

    The number, the device and the login must not be anyone else's: another
    extension's (of any tenant: the numbering plan and the devices are the PBX's)
    or, for the device, a trunk's.
    """
    if new.number != replacing and d.extension(new.number) is not None:
        return f"number: extension {new.number!r} exists"
    if new.channel:
        dev = device_of(new.channel).lower()
        e = d._by_device.get(dev)
        if e is not None and e.number != replacing:
            return f"channel: device {new.channel!r} is extension {e.number!r}'s"
        if dev in d._trunk_devices:
            return f"channel: device {new.channel!r} is a trunk's"
    if new.login:
        e = d._by_login.get(new.login.lower())
        if e is not None and e.number != replacing:
            return f"login: {new.login!r} is extension {e.number!r}'s"
    return None


def _unique(values: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise DirectoryError(f"{where}: duplicate {what} {v!r}")
        seen.add(v)


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    v = data.get(key, [])
    if not isinstance(v, list):
        raise DirectoryError(f"{key}: expected a list")
    return v


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    if key not in data or data[key] is None:
        if default is None:
            raise DirectoryError(f"{where}.{key}: required")
        return default
    v = data[key]
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise DirectoryError(f"{where}.{key}: expected text, got {type(v).__name__}")
    return str(v)

"""The parts of Asterisk's ``manager.conf`` the simulator honours: users, secrets, read classes, eventfilters.

Read as Asterisk 23 reads it: ``[section]`` headers, ``key = value`` (or ``=>``),
``;`` starts a comment (``\\;`` is a literal semicolon). A line without ``=`` is
ignored with Asterisk's warning (``No '=' (equal sign) in line N of manager.conf``),
and so is an ``eventfilter`` that :func:`~.filters.parse_filter` refuses (Asterisk
logs it and carries on): neither stops the file from loading, both leave the user
with the full stream. :attr:`ManagerConf.warnings` lists what was ignored, so a test
(or ``callhook simulate --manager-conf``) can show it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callhook.sources.simulator.classes import ALL, parse_mask
from callhook.sources.simulator.filters import EventFilterEntry, FilterError, parse_filter

__all__ = ["ManagerConf", "ManagerUser", "parse_manager_conf"]

_COMMENT = re.compile(r"(?<!\\);.*")


@dataclass(slots=True)
class ManagerUser:
    name: str
    secret: str = ""
    read: frozenset[str] = ALL
    filters: list[EventFilterEntry] = field(default_factory=list)


@dataclass(slots=True)
class ManagerConf:
    general: dict[str, str] = field(default_factory=dict)
    users: dict[str, ManagerUser] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def parse_manager_conf(text: str, filename: str = "manager.conf") -> ManagerConf:
    conf = ManagerConf()
    section = ""
    for n, raw in enumerate(text.splitlines(), start=1):
        line = _COMMENT.sub("", raw).replace("\\;", ";").strip()
        if not line:
            continue
        if line.startswith("["):
            end = line.find("]")
            if end < 0:
                conf.warnings.append(f"parse error: no closing ']', line {n} of {filename}")
                continue
            section = line[1:end].strip()
            if section != "general":
                conf.users.setdefault(section, ManagerUser(section))
            continue
        key, sep, value = line.partition("=")
        if not sep:
            conf.warnings.append(f"No '=' (equal sign) in line {n} of {filename}")
            continue
        key, value = key.strip(), value.removeprefix(">").strip()
        if not section:
            conf.warnings.append(f"line {n} of {filename}: {key} outside any section; ignored")
        elif section == "general":
            conf.general[key.lower()] = value
        else:
            _user_option(conf, conf.users[section], key, value, n, filename)
    return conf


def _user_option(conf: ManagerConf, user: ManagerUser, key: str, value: str, n: int, filename: str) -> None:
    low = key.lower()
    if low == "secret":
        user.secret = value
    elif low == "read":
        user.read = parse_mask(value) or frozenset()
    elif key.startswith("eventfilter"):
        try:
            user.filters.append(parse_filter(key, value))
        except FilterError as exc:
            conf.warnings.append(f"line {n} of {filename}: '{key} = {value}': {exc}; ignored")

"""Event filters of an AMI session, as Asterisk applies them (the ``Filter`` action).

Two spellings are accepted. Advanced (Asterisk 20.10+, 23): ``MatchCriteria:
action(include|exclude),name(<Event>),header(<Key>),method(none|regex|exact|
starts_with|ends_with|contains)`` with the pattern in ``Filter``. Legacy: ``Filter:
<regex>`` matched against the event text, ``!`` in front to exclude. An event
passes when it matches an include filter (if there is any) and no exclude filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callhook.core.ami.message import AmiMessage

__all__ = ["FilterError", "SessionFilters"]

_CRITERION = re.compile(r"(action|name|header|method)\(([^)]*)\)")
_METHODS = ("none", "regex", "exact", "starts_with", "ends_with", "contains")


class FilterError(ValueError):
    """The filter could not be understood (Asterisk answers ``Response: Error``)."""


@dataclass(frozen=True, slots=True)
class _Filter:
    include: bool
    name: str
    header: str
    method: str
    pattern: str
    regex: re.Pattern[str] | None

    def matches(self, msg: AmiMessage) -> bool:
        if self.name and msg.event != self.name:
            return False
        if self.method == "none":
            return True
        text = msg.get(self.header) if self.header else "\r\n".join(f"{k}: {v}" for k, v in msg.headers)
        if self.method == "regex":
            return self.regex is not None and self.regex.search(text) is not None
        if self.method == "exact":
            return text == self.pattern
        if self.method == "starts_with":
            return text.startswith(self.pattern)
        if self.method == "ends_with":
            return text.endswith(self.pattern)
        return self.pattern in text


@dataclass(slots=True)
class SessionFilters:
    filters: list[_Filter] = field(default_factory=list)

    def add(self, pattern: str, criteria: str = "") -> None:
        if criteria:
            parts = dict(_CRITERION.findall(criteria))
            action = parts.get("action", "include")
            method = parts.get("method", "regex" if pattern else "none")
            if action not in ("include", "exclude") or method not in _METHODS:
                raise FilterError(f"bad MatchCriteria {criteria!r}")
            include, name, header = action == "include", parts.get("name", ""), parts.get("header", "")
        else:
            include, name, header, method = not pattern.startswith("!"), "", "", "regex"
            pattern = pattern.removeprefix("!")
        if method != "none" and not pattern:
            raise FilterError("a filter needs a pattern")
        try:
            regex = re.compile(pattern, re.MULTILINE) if method == "regex" else None
        except re.error as exc:
            raise FilterError(f"bad filter pattern: {exc}") from None
        self.filters.append(_Filter(include, name, header, method, pattern, regex))

    def passes(self, msg: AmiMessage) -> bool:
        includes = [f for f in self.filters if f.include]
        if includes and not any(f.matches(msg) for f in includes):
            return False
        return not any(f.matches(msg) for f in self.filters if not f.include)

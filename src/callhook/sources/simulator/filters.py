"""Event filters of an AMI session, with Asterisk 23's semantics (``main/manager.c``).

One parser serves both ways a filter reaches a session: the ``Filter`` action
(``Operation: Add``, ``MatchCriteria`` and ``Filter``, which Asterisk turns into
``eventfilter(<MatchCriteria>) = <Filter>``) and an ``eventfilter`` line of the
user's ``manager.conf`` section (see :mod:`.manager_conf`).

Legacy: ``eventfilter = [!]<regex>``. The regex is matched against the whole event
text (``Key: value\\r\\n`` lines and the closing blank line); ``!`` makes it exclude.
A pattern is required.

Advanced: ``eventfilter(<options>) = [!]<pattern>`` with the options in any order,
at least one of them present::

    action(include|exclude)   default include (a leading ! in the pattern also excludes)
    name(<Event>)             the event's name, exactly
    header(<Key>)             match the value of each "Key:" line instead of the text
    method(none|regex|exact|starts_with|ends_with|contains)   default none

``method(none)`` takes no pattern and needs ``name`` or ``header``; every other method
needs one (``eventfilter(name(X)) = foo`` is refused: the method is still ``none``).

Regexes are POSIX extended (:mod:`.posix_regex`): ``(?!...)`` does not compile.

Which events pass: no filters, every event; include filters only, an event that
matches any; exclude filters only, an event that matches none; both, an event that
matches an include filter and no exclude filter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from callhook.core.ami.message import AmiMessage
from callhook.sources.simulator.posix_regex import PosixRegexError, compile_ere

__all__ = ["FORMAT_ERROR", "FilterCompileError", "FilterError", "SessionFilters", "event_text", "parse_filter"]

_METHODS = ("none", "regex", "exact", "starts_with", "ends_with", "contains")
FORMAT_ERROR = "Filter was formatted incorrectly.  Check the syntax of the filter given."
COMPILE_ERROR = "Filter did not compile.  Check the syntax of the filter given."


class FilterError(ValueError):
    """The filter is malformed (Asterisk: FILTER_FORMAT_ERROR)."""

    answer = FORMAT_ERROR


class FilterCompileError(FilterError):
    """The filter's regex is not POSIX ERE (Asterisk: FILTER_COMPILE_FAIL)."""

    answer = COMPILE_ERROR


def event_text(msg: AmiMessage) -> str:
    """The event as Asterisk matches a whole-event filter against it."""
    return "".join(f"{k}: {v}\r\n" for k, v in msg.headers) + "\r\n"


@dataclass(frozen=True, slots=True)
class EventFilterEntry:
    exclude: bool
    name: str
    header: str  # "Key:" or ""
    method: str
    pattern: str
    regex: re.Pattern[str] | None

    def _value_matches(self, value: str) -> bool:
        m = self.method
        if m == "regex":
            return self.regex is not None and self.regex.search(value) is not None
        if m == "starts_with":
            return value.startswith(self.pattern)
        if m == "ends_with":
            return value.endswith(self.pattern)
        if m == "contains":
            return self.pattern in value
        if m == "exact":
            return value == self.pattern
        return True  # none

    def matches(self, msg: AmiMessage, text: str | None = None) -> bool:
        if self.name and msg.event != self.name:
            return False
        if not self.header:
            return self._value_matches(text if text is not None else event_text(msg))
        for k, v in msg.headers:
            line = f"{k}: {v}"
            if line.startswith(self.header):
                value = line[len(self.header) :].lstrip(" \t")
                if value and self._value_matches(value):
                    return True
        return False


def _option_value(option: str, name: str) -> str:
    open_at = option.find("(")
    if open_at < 0:
        raise FilterError(f"{name!r} parameter not formatted correctly")
    return option[open_at + 1 :].strip()


def parse_filter(criteria: str, pattern: str) -> EventFilterEntry:
    """``criteria`` is ``eventfilter`` or ``eventfilter(<options>)``, as in manager.conf."""
    if not criteria:
        raise FilterError("missing criteria")
    exclude = pattern.startswith("!")
    if exclude:
        pattern = pattern[1:]
    name = header = ""
    method = "regex"
    open_at = criteria.find("(")
    if open_at < 0:
        if not pattern:
            raise FilterError("legacy filter with no filter pattern")
    else:
        method = "none"
        options = criteria[open_at + 1 :].strip()
        if not options or not options.endswith(")"):
            raise FilterError("filter options not formatted correctly")
        found = set()
        for option in (o for o in re.split(r"[ ,)]+", options) if o):
            if option.startswith("action"):
                value = _option_value(option, "action")
                if value not in ("include", "exclude"):
                    raise FilterError(f"'action' option {value!r} is unknown")
                exclude = value == "exclude"
            elif option.startswith("name"):
                name = _option_value(option, "name")
                if not name:
                    raise FilterError("'name' parameter not formatted correctly")
            elif option.startswith("header"):
                header = _option_value(option, "header")
                if not header:
                    raise FilterError("'header' parameter not formatted correctly")
                header = header if header.endswith(":") else header + ":"
            elif option.startswith("method"):
                method = _option_value(option, "method")
                if method not in _METHODS:
                    raise FilterError(f"'method' option {method!r} is unknown")
            else:
                raise FilterError(f"filter option {option!r} is unknown")
            found.add(option.split("(", 1)[0])
        if not found:
            raise FilterError("no action, name, header, or method option found")
        if not pattern and method != "none":
            raise FilterError(f"method can't be {method!r} with no filter pattern")
        if pattern and method == "none":
            raise FilterError("method can't be 'none' with a filter pattern")
        if not name and not header and method == "none":
            raise FilterError("no name or header option found and no filter pattern")
    regex = None
    if pattern and method == "regex":
        try:
            regex = compile_ere(pattern)
        except PosixRegexError as exc:
            raise FilterCompileError(f"unable to compile regex filter for {pattern!r}: {exc}") from None
    return EventFilterEntry(exclude, name, header, method, pattern, regex)


@dataclass(slots=True)
class SessionFilters:
    include: list[EventFilterEntry] = field(default_factory=list)
    exclude: list[EventFilterEntry] = field(default_factory=list)

    def add(self, pattern: str, criteria: str = "") -> None:
        """The ``Filter`` action: ``Filter`` and ``MatchCriteria`` (empty for a legacy filter)."""
        self.add_entry(parse_filter(f"eventfilter({criteria})" if criteria else "eventfilter", pattern))

    def add_entry(self, entry: EventFilterEntry) -> None:
        (self.exclude if entry.exclude else self.include).append(entry)

    def copy(self) -> SessionFilters:
        return SessionFilters(list(self.include), list(self.exclude))

    def passes(self, msg: AmiMessage) -> bool:
        if not self.include and not self.exclude:
            return True
        text = event_text(msg)
        if self.include and not any(f.matches(msg, text) for f in self.include):
            return False
        return not any(f.matches(msg, text) for f in self.exclude)

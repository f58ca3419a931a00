"""An AMI message: an ordered list of ``Key: value`` pairs (keys may repeat).

Asterisk sends three kinds: events (``Event:``), responses (``Response:``) and the
lines of a ``Response: Follows`` body (``output``). Lookups are case-insensitive,
as Asterisk's own are; the first occurrence wins for :meth:`get`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AmiMessage"]


@dataclass(frozen=True, slots=True)
class AmiMessage:
    headers: tuple[tuple[str, str], ...]
    output: tuple[str, ...] = ()  # body lines of "Response: Follows" (command output)
    _index: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        idx = self._index
        for k, v in self.headers:
            lk = k.lower()
            if lk not in idx:
                idx[lk] = v

    @classmethod
    def of(cls, *pairs: tuple[str, str], **kw: str) -> AmiMessage:
        """Build a message in code: ``AmiMessage.of(("Event", "Hangup"), Channel="IAX2/20-1")``."""
        return cls(tuple(pairs) + tuple(kw.items()))

    def get(self, key: str, default: str = "") -> str:
        return self._index.get(key.lower(), default)

    def has(self, key: str) -> bool:
        return key.lower() in self._index

    def get_all(self, key: str) -> list[str]:
        lk = key.lower()
        return [v for k, v in self.headers if k.lower() == lk]

    @property
    def event(self) -> str:
        return self._index.get("event", "")

    @property
    def response(self) -> str:
        return self._index.get("response", "")

    @property
    def action_id(self) -> str:
        return self._index.get("actionid", "")

    def variables(self) -> dict[str, str]:
        """``ChanVariable: name=value`` pairs (Asterisk 12+ may put them on any event)."""
        out: dict[str, str] = {}
        for v in self.get_all("ChanVariable"):
            name, _, val = v.partition("=")
            out[name] = val
        return out

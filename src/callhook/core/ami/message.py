"""An AMI message: an ordered list of ``Key: value`` pairs (keys may repeat).

Asterisk sends three kinds: events (``Event:``), responses (``Response:``) and the
lines of a ``Response: Follows`` body (``output``). Lookups are case-insensitive,
as Asterisk's own are; the first occurrence wins for :meth:`get`.

Messages are immutable and as lazy as they can be: most of an AMI stream is events
the tracker drops after reading ``event``. The codec may hand over a plain-ASCII,
well-formed event block unparsed (:meth:`AmiMessage.lazy`); its headers are split
out on first use, and the case-insensitive index is built on the first lookup.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AmiMessage"]

_NEEDLES: dict[str, bytes] = {}  # header name -> b"\r\nName: ", for lookups in unparsed blocks


class AmiMessage:
    __slots__ = ("_event", "_headers", "_index", "_raw", "output")

    output: tuple[str, ...]  # body lines of "Response: Follows" (command output)
    _headers: tuple[tuple[str, str], ...] | None
    _index: dict[str, str] | None
    _raw: bytes
    _event: str | None

    def __init__(self, headers: tuple[tuple[str, str], ...], output: tuple[str, ...] = ()) -> None:
        object.__setattr__(self, "_headers", headers)
        object.__setattr__(self, "output", output)
        object.__setattr__(self, "_index", None)
        object.__setattr__(self, "_raw", b"")
        object.__setattr__(self, "_event", None)

    @classmethod
    def lazy(cls, raw: bytes, event: str) -> AmiMessage:
        """An event block (ASCII, CRLF lines, every line ``Key: value``) parsed on first use."""
        msg = cls.__new__(cls)
        object.__setattr__(msg, "_headers", None)
        object.__setattr__(msg, "output", ())
        object.__setattr__(msg, "_index", None)
        object.__setattr__(msg, "_raw", raw)
        object.__setattr__(msg, "_event", event)
        return msg

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        h = self._headers
        if h is None:
            pairs: list[tuple[str, str]] = []
            for line in self._raw.decode("ascii").split("\r\n"):
                key, colon, value = line.partition(": ")
                if colon:
                    pairs.append((key, value))
                elif line.endswith(":"):
                    pairs.append((line[:-1], ""))
            h = tuple(pairs)
            object.__setattr__(self, "_headers", h)
        return h

    @property
    def raw(self) -> bytes:
        """The undecoded frame of a lazy event block; ``b""`` for a message built from headers."""
        return self._raw

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("AmiMessage is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return self.headers == other.headers and self.output == other.output

    def __hash__(self) -> int:
        return hash((self.headers, self.output))

    def __repr__(self) -> str:
        return f"AmiMessage(headers={self.headers!r}, output={self.output!r})"

    @classmethod
    def of(cls, *pairs: tuple[str, str], **kw: str) -> AmiMessage:
        """Build a message in code: ``AmiMessage.of(("Event", "Hangup"), Channel="IAX2/20-1")``."""
        return cls(tuple(pairs) + tuple(kw.items()))

    def _idx(self) -> dict[str, str]:
        idx: dict[str, str] | None = self._index
        if idx is None:
            idx = {}
            for k, v in self.headers:
                idx.setdefault(k.lower(), v)
            object.__setattr__(self, "_index", idx)
        return idx

    def get(self, key: str, default: str = "") -> str:
        if self._index is None and self._raw:
            # An unparsed block: look the (canonically spelled) key up in the bytes;
            # only a miss builds the case-insensitive index.
            raw = self._raw
            needle = _NEEDLES.get(key)
            if needle is None:
                needle = _NEEDLES[key] = b"\r\n" + key.encode("ascii", "replace") + b": "
            at = raw.find(needle)
            if at >= 0:
                start = at + len(needle)
                end = raw.find(b"\r\n", start)
                return raw[start : end if end >= 0 else len(raw)].decode("ascii")
            # A miss: absent in any spelling (the common case: an optional header, or the
            # ActionID of an event) needs no index; only an oddly spelled key does.
            low = raw.lower()
            name = needle[2:-1].lower()
            if not low.startswith(name) and (b"\r\n" + name) not in low:
                return default
        return self._idx().get(key.lower(), default)

    def has(self, key: str) -> bool:
        return key.lower() in self._idx()

    def get_all(self, key: str) -> list[str]:
        lk = key.lower()
        return [v for k, v in self.headers if k.lower() == lk]

    def _first(self, key: str) -> str:
        h = self.headers
        if h and h[0][0] == key:
            return h[0][1]
        return self._idx().get(key.lower(), "")

    @property
    def event(self) -> str:
        ev = self._event
        return ev if ev is not None else self._first("Event")

    @property
    def response(self) -> str:
        return self._first("Response")

    @property
    def action_id(self) -> str:
        return self.get("ActionID")

    def variables(self) -> dict[str, str]:
        """``ChanVariable: name=value`` pairs (Asterisk 12+ may put them on any event)."""
        out: dict[str, str] = {}
        for v in self.get_all("ChanVariable"):
            name, _, val = v.partition("=")
            out[name] = val
        return out

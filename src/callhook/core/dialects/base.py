"""What a dialect encoder returns: one HTTP request, fully formed and unsigned.

An encoder is a pure function ``(event, subscription) -> Request | None``; None
means the dialect has no message for that event (Telphin has nothing to say about
a ringing phone). The body is bytes, encoded once; the dispatcher sends it as is.
The Standard Webhooks signature is added per attempt by :mod:`.signing`, since its
timestamp is the time of sending.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DecodeError", "Request"]


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        ln = name.lower()
        for k, v in self.headers:
            if k.lower() == ln:
                return v
        return None


class DecodeError(ValueError):
    """A vendor payload that is not valid; ``field`` names what is wrong."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

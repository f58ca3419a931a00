"""Sans-IO codec for the Asterisk Manager Interface: bytes in, messages out, actions to bytes.

Theory of operation
-------------------
AMI is line based text over TCP. After connecting, the server sends one banner line
(``Asterisk Call Manager/12.0.0``) with no blank line after it; from then on every
message is a block of ``Key: value`` lines ended by an empty line, i.e. the block ends
with ``CRLF CRLF``. Keys may repeat (``Output``, ``ChanVariable``, ``Variable``); order
is kept. This module does no I/O and reads no clock: :meth:`AmiParser.feed` takes the
bytes a transport read and returns the messages they completed.

Framing works on bytes, never per byte. While no terminator can be in the buffer,
``feed`` only appends the chunk to a list (a slow sender costs linear time, not
quadratic); once the new bytes may finish a frame, the buffer is joined and split on
``CRLF CRLF`` in one call. Only complete frames are decoded, so a UTF-8 character split
across reads (``Oběd`` is ``4f 62 c4 9b 64``) is never broken; bytes that are not UTF-8
become U+FFFD and the message is reported, not dropped. The first ``LF LF`` seen (a
bare-LF peer) switches the parser for good to normalising CRLF to LF and splitting on
``LF LF``; a bare LF inside a CRLF block still ends a line. ``Key:`` is an empty value.

``Response: Follows`` is the Command answer of Asterisk before 14: a few headers, the
raw CLI output, then ``--END COMMAND--``; the output may hold empty lines, so blocks
are joined until the marker (or until a block that starts a new message). Since Asterisk 14 (and in 23) Command answers
``Response: Success`` with one ``Output:`` header per line. Both forms fill
:attr:`AmiMessage.output`; the modern form also keeps its ``Output`` headers.

Problems that do not stop parsing (a line without ``": "``, invalid UTF-8, a stream
without a banner, a Follows body without its marker) are collected as
:class:`ProtocolIssue` values for the adapter to log. One problem does stop a frame:
more than ``max_buffer`` bytes without a message boundary, or a complete frame larger
than that. ``feed`` then raises :class:`AmiFrameTooLarge`, drops the frame, and
resynchronises at the next empty line; messages completed before the error are kept and
returned by the next ``feed`` call (``feed(b"")`` is enough). ``feed`` raises nothing else,
whatever the input.

:func:`serialize_action` is the other direction: an action name, headers and an
optional ActionID to bytes, refusing CR or LF inside a header (header injection).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn

from callhook.core.ami.message import AmiMessage

__all__ = [
    "DEFAULT_MAX_BUFFER",
    "AmiFrameTooLarge",
    "AmiParser",
    "ProtocolIssue",
    "serialize_action",
]

DEFAULT_MAX_BUFFER = 1 << 20
ISSUE_LIMIT = 100  # issues kept between two take_issues() calls; the rest are only counted

_CRLF2 = b"\r\n\r\n"
_LF2 = b"\n\n"
_FOLLOWS = b"Response: Follows"
_END_COMMAND = "--END COMMAND--"
_END_COMMAND_B = _END_COMMAND.encode()
_NEXT_MESSAGE = (b"Event: ", b"Response: ", b"\nEvent: ", b"\nResponse: ", b"\r\nEvent: ", b"\r\nResponse: ")
_FOLLOWS_HEADERS = frozenset({"response", "privilege", "actionid", "commandid", "message"})


@dataclass(frozen=True, slots=True)
class ProtocolIssue:
    """Something odd in the stream that parsing survived. ``kind`` is one of the constants below."""

    kind: str
    detail: str

    GARBAGE_LINE = "garbage_line"
    INVALID_UTF8 = "invalid_utf8"
    NO_BANNER = "no_banner"
    UNTERMINATED_FOLLOWS = "unterminated_follows"


class AmiFrameTooLarge(Exception):
    """A frame outgrew the parser's buffer cap; it was dropped up to the next message boundary."""

    def __init__(self, size: int, limit: int, *, complete: bool) -> None:
        self.size = size
        self.limit = limit
        self.complete = complete
        what = f"{size} bytes" if complete else f"at least {size} bytes without a message boundary"
        super().__init__(f"AMI frame of {what} exceeds the {limit}-byte cap; skipped to the next message")


class AmiParser:
    """Incremental AMI parser. ``banner`` is None until the first line is in ("" if there was none)."""

    def __init__(self, max_buffer: int = DEFAULT_MAX_BUFFER, *, expect_banner: bool = True) -> None:
        if max_buffer < 64:
            raise ValueError(f"max_buffer must be at least 64 bytes, not {max_buffer}")
        self.max_buffer = max_buffer
        self.banner: str | None = None if expect_banner else ""
        self.issues: list[ProtocolIssue] = []
        self.issues_dropped = 0
        self._chunks: list[bytes] = []  # bytes not yet framed, in arrival order
        self._size = 0  # total length of _chunks
        self._seam = b""  # last 3 bytes buffered: a terminator may straddle two reads
        self._dirty = False  # _chunks may hold complete frames (left after an error)
        self._skipping = False  # inside an oversized frame: drop bytes to the next boundary
        self._lf = False  # the peer frames with bare LF (sticky once seen)
        self._ready: list[AmiMessage] = []  # completed before an AmiFrameTooLarge was raised

    def feed(self, data: bytes) -> list[AmiMessage]:
        """Take the bytes just read; return the messages they completed, in order."""
        out = self._ready
        self._ready = []
        probe = self._seam + data
        if not self._dirty and not self._may_complete(probe):
            self._seam = probe[-3:]
            if not self._skipping and data:
                self._chunks.append(data)
                self._size += len(data)
                if self._size > self.max_buffer:
                    self._fail(out, AmiFrameTooLarge(self._size, self.max_buffer, complete=False))
            return out
        if self._skipping:
            buf = probe
        else:
            self._chunks.append(data)
            buf = b"".join(self._chunks)
        rest, error = self._process(buf, out)
        if self._skipping:  # the whole buffer belonged to a dropped frame
            self._chunks, self._size, self._seam = [], 0, buf[-3:]
            return out
        self._chunks = [rest] if rest else []
        self._size = len(rest)
        self._seam = rest[-3:]
        self._dirty = error is not None
        if error is None and self._size > self.max_buffer:
            error = AmiFrameTooLarge(self._size, self.max_buffer, complete=False)
        if error is not None:
            self._fail(out, error)
        return out

    def take_issues(self) -> list[ProtocolIssue]:
        """Return and forget the issues collected so far."""
        issues, self.issues = self.issues, []
        return issues

    # -- internals
    def _may_complete(self, probe: bytes) -> bool:
        if self.banner is None:
            return b"\n" in probe
        return b"\n\r\n" in probe or _LF2 in probe

    def _fail(self, out: list[AmiMessage], error: AmiFrameTooLarge) -> NoReturn:
        """Keep ``out`` for the next feed, drop an unterminated frame, raise ``error``."""
        self._ready = out
        if not error.complete:
            self._chunks, self._size, self._skipping, self._dirty = [], 0, True, False
            if self.banner is None:
                self.banner = ""
        raise error

    def _issue(self, kind: str, detail: str) -> None:
        if len(self.issues) < ISSUE_LIMIT:
            self.issues.append(ProtocolIssue(kind, detail))
        else:
            self.issues_dropped += 1

    def _process(self, buf: bytes, out: list[AmiMessage]) -> tuple[bytes, AmiFrameTooLarge | None]:
        """Frame ``buf``; append messages to ``out``; return the unframed rest and any error."""
        if self.banner is None:
            nl = buf.find(b"\n")
            if nl < 0:
                return buf, None
            line = buf[:nl].rstrip(b"\r")
            if b": " in line and not line.startswith(b"Asterisk Call Manager"):
                self.banner = ""
                self._issue(ProtocolIssue.NO_BANNER, f"first line is a header: {_clip(line)}")
            else:
                self.banner = line.decode("utf-8", "replace")
                buf = buf[nl + 1 :]
        if self._skipping:
            crlf, lf = buf.find(b"\n\r\n"), buf.find(_LF2)
            if crlf < 0 and lf < 0:
                return b"", None  # still inside the dropped frame
            self._skipping = False
            buf = buf[crlf + 3 :] if lf < 0 or 0 <= crlf < lf else buf[lf + 2 :]
        if self._lf or _LF2 in buf:
            self._lf = True  # a bare-LF peer: from now on, normalise every buffer
            buf = buf.replace(b"\r\n", b"\n")
            term, sep = _LF2, "\n"
        else:
            term, sep = _CRLF2, "\r\n"
        parts = buf.split(term)
        tail = parts.pop()
        limit = self.max_buffer
        lazy = AmiMessage.lazy
        crlf_mode = sep == "\r\n"
        i, n = 0, len(parts)
        while i < n:
            start = i
            block = parts[i]
            i += 1
            # Fast path (inlined: it is most of the stream): a plain event block that cannot
            # hold a garbage line, a bare LF or non-ASCII text goes out unparsed; AmiMessage
            # splits it on first use.
            if (
                crlf_mode
                and block[:7] == b"Event: "
                and len(block) <= limit
                and block.isascii()
                and block.count(b"\n") == (crlf := block.count(b"\r\n"))
                and block.count(b": ") > crlf
            ):
                nl = block.find(b"\r\n")
                out.append(lazy(block, (block[7:nl] if nl >= 0 else block[7:]).decode("ascii")))
                continue
            if block.startswith(_FOLLOWS) and _END_COMMAND_B not in block:
                while i < n and _END_COMMAND_B not in parts[i - 1] and not parts[i].startswith(_NEXT_MESSAGE):
                    i += 1
                if _END_COMMAND_B not in parts[i - 1] and i == n and not tail.startswith(_NEXT_MESSAGE):
                    return term.join([*parts[start:], tail]), None  # wait for the rest of the body
                block = term.join(parts[start:i])
            if len(block) > limit:
                return term.join([*parts[i:], tail]), AmiFrameTooLarge(len(block), limit, complete=True)
            msg = self._message(block, sep)
            if msg is not None:
                out.append(msg)
        return tail, None

    def _message(self, block: bytes, sep: str) -> AmiMessage | None:
        try:
            text = block.decode()
        except UnicodeDecodeError:
            text = block.decode("utf-8", "replace")
            self._issue(ProtocolIssue.INVALID_UTF8, f"invalid UTF-8 replaced by U+FFFD: {_clip(text)}")
        lines = text.split(sep)
        if len(lines) <= text.count("\n"):  # a bare LF inside a CRLF block
            lines = text.replace("\r\n", "\n").split("\n")
        if not lines[0]:  # extra empty lines between messages
            lines = lines[next((i for i, line in enumerate(lines) if line), len(lines)) :]
            if not lines:
                return None
        if lines[0] == "Response: Follows":
            return self._follows(lines)
        headers: list[tuple[str, str]] = []
        append = headers.append
        for line in lines:
            key, colon, value = line.partition(": ")
            if colon:
                append((key, value))
            elif line.endswith(":"):
                append((line[:-1], ""))
            elif line:
                self._issue(ProtocolIssue.GARBAGE_LINE, f"line without ': ' ignored: {_clip(line)}")
        if not headers:
            return None
        if headers[0][0] == "Response":
            output = tuple(v for k, v in headers if k == "Output")
            if output:
                return AmiMessage(tuple(headers), output)
        return AmiMessage(tuple(headers))

    def _follows(self, lines: list[str]) -> AmiMessage:
        headers: list[tuple[str, str]] = []
        body_at = len(lines)
        for i, line in enumerate(lines):
            key, colon, value = line.partition(": ")
            if not colon or key.lower() not in _FOLLOWS_HEADERS:
                body_at = i
                break
            headers.append((key, value))
        body = lines[body_at:]
        while body and not body[-1]:
            body.pop()
        if body and body[-1].endswith(_END_COMMAND):
            last = body.pop()[: -len(_END_COMMAND)]
            if last:
                body.append(last)
        else:
            self._issue(ProtocolIssue.UNTERMINATED_FOLLOWS, f"'Response: Follows' without {_END_COMMAND}")
        return AmiMessage(tuple(headers), tuple(body))


def serialize_action(
    name: str,
    headers: Sequence[tuple[str, str]] | Mapping[str, str] = (),
    action_id: str | None = None,
) -> bytes:
    """``Action: name``, ``ActionID`` (if given) and the headers, CRLF framed, as UTF-8.

    Raises ValueError for CR or LF anywhere (it would inject headers or end the frame),
    for empty keys or keys holding ``:``, and for an ``Action`` header in ``headers``.
    Values are never echoed in the error: they may be secrets.
    """
    pairs: Iterable[tuple[str, str]] = headers.items() if isinstance(headers, Mapping) else headers
    lines = [f"Action: {_clean_value('Action', name)}"]
    if action_id is not None:
        lines.append(f"ActionID: {_clean_value('ActionID', action_id)}")
    for key, value in pairs:
        low = key.lower()
        if not key or ":" in key or "\r" in key or "\n" in key or key != key.strip():
            raise ValueError(f"invalid AMI header name {key!r}")
        if low == "action" or (low == "actionid" and action_id is not None):
            raise ValueError(f"{key!r} is set by serialize_action itself")
        lines.append(f"{key}: {_clean_value(key, value)}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()


def _clean_value(key: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI header {key!r} contains CR or LF (header injection)")
    return value


def _clip(line: bytes | str, width: int = 120) -> str:
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return repr(text if len(text) <= width else text[:width] + "...")

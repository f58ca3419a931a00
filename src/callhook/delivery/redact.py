"""The one definition of what is secret, used by the API, the attempt log, the CLI and the logs.

A name is secret when it looks like a credential, a token, a key or a signature
(:data:`SECRET_NAME`: ``Authorization``, ``X-Api-Key``, ``token``, ``apikey``,
``X-Hub-Signature``, ``sig``, ``hash``, ...). What is redacted:

- URLs lose the password of their ``user:password@`` part (the attempt log drops
  the whole user info) and the values of query parameters whose name is secret;
- headers whose name is secret keep their name and lose their value (a
  subscription's configured headers are masked whatever their name:
  :func:`mask_headers`);
- free text (a log line, an error message) loses the same things wherever a URL,
  an ``Authorization`` value or a ``name=value`` pair with a secret name appears in
  it (:func:`redact_text`), which :func:`install_log_redaction` applies to every
  log record of the process (whichever logger or handler: uvicorn's too).

The Standard Webhooks headers ``webhook-id`` and ``webhook-timestamp`` are not
secret; ``webhook-signature`` is kept in the attempt log, since it is only valid
for that one request and a receiver's support needs to compare it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "REDACTED",
    "SECRET_NAME",
    "RedactingFilter",
    "install_log_redaction",
    "is_secret_name",
    "mask_headers",
    "mask_url",
    "redact_headers",
    "redact_text",
    "redact_url",
]

REDACTED = "[redacted]"  # the attempt log's and the logs' form
MASK = "****"  # the API's and the CLI's form of a write-only value

#: credential, token, key and signature names (a substring match, any case)
SECRET_NAME = re.compile(
    r"auth|token|secret|passw|pwd|pass$|^pass|key|cookie|session|credential|signature|^sig$|sig_|_sig|"
    r"^sign$|hash|hmac|^code$|nonce|jwt|bearer|access|private|otp",
    re.IGNORECASE,
)
_KEEP = frozenset({"webhook-signature", "webhook-id", "webhook-timestamp"})


def is_secret_name(name: str, *, keep_signature: bool = True) -> bool:
    """Whether a header or query parameter of this name holds a secret."""
    low = name.lower()
    if keep_signature and low in _KEEP:
        return False
    return low not in ("webhook-id", "webhook-timestamp") and SECRET_NAME.search(name) is not None


def redact_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((k, REDACTED if is_secret_name(k) else v) for k, v in headers)


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A subscription's configured headers as the API shows them: names only, every value masked."""
    return {k: MASK for k in headers}


def _rebuild(url: str, userinfo: str | None, mark: str, safe: str = "") -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return mark
    netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port is not None else "")
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(k) for k, _ in pairs):
            query = urlencode([(k, mark if is_secret_name(k) else v) for k, v in pairs], safe=safe)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_url(url: str) -> str:
    """The attempt log's form: no user info at all, secret query values ``[redacted]``."""
    return _rebuild(url, None, REDACTED)


def mask_url(url: str) -> str:
    """The API's form: the user name stays, its password and secret query values become ``****``."""
    try:
        parts = urlsplit(url)
        user, password = parts.username, parts.password
    except ValueError:
        return MASK
    userinfo = None
    if user is not None:
        userinfo = user + (f":{MASK}" if password is not None else "")
    return _rebuild(url, userinfo, MASK, safe="*{}")


_URL_IN_TEXT = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_AUTH_IN_TEXT = re.compile(r"(?i)\b(authorization|proxy-authorization)(['\"]?\s*[:=]\s*['\"]?)(\w+\s)?[^\s'\",)]+")
_NAME_IN_TEXT = re.compile(r"(?<![\w/])([A-Za-z][\w.-]*)(['\"]?\s*[=:]\s*['\"]?)")
_VALUE_IN_TEXT = re.compile(r"[^\s'\",&;)}]+")


def redact_text(text: str) -> str:
    """``text`` with URL credentials, Authorization values and secret ``name=value`` pairs redacted."""
    text = _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)
    text = _AUTH_IN_TEXT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    out: list[str] = []
    done = 0
    for m in _NAME_IN_TEXT.finditer(text):
        if m.start() < done or not is_secret_name(m.group(1)):
            continue
        value = _VALUE_IN_TEXT.match(text, m.end())
        if value is None or value.group(0) == REDACTED:
            continue
        out += [text[done : m.end()], REDACTED]
        done = value.end()
    return "".join(out) + text[done:]


class RedactingFilter(logging.Filter):
    """A logging filter that runs :func:`redact_text` over every record's message (and its exception text)."""

    def filter(self, record: logging.LogRecord) -> bool:
        _redact_record(record)
        return True


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):
        return
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact_text(record.exc_text)
    clean = redact_text(message)
    if clean != message:
        record.msg, record.args = clean, None


_installed = False


def install_log_redaction() -> None:
    """Make every log record of this process pass :func:`redact_text` (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)

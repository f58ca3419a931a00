"""Logging of a callhook process: text or JSON lines on stderr, and the API's access log.

:func:`configure` is called once by the CLI (the composition root) with the settings
``log_level``, ``log_format`` and ``access_log``. Below it, modules log with
``logging.getLogger(__name__)``, %-style arguments and a stable ``extra``:
``call_id``, ``subscription_id``, ``delivery_id`` (and ``event_id`` where it applies).
The text format shows the message only; the JSON format
(:class:`JsonFormatter`) writes one object a line::

    {"ts": "2026-11-21T14:23:54.537+00:00", "level": "INFO", "logger": "callhook.delivery.dispatcher",
     "message": "delivery dl_1 attempt 1: 503 -> retry", "delivery_id": "dl_1", "subscription_id": "wh_1"}

The access log is uvicorn's (one record per request), renamed ``callhook.access`` and
given the fields ``method``, ``path``, ``status`` and ``client`` (:class:`AccessRecord`).
uvicorn's own start-up chatter stays at WARNING.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["ACCESS_LOGGER", "AccessRecord", "JsonFormatter", "configure"]

ACCESS_LOGGER = "callhook.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, message, the record's extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) or value is None else str(value)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class AccessRecord(logging.Filter):
    """uvicorn's access record (client, method, path, http version, status) as callhook's."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, _version, status = args
            record.name = ACCESS_LOGGER
            record.msg, record.args = "%s %s %s %s", (method, path, status, client)
            record.method, record.path, record.status, record.client = method, path, status, client
        return True


def configure(
    level: str = "INFO", fmt: str = "text", *, access_log: bool = False, stream: TextIO | None = None
) -> None:
    """Install the one handler on the root logger (replacing any earlier one of ours)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.set_name("callhook")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "callhook"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.setLevel(logging.INFO if access_log else logging.WARNING)
    access.propagate = True
    if not any(isinstance(f, AccessRecord) for f in access.filters):
        access.addFilter(AccessRecord())

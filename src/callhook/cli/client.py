"""A small client of callhook's HTTP API for the operations commands (standard library only).

``--url`` (env ``CALLHOOK_URL``, default http://127.0.0.1:8080) and ``--token`` (env
``CALLHOOK_TOKEN``) are shared by every command that talks to a running hub. Errors
are one :class:`ApiError` with the HTTP status (0: the hub could not be reached) and
the hub's own ``detail``; the token is never part of a message.
"""

from __future__ import annotations

import argparse
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = ["DEFAULT_URL", "Api", "ApiError", "add_connection_flags", "connect"]

DEFAULT_URL = "http://127.0.0.1:8080"


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def add_connection_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", help=f"the callhook to talk to (env CALLHOOK_URL; default {DEFAULT_URL})")
    p.add_argument("--token", help="API token (env CALLHOOK_TOKEN)")
    p.add_argument("--json", action="store_true", help="print JSON (for scripts)")


def _detail(raw: bytes) -> str:
    try:
        data = json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")[:300]
    if isinstance(data, dict):
        d = data.get("detail", data.get("error", data))
        if isinstance(d, list):  # FastAPI's validation errors
            return "; ".join(
                f"{'.'.join(str(x) for x in e.get('loc', []))}: {e.get('msg', '')}" for e in d if isinstance(e, dict)
            )
        return str(d)
    return str(data)


class Api:
    def __init__(self, url: str, token: str, *, timeout: float = 15.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(0, f"--url: expected http://HOST:PORT, got {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty one); :class:`ApiError` for anything else."""
        url = self.url + path
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None and v != ""})
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 (http(s) checked above)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            detail = _detail(exc.read())
            if exc.code == 401:
                detail = "the token was refused or is missing (--token / CALLHOOK_TOKEN)"
            raise ApiError(exc.code, f"{method} {path}: {exc.code} {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ApiError(0, f"cannot reach {self.url}: {reason}") from None
        return json.loads(raw) if raw.strip() else None


def connect(args: argparse.Namespace, environ: Mapping[str, str]) -> Api:
    url = args.url or environ.get("CALLHOOK_URL", "") or DEFAULT_URL
    token = args.token or environ.get("CALLHOOK_TOKEN", "")
    return Api(url, token)

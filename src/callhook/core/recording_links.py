"""Signed, expiring download links for the PBX's recordings (pure: key and times passed in).

A link is ``<public_url>/recordings/<file>?expires=<unix seconds>&sig=<hex>`` where
``sig`` is HMAC-SHA256 over ``"<file>\\n<expires>"`` with the installation's link key.
It names a file by its base name only (letters, digits, ``.``, ``_``, ``-``, ``+``, not
starting with a dot): anything else -- a path, ``..``, a separator, a NUL -- is refused,
so a link can never reach outside the recordings directory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote

__all__ = ["LinkError", "check_file", "link", "signature", "verify"]

_FILE = re.compile(r"[A-Za-z0-9_+\-][A-Za-z0-9_.+\-]{0,254}")


class LinkError(ValueError):
    """A link that must not be served; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def check_file(name: str) -> str:
    """``name`` if it is a plain file name (no path, no ``..``), else LinkError 400."""
    if not _FILE.fullmatch(name) or ".." in name:
        raise LinkError(400, "not a recording's file name")
    return name


def signature(key: bytes, name: str, expires: int) -> str:
    return hmac.new(key, f"{name}\n{expires}".encode(), hashlib.sha256).hexdigest()


def link(base_url: str, key: bytes, name: str, expires: int) -> str:
    """The download URL of ``name`` until ``expires`` (Unix seconds)."""
    check_file(name)
    return f"{base_url.rstrip('/')}/recordings/{quote(name)}?expires={expires}&sig={signature(key, name, expires)}"


def verify(key: bytes, name: str, expires: int, sig: str, now: float) -> None:
    """Nothing when the link is good; LinkError 400 (bad name), 403 (bad signature) or 410 (expired)."""
    check_file(name)
    if not hmac.compare_digest(signature(key, name, expires), sig.lower()):
        raise LinkError(403, "the link's signature does not match")
    if now >= expires:
        raise LinkError(410, "the link has expired")

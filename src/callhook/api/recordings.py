"""``GET /recordings/{file}?expires=&sig=``: a recording's download through its signed link.

The link (``download_url`` of a ``call.recording`` event) is the credential: no token.
Served from the configured recordings directory (``recordings_dir``) by base name;
a name that is not a plain file name is a 400, a wrong signature a 403, an expired
link a 410, a file that is not there (or not a regular file inside the directory) a
404. Nothing is served when no recordings directory is configured (404).
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse

from callhook.api.paging import ERRORS
from callhook.api.services import hub_of
from callhook.core.recording_links import LinkError, link, verify

__all__ = ["link_key", "recording_linker", "router"]

router = APIRouter(tags=["recordings"], responses=ERRORS)


def recording_linker(config: Any, admin_token: str) -> Callable[[str, float], str] | None:
    """The download links of call.recording events (file name, call end -> URL), when
    recordings are served (``recordings_dir`` and ``public_url`` set); else None."""
    if not (config.recordings_dir and config.public_url):
        return None
    key, ttl = link_key(admin_token), config.recording_link_days * 86400.0

    def make(name: str, at: float) -> str:
        try:
            return link(config.public_url, key, name, int(at + ttl))
        except LinkError:  # a file name callhook would not serve: no link
            return ""

    return make


def link_key(admin_token: str) -> bytes:
    """The links' HMAC key, derived from the admin token (a new token voids old links)."""
    return hashlib.sha256(b"callhook recording links\n" + admin_token.encode()).digest()


def _inside(root: str, file: str) -> str | None:
    """The regular file ``file`` directly inside ``root`` (links followed, then checked)."""
    base = os.path.realpath(root)
    path = os.path.realpath(os.path.join(base, file))
    return path if os.path.dirname(path) == base and os.path.isfile(path) else None


@router.get("/recordings/{file}", response_class=FileResponse, responses={200: {"content": {"audio/*": {}}}})
async def download_recording(
    request: Request,
    file: str,
    expires: Annotated[int, Query(ge=0, le=1 << 40)],
    sig: Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-fA-F]{64}$")],
) -> FileResponse:
    """The recording ``file`` while its signed link is valid."""
    hub = hub_of(request)
    root = hub.config.recordings_dir
    if not root:
        raise HTTPException(status_code=404, detail="recordings are not served here")
    try:
        verify(link_key(hub.admin_token), file, expires, sig, hub.now())
    except LinkError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from None
    path = await asyncio.to_thread(_inside, root, file)
    if path is None:
        raise HTTPException(status_code=404, detail=f"no recording {file!r}")
    media = mimetypes.guess_type(file)[0] or "application/octet-stream"
    return FileResponse(path, media_type=media, filename=file)

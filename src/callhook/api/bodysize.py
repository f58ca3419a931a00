"""A cap on request bodies: 413 for a declared Content-Length over the cap, and for a
streamed (chunked) body once it grows past it. Pure ASGI, so it sees every request
before anything reads the body."""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodySizeLimit"]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = 1 << 20) -> None:
        self.app = app
        self.max_bytes = max_bytes

    @staticmethod
    async def _reject(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0:
                    await self._reject(send, 400, "invalid Content-Length")
                    return
                if declared > self.max_bytes:
                    await self._reject(send, 413, f"request body larger than {self.max_bytes} bytes")
                    return
        seen = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal seen
            msg: dict[str, Any] = dict(await receive())
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    # raised inside the app: its exception handler answers 413
                    raise HTTPException(status_code=413, detail=f"request body larger than {limit} bytes")
            return msg

        await self.app(scope, counting_receive, send)

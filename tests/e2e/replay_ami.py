"""A fake Asterisk for end-to-end tests: replays a recorded .ami file to whoever logs in.

Runs its own event loop in a thread, listens on 127.0.0.1 only. Login is checked;
every action gets ``Response: Success`` (EventList actions an empty list); the
recording's events are sent once ``go()`` is called.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path


class ReplayAmi:
    def __init__(self, path: Path, username: str = "lab", secret: str = "labsecret") -> None:
        data = path.read_bytes()
        banner, _, rest = data.partition(b"\r\n")
        login_resp, _, events = rest.partition(b"\r\n\r\n")
        self.banner = banner + b"\r\n"
        self.login_response = login_resp + b"\r\n\r\n"
        self.events = events
        self.username, self.secret = username, secret
        self.port = 0
        self.logins: list[bool] = []
        self.actions: list[str] = []
        self._aio_go: asyncio.Event
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ReplayAmi:
        self._thread.start()
        self._ready.wait(10)
        return self

    def go(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._aio_go.set)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._aio_go = asyncio.Event()
        self._loop = loop
        server = loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(self.banner)
        streaming: asyncio.Task[None] | None = None
        try:
            while True:
                block = await reader.readuntil(b"\r\n\r\n")
                headers = dict(line.split(": ", 1) for line in block.decode().split("\r\n") if ": " in line)
                action = headers.get("Action", "")
                self.actions.append(action)
                aid = headers.get("ActionID")
                aid_line = f"ActionID: {aid}\r\n" if aid else ""
                if action.lower() == "login":
                    ok = headers.get("Username") == self.username and headers.get("Secret") == self.secret
                    self.logins.append(ok)
                    if not ok:
                        writer.write(f"Response: Error\r\n{aid_line}Message: Authentication failed\r\n\r\n".encode())
                        await writer.drain()
                        break
                    head, _, tail = self.login_response.partition(b"\r\n")
                    writer.write(head + b"\r\n" + aid_line.encode() + tail)
                    streaming = asyncio.create_task(self._stream(writer))
                elif action in ("CoreShowChannels", "QueueStatus"):
                    writer.write(
                        f"Response: Success\r\n{aid_line}EventList: start\r\nMessage: follows\r\n\r\n"
                        f"Event: {action}Complete\r\n{aid_line}EventList: Complete\r\nListItems: 0\r\n\r\n".encode()
                    )
                else:
                    writer.write(f"Response: Success\r\n{aid_line}\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if streaming is not None:
                streaming.cancel()
            writer.close()

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        await self._aio_go.wait()
        writer.write(self.events)
        await writer.drain()

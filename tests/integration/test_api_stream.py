"""``GET /api/v1/stream`` over a real socket: uvicorn on 127.0.0.1 and an HTTP client."""

from __future__ import annotations

import asyncio
import json

import httpx2 as httpx
import uvicorn
from test_api_support import TOKEN_A, agent_event, auth, ended_call, make_hub

from callhook.api.app import create_app
from callhook.core.events import EventType
from callhook.store.memory import MemoryStore


async def _read_until(lines: object, want: int, heartbeats: int) -> tuple[list[dict[str, str]], int]:
    """SSE messages until ``want`` events and ``heartbeats`` heartbeats were seen."""
    events: list[dict[str, str]] = []
    seen_hb = 0
    current: dict[str, str] = {}
    async for line in lines:  # type: ignore[attr-defined]
        if line == ": heartbeat":
            seen_hb += 1
        elif line == "" and current:
            events.append(current)
            current = {}
        elif not line.startswith(":") and ": " in line:
            k, _, v = line.partition(": ")
            current[k] = v
        if len(events) >= want and seen_hb >= heartbeats:
            break
    return events, seen_hb


async def _scenario() -> None:
    hub = make_hub(MemoryStore())
    app = create_app(hub)
    app.state.heartbeat = 0.2
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws="none")
    )
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:  # noqa: ASYNC110 -- uvicorn offers no event to wait on
                await asyncio.sleep(0.01)
            port = server.servers[0].sockets[0].getsockname()[1]
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                assert (await client.get("/api/v1/stream")).status_code == 401
                bad = await client.get("/api/v1/stream", params={"types": "call.exploded"}, headers=auth(TOKEN_A))
                assert bad.status_code == 422
                async with client.stream(
                    "GET", "/api/v1/stream", headers=auth(TOKEN_A), params={"types": ["call.new", "agent.login"]}
                ) as r:
                    assert r.status_code == 200
                    assert r.headers["content-type"].startswith("text/event-stream")
                    lines = r.aiter_lines()
                    async for line in lines:
                        if line == ": connected":
                            break
                    assert hub.broadcast.listeners == 1
                    mine = ended_call("s1", "777", "20", answered=True)
                    theirs = ended_call("s2", "777", "30", answered=True, tenant="globex")
                    login = agent_event(EventType.AGENT_LOGIN, "20")
                    hub.broadcast.publish([*theirs, *mine, login])
                    events, _ = await _read_until(lines, want=2, heartbeats=1)
                    assert [(e["id"], e["event"]) for e in events] == [
                        (mine[0].id, "call.new"),
                        (login.id, "agent.login"),
                    ]
                    data = json.loads(events[0]["data"])
                    assert (data["call_id"], data["tenant"], data["type"]) == ("s1", "acme", "call.new")
            for _ in range(100):  # the listener leaves once the client is gone
                if hub.broadcast.listeners == 0:
                    break
                await asyncio.sleep(0.05)
            assert hub.broadcast.listeners == 0
    finally:
        server.should_exit = True
        await task


def test_stream_live_events_tenant_filtered_with_heartbeats() -> None:
    asyncio.run(_scenario())

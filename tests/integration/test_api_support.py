"""A small hub of real parts for the API tests, and the fixtures built on it.

Real: the stores (memory, SQLite), the tracker, the accepter with the real dialect
encoders, the broadcast, the metrics, the PBX actions. Fake: the AMI connection
(:class:`FakeAmi` answers actions as Asterisk would, or not at all).

Two tenants share the PBX: ``acme`` (extensions 20, 21; queue NOC) and ``globex``
(extension 30; queue SALES).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from callhook.api.app import create_app
from callhook.bootstrap import Clock, Hub, build
from callhook.config import Config
from callhook.core.ami.message import AmiMessage
from callhook.core.directory import Directory
from callhook.core.events import (
    AgentInfo,
    CallOutcome,
    CallParty,
    CallRecord,
    Direction,
    Event,
    EventType,
    QueueCall,
    new_event_id,
)
from callhook.store.memory import MemoryStore
from callhook.store.sqlite import SqliteStore

ADMIN = "admin-token-0123456789"
TOKEN_A = "acme-token-abcdef"
TOKEN_B = "globex-token-uvwxyz"
T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)

DIRECTORY = {
    "tenant": "acme",
    "extensions": [
        {"number": "20", "name": "Jana", "login": "jana", "channel": "PJSIP/20", "tenant": "acme"},
        {"number": "21", "name": "Petr", "login": "petr", "channel": "PJSIP/21", "tenant": "acme"},
        {"number": "30", "name": "Olga", "login": "olga", "channel": "PJSIP/30", "tenant": "globex"},
    ],
    "trunks": [{"name": "trunk", "channel": "PJSIP/trunk", "outbound_prefix": "0"}],
    "queues": [
        {"name": "NOC", "members": ["20", "21"], "service_level": 20},
        {"name": "SALES", "members": ["30"], "service_level": 10, "tenant": "globex"},
    ],
}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class FakeAmi:
    """Answers AMI actions like Asterisk: Success, an Error with a message, or silence."""

    def __init__(self) -> None:
        self.connected = True
        self.actions: list[tuple[str, list[tuple[str, str]]]] = []
        self.answer = "Success"
        self.message = ""
        self.hang = False
        self.reconnects = 3

    async def send_action(
        self,
        name: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 10.0,  # noqa: ASYNC109 -- the AmiLike protocol
    ) -> AmiMessage:
        self.actions.append((name, list(headers)))
        if self.hang:
            await asyncio.sleep(3600)
        return AmiMessage.of(("Response", self.answer), ("Message", self.message))

    async def collect(
        self,
        name: str,
        headers: Sequence[tuple[str, str]] = (),
        timeout: float = 10.0,  # noqa: ASYNC109 -- the AmiLike protocol
    ) -> list[AmiMessage]:
        return []


class HandClock(Clock):
    """A clock the tests move by hand (``t``: Unix seconds)."""

    def __init__(self) -> None:
        super().__init__(UTC)
        self.t = time.time()

    def now(self) -> float:
        return self.t


def fake_connect(url: str, on_message: Any, on_connect: Any) -> FakeAmi:
    return FakeAmi()


def make_hub(
    store: Any,
    *,
    extra: dict[str, Any] | None = None,
    max_body_bytes: int = 1 << 20,
    settings: dict[str, Any] | None = None,
    **parts: Any,
) -> Hub:
    """The composition root's hub (``callhook.bootstrap.build``) of real parts on ``store``,
    with the two tenants' directory, a hand-moved clock and a fake AMI connection;
    ``settings``: further Config fields; ``parts``: further parts for ``build``."""
    config = Config(
        database_url="memory://",
        admin_token=ADMIN,
        ami_url="ami://test:test@127.0.0.1:5038",
        max_body_bytes=max_body_bytes,
        extra={"tenant_tokens": {TOKEN_A: "acme", TOKEN_B: "globex"}, **(extra or {})},
        **(settings or {}),
    )
    kw: dict[str, Any] = {"directory": Directory.from_mapping(DIRECTORY), "clock": HandClock(), "connect": fake_connect}
    return build(config, store=store, **{**kw, **parts})


class Api:
    """A TestClient on a make_hub, with helpers to run coroutines on the app's loop."""

    def __init__(self, hub: Hub, client: TestClient, app: FastAPI) -> None:
        self.hub = hub
        self.client = client
        self.app = app

    def run(self, coro: Any) -> Any:
        assert self.client.portal is not None
        return self.client.portal.call(lambda: coro)

    def accept(self, *events: Event) -> None:
        self.run(self.hub.accept(list(events)))

    def get(self, url: str, token: str = ADMIN, **kw: Any) -> Any:
        return self.client.get(url, headers=auth(token), **kw)

    def post(self, url: str, token: str = ADMIN, **kw: Any) -> Any:
        return self.client.post(url, headers=auth(token), **kw)

    def put(self, url: str, token: str = ADMIN, **kw: Any) -> Any:
        return self.client.put(url, headers=auth(token), **kw)

    def patch(self, url: str, token: str = ADMIN, **kw: Any) -> Any:
        return self.client.patch(url, headers=auth(token), **kw)

    def delete(self, url: str, token: str = ADMIN, **kw: Any) -> Any:
        return self.client.delete(url, headers=auth(token), **kw)


def make_api(store: Any, tmp: Path | None = None, **kw: Any) -> Iterator[Api]:
    hub = make_hub(store, **kw)
    app = create_app(hub)
    with TestClient(app) as client:
        api = Api(hub, client, app)
        api.run(store.open())
        yield api
        api.run(hub.ingest.close())
        api.run(hub.accepter.close())
        api.run(hub.sender.close())
        api.run(store.close())


def store_for(kind: str, tmp: Path) -> Any:
    """A fresh store of ``kind`` (memory or sqlite)."""
    if kind == "memory":
        return MemoryStore()
    # NORMAL: these tests are about the API, not about surviving a power cut
    return SqliteStore(str(tmp / "callhook.db"), synchronous="NORMAL")


@pytest.fixture(params=["memory", "sqlite"])
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    yield from make_api(store_for(request.param, tmp_path))


@pytest.fixture
def mapi() -> Iterator[Api]:
    """Memory store only: for tests about the API itself, not the storage."""
    yield from make_api(MemoryStore())


# ------------------------------------------------------------------ events
_n = 0


def ev(etype: EventType, call_id: str = "", *, tenant: str = "acme", at: timedelta = timedelta(0), **kw: Any) -> Event:
    global _n
    _n += 1
    ts = T0 + at
    return Event(
        id=new_event_id(int(ts.timestamp() * 1000), _n.to_bytes(10, "big")),
        type=etype,
        ts=ts,
        tenant=tenant,
        call_id=call_id,
        seq=_n,
        **kw,
    )


def ended_call(
    call_id: str,
    caller: str,
    called: str,
    *,
    answered: bool,
    tenant: str = "acme",
    direction: Direction = Direction.INCOMING,
    at: timedelta = timedelta(0),
    by: str = "20",
    duration: int = 60,
) -> list[Event]:
    """The events an ended call leaves: call.new, call.ended, call.record."""
    party = CallParty(
        caller_num=caller,
        called_num=called,
        direction=direction,
        caller_type="external" if direction is Direction.INCOMING else "internal",
        record_name=f"20240506-090000-{caller}-{called}",
    )
    outcome = CallOutcome(answered=answered, answering_exten=by if answered else "", missed=not answered)
    start, end = T0 + at, T0 + at + timedelta(seconds=duration)
    record = CallRecord(
        start=start,
        end=end,
        answer=start + timedelta(seconds=5) if answered else None,
        duration=duration,
        billsec=duration - 5 if answered else 0,
        disposition="ANSWERED" if answered else "NO ANSWER",
        answered_by=by if answered else "",
        source=caller,
        destination=called,
    )
    end_at = at + timedelta(seconds=duration)
    return [
        ev(EventType.CALL_NEW, call_id, tenant=tenant, at=at, party=party),
        ev(EventType.CALL_ENDED, call_id, tenant=tenant, at=end_at, party=party, outcome=outcome),
        ev(EventType.CALL_RECORD, call_id, tenant=tenant, at=end_at, party=party, outcome=outcome, record=record),
    ]


def queue_visit(
    call_id: str,
    queue: str,
    *,
    wait: float | None,
    talk: float = 0.0,
    abandoned: bool = False,
    tenant: str = "acme",
    at: timedelta = timedelta(0),
) -> list[Event]:
    """queue.joined, then bridged after ``wait`` seconds (None: never) and left."""
    out = [ev(EventType.QUEUE_JOINED, call_id, tenant=tenant, at=at, queue=queue, queue_call=QueueCall())]
    if wait is not None:
        out.append(
            ev(
                EventType.QUEUE_BRIDGED,
                call_id,
                tenant=tenant,
                at=at + timedelta(seconds=wait),
                queue=queue,
                queue_call=QueueCall(wait=wait),
            )
        )
        out.append(
            ev(
                EventType.QUEUE_LEFT,
                call_id,
                tenant=tenant,
                at=at + timedelta(seconds=wait + talk),
                queue=queue,
                queue_call=QueueCall(wait=wait, call_bill_sec=talk, call_voice_sec=talk, cc_result="success"),
            )
        )
    else:
        out.append(
            ev(
                EventType.QUEUE_LEFT,
                call_id,
                tenant=tenant,
                at=at + timedelta(seconds=30),
                queue=queue,
                queue_call=QueueCall(wait=30, cc_result="abandoned" if abandoned else "cancel"),
            )
        )
    return out


def agent_event(etype: EventType, number: str, *, tenant: str = "acme", queue: str = "NOC") -> Event:
    return ev(
        etype,
        tenant=tenant,
        queue=queue,
        agent=AgentInfo(login=f"l{number}", number=number, extension_name=f"{number}@{tenant}"),
    )


def test_support_hub_builds(mapi: Api) -> None:
    assert mapi.client.get("/healthz").json()["status"] == "ok"

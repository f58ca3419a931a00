"""The accept loop on a real store: one event that cannot be stored fails alone (the
commit is split to find it), a repairable one is stored with its values bounded, and
a store that fails fails the waiting ingest callers while AMI events are kept."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callhook.core import dialects
from callhook.core.bounds import MAX_INT
from callhook.core.events import CallParty, Event, EventType, QueueCall, new_event_id
from callhook.core.subscription import Dialect, Subscription
from callhook.delivery.accept import Accepter, Rejected
from callhook.store import open_store
from callhook.store.base import DeliveryQuery, EventQuery, NewEvent, StoreError

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'c.db'}"
    pg: str = request.getfixturevalue("pg_db_url")
    return pg


def ev(n: int, **kw: Any) -> Event:
    base = Event(
        id=new_event_id(1_800_000_000_000 + n),
        type=EventType.CALL_NEW,
        ts=T0,
        tenant="acme",
        call_id=f"c{n}",
        seq=1,
        party=CallParty(caller_num="777888999", called_num="20"),
    )
    return dataclasses.replace(base, **kw)


async def _run(url: str, body: Any) -> Any:
    store = open_store(url)
    await store.open()
    try:
        await store.put_subscription(
            Subscription(id="s1", url="http://crm.example/", dialect=Dialect.CALLHOOK, tenant="acme"), 0.0
        )
        return await body(store)
    finally:
        await store.close()


def test_one_bad_event_fails_alone_and_the_batch_is_stored(url: str) -> None:
    async def body(store: Any) -> None:
        acc = Accepter(store, dialects.encode)
        good = [ev(i) for i in range(40)]
        bad = ev(40, call_id=None)  # a source bug: NOT NULL refuses it, bounding cannot help
        fixable = ev(41, type=EventType.QUEUE_JOINED, queue="NOC", queue_call=QueueCall(position=2**64))
        acc.enqueue([fixable])  # the AMI path's way in, in the same commit
        results = await asyncio.gather(
            *(acc.accept([e]) for e in [*good[:20], bad, *good[20:]]), return_exceptions=True
        )
        await acc.close()
        assert [r for r in results if isinstance(r, BaseException)] == [results[20]]
        assert isinstance(results[20], Rejected)
        assert results[20].event_id == bad.id
        assert all(r == 1 for i, r in enumerate(results) if i != 20)  # one delivery each
        assert acc.commit_failures >= 2
        assert acc.unstored == 1
        assert acc.repaired == 1
        assert acc.last_unstored is not None
        assert "null" in acc.last_unstored[1].lower()
        stored = {e.id: e for e in (await store.list_events(EventQuery(limit=100))).items}
        assert set(stored) == {e.id for e in good} | {fixable.id}
        qc = stored[fixable.id].queue_call
        assert qc is not None
        assert qc.position == MAX_INT
        page = await store.list_deliveries(DeliveryQuery(limit=100))
        assert len(page.items) == 41

    asyncio.run(_run(url, body))


class Down:
    """A store whose appends fail as a database that went away does (a seam: the real
    failure modes are the drivers' OperationalErrors, wrapped in StoreError)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.down = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        if self.down:
            raise StoreError("sqlite: database is locked")
        n: int = await self._store.append(items, now)
        return n


def test_a_failing_store_fails_ingest_callers_and_keeps_ami_events(url: str) -> None:
    async def body(store: Any) -> None:
        down = Down(store)
        acc = Accepter(down, dialects.encode, retry_initial=0.01, retry_cap=0.02)
        acc.enqueue([ev(1), ev(2)])
        with pytest.raises(StoreError):
            await acc.accept([ev(3)])
        assert acc.stalled_since is not None
        assert "locked" in acc.stall_reason
        assert acc.pending == 2  # the AMI events wait at the head of the queue
        down.down = False
        await acc.close()
        assert acc.stalled_since is None
        assert acc.pending == 0
        assert acc.unstored == 0
        stored = [e.call_id for e in (await store.list_events(EventQuery(limit=10))).items]
        assert sorted(stored) == ["c1", "c2"]

    asyncio.run(_run(url, body))

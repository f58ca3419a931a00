"""Two processes appending the same events at once (two readers of one PBX, or a
takeover overlapping the old reader's last batch): each id is stored once, with its
deliveries once, and neither append fails (docs/delivery.md, "Event ids")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callhook.core.events import EventType
from callhook.store import open_store
from callhook.store.base import EventQuery, NewDelivery, NewEvent

from delivery_kit import fake_encode, make_event, make_sub

T0 = 1_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "callhook.db")
    url: str = request.getfixturevalue("pg_db_url")
    return url


def _batch(n: int) -> list[NewEvent]:
    out = []
    for seq in range(1, n + 1):
        call = f"c{seq % 7}"
        ev = make_event(call, seq, EventType.CALL_RINGING)
        req = fake_encode(ev, make_sub("s", "http://127.0.0.1:9/s"))
        assert req is not None
        out.append(NewEvent(ev, (NewDelivery("s", "acme", call, req, T0, None),)))
    return out


def test_the_same_events_appended_concurrently_are_stored_once(shared_url: str) -> None:
    batches = [_batch(40) for _ in range(5)]

    async def main() -> None:
        a, b = open_store(shared_url), open_store(shared_url)
        await a.open()
        await b.open()
        try:
            created = 0
            for batch in batches:
                # both "readers" append the same batch, in opposite orders, at the same time
                got = await asyncio.gather(a.append(batch, T0), b.append(list(reversed(batch)), T0))
                created += sum(got)
            assert created == 200, "each event's delivery is created by exactly one of the two"
            counts = await a.counts()
            assert counts.backlog == 200
            page = await b.list_events(EventQuery(limit=500))
            assert sorted(e.id for e in page.items) == sorted(i.event.id for batch in batches for i in batch)
        finally:
            await a.close()
            await b.close()

    asyncio.run(main())

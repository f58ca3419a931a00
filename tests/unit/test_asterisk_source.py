"""The Asterisk pipeline never drops events the tracker made: a failing store is retried."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from callhook.core.events import Event, EventType
from callhook.core.tracker.tracker import Tracker
from callhook.sources.asterisk import AsteriskSource

from labdata import ids, lab_directory, messages


def test_store_failures_are_retried_in_order() -> None:
    stored: list[Event] = []
    failures = {"left": 3}

    async def accept(events: Sequence[Event]) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OSError("disk full")
        stored.extend(events)

    source = AsteriskSource(Tracker(lab_directory(), ids()), accept, lambda: datetime.now(UTC))

    async def main() -> None:
        for msg in messages("inbound_direct_answered"):
            await source.on_message(msg)

    asyncio.run(main())
    assert source.accept_failures == 3
    assert next(e.type for e in stored) is EventType.CALL_NEW
    assert stored[-1].type is EventType.CALL_RECORD
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))

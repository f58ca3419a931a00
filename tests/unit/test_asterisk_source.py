"""The Asterisk pipeline: the reader never waits for the disk, never drops what the
tracker made (a failing store is retried in order), waits only when the queue is full,
and one poisoned header cannot stop capture."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callhook.core import dialects
from callhook.core.ami.codec import AmiParser
from callhook.core.bounds import MAX_INT
from callhook.core.events import Event, EventType
from callhook.core.tracker.tracker import Tracker
from callhook.delivery.accept import Accepter
from callhook.metrics import Metrics
from callhook.sources.asterisk import AsteriskSource
from callhook.store.base import EventQuery, NewEvent
from callhook.store.memory import MemoryStore
from callhook.store.sqlite import SqliteStore

from labdata import FIXTURES, ids, lab_directory, messages, truth


class FlakyStore(MemoryStore):
    """A memory store whose first appends fail as a full disk does, or that holds appends."""

    def __init__(self, fail: int = 0) -> None:
        super().__init__()
        self.fail = fail
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def append(self, items: Sequence[NewEvent], now: float) -> int:
        self.calls += 1
        await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise OSError("disk full")
        return await super().append(items, now)


async def all_events(store: MemoryStore | SqliteStore) -> list[Event]:
    page = await store.list_events(EventQuery(limit=1000))
    return sorted(page.items, key=lambda e: (e.call_id, e.seq))


def test_store_failures_are_retried_in_order() -> None:
    async def main() -> list[Event]:
        store = FlakyStore(fail=3)
        await store.open()
        acc = Accepter(store, dialects.encode, retry_initial=0.001)
        source = AsteriskSource(Tracker(lab_directory(), ids()), acc, lambda: datetime.now(UTC))
        for msg in messages("inbound_direct_answered"):
            await source.on_message(msg)  # returns without waiting for the store
        await acc.close()
        assert acc.commit_failures == 3
        assert acc.pending == 0
        assert acc.stalled_since is None
        return await all_events(store)

    stored = asyncio.run(main())
    assert stored[0].type is EventType.CALL_NEW
    assert stored[-1].type is EventType.CALL_RECORD
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))


def test_the_reader_does_not_wait_for_commits_until_the_queue_is_full() -> None:
    async def main() -> None:
        store = FlakyStore()
        await store.open()
        store.gate.clear()  # the disk is slow: no commit finishes for now
        acc = Accepter(store, dialects.encode, max_pending=8)
        source = AsteriskSource(Tracker(lab_directory(), ids()), acc, lambda: datetime.now(UTC))
        msgs = messages("inbound_ringall_answered")
        blocked: asyncio.Task[None] | None = None
        fed = 0
        for msg in msgs:
            task = asyncio.ensure_future(source.on_message(msg))
            await asyncio.wait({task}, timeout=0.5)  # returns at once unless the reader must wait
            if not task.done():
                blocked = task
                break
            fed += 1
        assert blocked is not None  # the reader stopped: more than 8 events unwritten
        assert acc.backpressure == 1
        assert acc.pending > 8
        assert fed < len(msgs) - 1
        store.gate.set()
        await asyncio.wait_for(blocked, 5)
        for msg in msgs[fed + 1 :]:
            await source.on_message(msg)
        await acc.close()
        assert acc.pending == 0
        assert acc.backpressure_seconds > 0
        assert acc.commits < source.events  # batched: fewer commits than events
        assert len(await all_events(store)) == source.events

    asyncio.run(main())


def _poisoned(name: str) -> bytes:
    raw = (FIXTURES / f"{name}.ami").read_bytes()
    assert b"\r\nPosition: 1\r\n" in raw
    return raw.replace(b"\r\nPosition: 1\r\n", b"\r\nPosition: 18446744073709551616\r\n", 1)


def test_a_poisoned_header_is_clamped_and_capture_goes_on(tmp_path: Path) -> None:
    """``Position: 2**64`` once stopped all capture (orjson failed, the store retried forever)."""
    name = "inbound_ringall_answered"
    facts = truth(name)["truth"]

    async def main() -> tuple[list[Event], AsteriskSource, Accepter]:
        store = SqliteStore(str(tmp_path / "c.db"), synchronous="NORMAL")
        await store.open()
        acc = Accepter(store, dialects.encode)
        source = AsteriskSource(Tracker(lab_directory(), ids()), acc, lambda: datetime.now(UTC))
        parser = AmiParser()
        for msg in parser.feed(_poisoned(name)) + messages("inbound_direct_answered"):
            await source.on_message(msg)
        await acc.close()
        out = await all_events(store)
        await store.close()
        return out, source, acc

    stored, source, acc = asyncio.run(main())
    assert len(stored) == source.events
    assert acc.unstored == 0
    joined = [e for e in stored if e.type is EventType.QUEUE_JOINED]
    assert [e.queue for e in joined] == [facts["queue"]]
    assert joined[0].queue_call is not None
    assert joined[0].queue_call.position == MAX_INT
    queued = [e for e in stored if e.type.is_queue and e.queue_call is not None]
    assert {e.queue_call.position for e in queued if e.queue_call} == {MAX_INT}  # the tracker carries it on
    assert source.bounded == {"int": len(queued)}
    answered = {e.leg.number for e in stored if e.type is EventType.CALL_ANSWERED and e.leg}
    assert facts["answered_by"] in answered
    calls = {e.call_id for e in stored if e.type is EventType.CALL_RECORD}
    assert len(calls) == 2  # the next call after the poisoned one was captured too


def test_an_input_the_tracker_did_not_expect_is_logged_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """A Hold for a leg that was refused busy (the tables have no such pair): the state
    stays, the first one of that kind is logged, every one is counted (and exported)."""
    (hold,) = AmiParser().feed(
        b"Asterisk Call Manager/7.0.3\r\nEvent: Hold\r\nPrivilege: call,all\r\nChannel: IAX2/22-548\r\n"
        b"Uniqueid: 1795270996.18\r\nLinkedid: 1795270996.17\r\n\r\n"
    )

    async def main() -> AsteriskSource:
        store = MemoryStore()
        await store.open()
        acc = Accepter(store, dialects.encode)
        source = AsteriskSource(Tracker(lab_directory(), ids()), acc, lambda: datetime.now(UTC))
        for msg in messages("inbound_direct_busy"):
            await source.on_message(msg)
            if msg.event == "DialEnd" and msg.get("DialStatus") == "BUSY":  # 22 refused the call
                await source.on_message(hold)
                await source.on_message(hold)
        await acc.close()
        return source

    with caplog.at_level(logging.WARNING, logger="callhook.sources.asterisk"):
        source = asyncio.run(main())
    told = [r for r in caplog.records if "did not expect hold in state failed" in r.getMessage()]
    assert len(told) == 1
    assert source.tracker.unexpected[("leg", "failed", "hold")] == 2
    metrics = Metrics()
    metrics.capture(_Counters(), [_Link(source)])
    text = metrics.render().decode()
    assert 'callhook_tracker_unexpected_total{input="hold",machine="leg",state="failed"} 2.0' in text


class _Link:
    """What the metrics read of a PBX link: its source, tracker and AMI client."""

    def __init__(self, source: AsteriskSource) -> None:
        self.source, self.tracker, self.ami = source, source.tracker, None


class _Counters:
    """The accepter's counters at rest (only the source is looked at here)."""

    pending = commits = commit_failures = unstored = repaired = backpressure = window_count = 0
    backpressure_seconds = window_sum = 0.0
    stalled_since = None

    def take_window_max(self) -> float:
        return 0.0

"""The hub end to end: a recording with a MixMonitor VarSet replayed by a fake Asterisk on
127.0.0.1, through the AMI client, tracker and store: the stored call events carry the
PBX's recording name (core/recordings.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from callhook.bootstrap import build
from callhook.config import Config
from callhook.core.events import EventType
from callhook.store.base import EventQuery
from callhook.store.memory import MemoryStore

from labdata import MIXMONITOR_PATH, lab_directory, with_mixmonitor

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from replay_ami import ReplayAmi


def test_the_hub_names_the_recording(tmp_path: Path) -> None:
    ami_file = tmp_path / "mixmonitor.ami"
    ami_file.write_bytes(with_mixmonitor("inbound_ringall_answered", MIXMONITOR_PATH))
    fake = ReplayAmi(ami_file).start()

    async def go() -> list[Any]:
        config = Config(database_url="memory://", ami_url=f"ami://lab:labsecret@127.0.0.1:{fake.port}")
        hub = build(config, store=MemoryStore(), directory=lab_directory(), admin_token="admin-token-0123456789")
        await hub.start()
        try:
            deadline = time.monotonic() + 15
            while not hub.ami_connected:
                assert time.monotonic() < deadline, "no AMI connection"
                await asyncio.sleep(0.02)
            fake.go()
            while True:
                page = await hub.store.list_events(EventQuery(type=EventType.CALL_RECORD.value, limit=10))
                if page.items:
                    break
                assert time.monotonic() < deadline, "the call did not end"
                await asyncio.sleep(0.02)
            return list(await hub.store.call_events(page.items[0].call_id))
        finally:
            await hub.stop()

    try:
        events = asyncio.run(go())
    finally:
        fake.stop()
    names = [e.party.record_name for e in events]
    # the recording is finished when the call has ended: call.recording right after the CDR
    assert [e.type for e in events[-2:]] == [EventType.CALL_RECORD, EventType.CALL_RECORDING]
    rec, cdr = events[-1], events[-2]
    assert rec.variables == {"file": MIXMONITOR_PATH, "name": "1795270964.0"}
    assert (rec.call_id, rec.seq, rec.ts, rec.tenant) == (cdr.call_id, cdr.seq + 1, cdr.ts, cdr.tenant)
    assert rec.id > cdr.id
    assert names[0] == "20261121-142244-777888999-222333444"  # call.new: before MixMonitor started
    assert names[-1] == "1795270964.0"  # call.ended and the CDR: the PBX's file

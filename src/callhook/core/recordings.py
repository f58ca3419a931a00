"""The PBX's own recording name for PBX2IS ``record_name`` (seed 003), when the PBX records.

Asterisk's MixMonitor application sets the channel variable ``MIXMONITOR_FILENAME``
to the file it records into, and with all events on the AMI shows that as a
``VarSet`` (``Variable: MIXMONITOR_FILENAME``, ``Value: /var/spool/asterisk/monitor/
<name>.wav``, with the channel's ``Linkedid``); a queue with ``monitor-type =
MixMonitor`` does the same when the agent answers. ``MixMonitorStart`` (Asterisk 16+)
says only that it started, without the file. None of the lab's recordings records a
call (no ``MIXMONITOR_FILENAME`` in tests/fixtures/ami), and the simulator does not
either, so without MixMonitor ``record_name`` stays the seed's pattern
``YYYYMMDD-HHMMSS-<caller>-<called>`` from the call's start.

:class:`RecordingNames` watches the AMI messages and, from the moment the PBX reports
a recording, replaces ``party.record_name`` of the call's events with the file's name
as PBX2IS shows one: the base name without directory and format extension
(``/var/spool/asterisk/monitor/20261121-142244-777888999-222333444.wav`` ->
``20261121-142244-777888999-222333444``). Events before the report keep the pattern.
A call is forgotten once its ``call.record`` (its last event) is stored
(:meth:`RecordingNames.forget`); at most ``limit`` calls are remembered.

``call.recording``: MixMonitor writes the file until the call's channels hang up, so
the recording is finished when the call has ended. Right after the ``call.record`` of
a call the PBX recorded, :meth:`RecordingNames.apply` adds a ``call.recording`` event
(the call's next ``seq``, the same time, party and tenant) whose ``variables`` carry
``file`` (the path as the PBX reported it) and ``name`` (the base name, as above).
Its id is derived from the call.record's (a repeated call.record gives the same id,
so it is stored once). With a ``link`` (the hub's, when a recordings directory and a
public URL are configured) it also carries ``download_url``: a signed link to the
file served by callhook, valid for the configured days from the call's end
(:mod:`callhook.core.recording_links`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace

from callhook.core.ami.message import AmiMessage
from callhook.core.events import Event, EventType

__all__ = ["RecordingNames", "recording_event", "recording_name"]

VARIABLE = "MIXMONITOR_FILENAME"
_FORMAT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")  # wav, WAV, wav49, gsm, sln16, ulaw ...


def recording_name(path: str) -> str:
    """``/var/spool/asterisk/monitor/x-1.wav`` -> ``x-1``; "" for an empty path."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return _FORMAT.sub("", base)


# (file name, the call.record's Unix time) -> its download URL, or "" (none configured)
Linker = Callable[[str, float], str]


class RecordingNames:
    def __init__(self, limit: int = 100_000, link: Linker | None = None) -> None:
        self.limit = limit
        self._link = link
        self._names: dict[str, str] = {}  # Linkedid -> recording name
        self._files: dict[str, str] = {}  # Linkedid -> the file as the PBX reported it

    def observe(self, msg: AmiMessage) -> None:
        """Take note of a ``VarSet`` of ``MIXMONITOR_FILENAME`` (any other message: nothing)."""
        if msg.event != "VarSet" or msg.get("Variable").lstrip("_") != VARIABLE:
            return
        call, name = msg.get("Linkedid") or msg.get("Uniqueid"), recording_name(msg.get("Value"))
        if not call or not name:
            return
        if call not in self._names and len(self._names) >= self.limit:
            oldest = next(iter(self._names))  # the oldest call: memory stays bounded
            self._names.pop(oldest)
            self._files.pop(oldest, None)
        self._names[call] = name
        self._files[call] = msg.get("Value")

    def apply(self, events: Sequence[Event]) -> list[Event]:
        """The events, with the PBX's recording name where the call has one."""
        out = []
        for ev in events:
            name = self._names.get(ev.call_id) if ev.call_id else None
            if name is not None and ev.party.record_name != name:
                ev = replace(ev, party=replace(ev.party, record_name=name))
            out.append(ev)
            if name is not None and ev.type is EventType.CALL_RECORD:
                file = self._files.get(ev.call_id, name)
                url = self._link(file_name(file), ev.ts.timestamp()) if self._link is not None else ""
                out.append(recording_event(ev, file, name, url))
        return out

    def forget(self, events: Sequence[Event]) -> None:
        """Drop the calls whose last event (``call.record``) is among ``events`` (once stored)."""
        for ev in events:
            if ev.type is EventType.CALL_RECORD:
                self._names.pop(ev.call_id, None)
                self._files.pop(ev.call_id, None)


def file_name(path: str) -> str:
    """The file's base name with its format (``/var/.../x-1.wav`` -> ``x-1.wav``)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def recording_event(record: Event, file: str, name: str, download_url: str = "") -> Event:
    """The ``call.recording`` that follows a recorded call's ``call.record``."""
    variables = {"file": file, "name": name}
    if download_url:
        variables["download_url"] = download_url
    return Event(
        id=_next_id(record.id),
        type=EventType.CALL_RECORDING,
        ts=record.ts,
        tenant=record.tenant,
        call_id=record.call_id,
        seq=record.seq + 1,
        party=record.party,
        variables=variables,
        source=record.source,
    )


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _next_id(ulid: str) -> str:
    """The ULID right after ``ulid`` (same time, randomness + 1): sorts just after it."""
    n = 0
    for ch in ulid.upper():
        n = n * 32 + _CROCKFORD.index(ch)
    n = (n + 1) % (1 << 130)
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[n & 31])
        n >>= 5
    return "".join(reversed(out))

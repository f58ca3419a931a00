"""``call.recording``'s download link: signed and expiring, served by callhook from the
recordings directory; bad names, signatures and expired links refused."""
# ruff: noqa: F811 -- the fixtures imported from test_api_support are the test parameters

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from test_api_support import ADMIN, Api, make_api, mapi  # noqa: F401

from callhook.api.recordings import link_key, recording_linker
from callhook.config import Config
from callhook.core.ami.codec import AmiParser
from callhook.core.events import EventType
from callhook.core.recording_links import link
from callhook.core.recordings import RecordingNames
from callhook.core.tracker.tracker import Tracker
from callhook.store.memory import MemoryStore

from labdata import MIXMONITOR_PATH, NOW, ids, lab_directory, with_mixmonitor

AUDIO = b"RIFF....WAVEfmt fake audio bytes"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    """A hub that serves the recordings of ``tmp_path/monitor`` at a public URL."""
    rec = tmp_path / "monitor"
    rec.mkdir()
    (rec / "1795270964.0.wav").write_bytes(AUDIO)
    (tmp_path / "secret.txt").write_text("not a recording")
    settings = {"recordings_dir": str(rec), "public_url": "https://hub.example.com"}
    for api in make_api(MemoryStore(), settings=settings):
        yield api, rec


def _path(url: str) -> str:
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


def test_the_call_recording_event_carries_a_link_that_downloads_the_file(served: tuple[Api, Path]) -> None:
    api, _ = served
    names = RecordingNames(link=recording_linker(api.hub.config, ADMIN))
    tracker, events = Tracker(lab_directory(), ids()), []
    for msg in AmiParser().feed(with_mixmonitor("inbound_ringall_answered", MIXMONITOR_PATH)):
        names.observe(msg)
        events += names.apply(tracker.feed(msg, NOW))
    [rec] = [e for e in events if e.type is EventType.CALL_RECORDING]
    record = next(e for e in events if e.type is EventType.CALL_RECORD)
    url = rec.variables["download_url"]
    assert url.startswith("https://hub.example.com/recordings/1795270964.0.wav?expires=")
    expires = int(url.split("expires=")[1].split("&")[0])
    assert expires == int(record.ts.timestamp() + 7 * 86400)  # the default: 7 days from the call's end
    api.hub.clock.t = record.ts.timestamp() + 60  # type: ignore[attr-defined]
    r = api.client.get(_path(url))
    assert r.status_code == 200, r.text
    assert r.content == AUDIO
    assert r.headers["content-type"] == "audio/x-wav"
    # expired
    api.hub.clock.t = expires + 1  # type: ignore[attr-defined]
    assert api.client.get(_path(url)).status_code == 410


def test_bad_links_are_refused(served: tuple[Api, Path]) -> None:
    api, rec = served
    key, now = link_key(ADMIN), int(api.hub.now())
    good = _path(link("https://h", key, "1795270964.0.wav", now + 60))
    assert api.client.get(good).status_code == 200
    assert api.client.get(good.replace("sig=", "sig=0")[:-1]).status_code == 403  # another signature
    other_key = _path(link("https://h", link_key("another-admin-token"), "1795270964.0.wav", now + 60))
    assert api.client.get(other_key).status_code == 403
    # a link for one file does not open another
    assert api.client.get(good.replace("1795270964.0.wav", "x.wav")).status_code == 403
    # names that are not plain file names: 400, whatever the signature (a bare ".." never
    # reaches the route: the client resolves it as a path segment)
    sig = "0" * 64
    for name in (".hidden", "a..b", "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt", "a%20b.wav", "a%00b"):
        r = api.client.get(f"/recordings/{name}?expires={now + 60}&sig={sig}")
        assert r.status_code in (400, 404), (name, r.status_code)
        assert r.content != b"not a recording"
    # a signed name that leads outside the directory through a link: 404
    os.symlink(rec.parent / "secret.txt", rec / "escape.wav")
    assert api.client.get(_path(link("https://h", key, "escape.wav", now + 60))).status_code == 404
    assert api.client.get(_path(link("https://h", key, "missing.wav", now + 60))).status_code == 404
    assert api.client.get("/recordings/1795270964.0.wav?expires=1&sig=xyz").status_code == 422
    assert api.client.get("/recordings/1795270964.0.wav").status_code == 422


def test_nothing_is_served_without_a_recordings_directory(mapi: Api) -> None:
    key = link_key(ADMIN)
    assert mapi.client.get(_path(link("https://h", key, "a.wav", int(mapi.hub.now()) + 60))).status_code == 404
    assert recording_linker(Config(), ADMIN) is None  # and no links are made

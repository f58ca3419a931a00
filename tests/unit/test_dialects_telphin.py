"""telphin: seed 004's example (a local agent 136 logs in through the web UI)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from callhook.core.dialects import DecodeError, Payload, telphin
from callhook.core.events import AgentInfo, Event, EventType
from callhook.core.subscription import Dialect, Subscription

T = EventType
TS = datetime(2017, 5, 30, 15, 7, 50, tzinfo=UTC)
GET = Subscription(id="t", url="https://somehost.com/fordel/show.php", dialect=Dialect.TELPHIN, method="GET")
POST = Subscription(id="t", url="https://somehost.com/fordel/show.php", dialect=Dialect.TELPHIN, method="POST")
AGENT_136 = AgentInfo(agent_id="136", number="000*094", extension_name="000*094@ringme.ru", event_source="api")


def ev(etype: EventType, agent: AgentInfo | None) -> Event:
    return Event(id="01HX0000000000000000000000", type=etype, ts=TS, agent=agent)


def test_seed_example_as_get() -> None:
    req = telphin.encode(ev(T.AGENT_LOGIN, AGENT_136), GET)
    assert req is not None
    assert req.method == "GET"
    url = urlsplit(req.url)
    assert (url.scheme, url.netloc, url.path) == ("https", "somehost.com", "/fordel/show.php")
    # the PHP receiver's log in seed 004
    assert dict(parse_qsl(url.query, keep_blank_values=True)) == {
        "agent_status": "available",
        "agent_type": "local",
        "event_source": "api",
        "agent_id": "136",
        "extension_name": "000*094@ringme.ru",
    }
    names = [k for k, _ in parse_qsl(url.query)]
    assert names == ["agent_id", "agent_status", "agent_type", "extension_name", "event_source"]


def test_post_is_a_form_body() -> None:
    req = telphin.encode(ev(T.AGENT_LOGOUT, AGENT_136), POST)
    assert req is not None
    assert req.url == "https://somehost.com/fordel/show.php"
    assert req.header("Content-Type") == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(req.body.decode()))["agent_status"] == "logged_out"


def test_remote_agent_has_agent_number_not_extension_name() -> None:
    remote = AgentInfo(number="+420777888999", agent_type="remote", extension_name="ignored")
    req = telphin.encode(ev(T.AGENT_LOGIN, remote), GET)
    assert req is not None
    assert dict(parse_qsl(req.url.partition("?")[2], keep_blank_values=True)) == {
        "agent_id": "+420777888999",
        "agent_status": "available",
        "agent_type": "remote",
        "agent_number": "+420777888999",
        "event_source": "phone",
    }


def test_agent_id_falls_back_to_the_number_and_phone_is_the_default_source() -> None:
    req = telphin.encode(ev(T.AGENT_LOGIN, AgentInfo(login="janecek", number="163", extension_name="Jan")), GET)
    assert req is not None
    got = dict(parse_qsl(req.url.partition("?")[2]))
    assert (got["agent_id"], got["event_source"], got["agent_type"]) == ("163", "phone", "local")


@pytest.mark.parametrize("etype", [T.AGENT_PAUSED, T.AGENT_UNPAUSED, T.AGENT_WRAPUP, T.CALL_RINGING, T.QUEUE_LEFT])
def test_no_message(etype: EventType) -> None:
    assert telphin.encode(ev(etype, AGENT_136), GET) is None


def decode(payload: Payload) -> Event:
    return telphin.decode(payload, now=TS, new_id=lambda _: "NEWID", tenant="lab")


def test_decode_seed_example() -> None:
    e = decode(
        [
            ("agent_status", "available"),
            ("agent_type", "local"),
            ("event_source", "api"),
            ("agent_id", "136"),
            ("extension_name", "000*094@ringme.ru"),
        ]
    )
    assert (e.type, e.ts, e.id, e.tenant, e.source, e.call_id) == (
        T.AGENT_LOGIN,
        TS,
        "NEWID",
        "lab",
        "ingest:telphin",
        "",
    )
    assert e.agent == AGENT_136


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([("agent_id", "1")], "agent_status"),
        ([("agent_id", "1"), ("agent_status", "busy")], "agent_status"),
        ([("agent_status", "available")], "agent_id"),
        ([("agent_status", "available"), ("agent_id", "1"), ("agent_type", "cloud")], "agent_type"),
        ([("agent_status", "available"), ("agent_id", "1"), ("event_source", "psychic")], "event_source"),
        ("agent_status=available&agent_id=%C3", "body"),
        (None, "body"),
    ],
)
def test_decode_errors_name_the_field(payload: object, field: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(payload)  # type: ignore[arg-type]
    assert info.value.field == field


def test_get_data_in_a_request_header_as_seed_004_says() -> None:
    """Seed 004: "with GET the data is in the request header ... application/x-www-form-urlencoded"."""
    sub = Subscription(
        id="t",
        url="https://somehost.com/fordel/show.php",
        dialect=Dialect.TELPHIN,
        method="GET",
        get_data_header="X-Telphin-Data",
        headers={"x-telphin-data": "replaced", "X-Other": "kept"},
    )
    req = telphin.encode(ev(T.AGENT_LOGIN, AGENT_136), sub)
    assert req is not None
    assert req.url == "https://somehost.com/fordel/show.php"  # nothing in the query string
    data = [v for k, v in req.headers if k.lower() == "x-telphin-data"]
    assert len(data) == 1
    assert dict(parse_qsl(data[0])) == {
        "agent_status": "available",
        "agent_type": "local",
        "event_source": "api",
        "agent_id": "136",
        "extension_name": "000*094@ringme.ru",
    }
    assert req.header("X-Other") == "kept"
    # POST keeps its form body; an invalid header name falls back to the query string
    post = telphin.encode(ev(T.AGENT_LOGIN, AGENT_136), replace(sub, method="POST"))
    assert post is not None
    assert post.header("X-Telphin-Data") == "replaced"  # POST: the subscription's own header, the data in the body
    assert b"agent_id=136" in post.body
    bad = telphin.encode(ev(T.AGENT_LOGIN, AGENT_136), replace(sub, get_data_header="Authorization"))
    assert bad is not None
    assert "agent_id=136" in bad.url


@pytest.mark.parametrize(
    ("name", "ok"), [("X-Telphin-Data", True), ("bad name", False), ("Content-Type", False), ("", False)]
)
def test_data_header_names(name: str, ok: bool) -> None:
    assert telphin.valid_data_header(name) is ok

"""Standard Webhooks signatures, checked against the standard's own library."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from callhook.core.dialects import Request, encode, signing
from callhook.core.events import AgentInfo, CallParty, Event, EventType
from callhook.core.subscription import Dialect, Subscription

KEY = b"0123456789abcdef0123456789abcdef"
WHSEC = "whsec_" + base64.b64encode(KEY).decode()
EVENT = Event(
    id="01HX8Z3K4V0000000000000000",
    type=EventType.CALL_NEW,
    ts=datetime(2024, 5, 6, 10, 11, 12, tzinfo=UTC),
    call_id="1.2",
    party=CallParty(caller_num="777888999", called_num="222333444", caller_type="external"),
)
AGENT = Event(
    id="01HX8Z3K4V0000000000000001",
    type=EventType.AGENT_PAUSED,
    ts=EVENT.ts,
    queue="NOC",
    agent=AgentInfo(login="janecek", pause_reason="Oběd"),
)


def sub(dialect: Dialect, method: str = "POST") -> Subscription:
    return Subscription(id="s", url="http://10.1.2.3:8085/hook?k=1", dialect=dialect, method=method, secret=WHSEC)


def signed(event: Event, dialect: Dialect, method: str = "POST", secret: str = WHSEC) -> tuple[Request, int]:
    req = encode(event, sub(dialect, method))
    assert req is not None
    now = int(time.time())  # tests may read the clock; the library checks against it
    return signing.sign(req, secret, event.id, now), now


def headers(req: Request) -> dict[str, str]:
    return dict(req.headers)


@pytest.mark.parametrize(
    ("event", "dialect", "method"),
    [
        (AGENT, Dialect.VOIPEX, "POST"),
        (EVENT, Dialect.CALLHOOK, "POST"),
        (EVENT, Dialect.PBX2IS, "POST"),
    ],
)
def test_library_verifies_post_bodies(event: Event, dialect: Dialect, method: str) -> None:
    req, _ = signed(event, dialect, method)
    Webhook(WHSEC).verify(req.body, headers(req), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(WHSEC).verify(req.body + b" ", headers(req), json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another key").decode()).verify(req.body, headers(req))


def test_headers() -> None:
    req, now = signed(AGENT, Dialect.VOIPEX)
    assert req.header("webhook-id") == AGENT.id
    assert req.header("webhook-timestamp") == str(now)
    sig = req.header("webhook-signature")
    assert sig is not None
    assert sig.startswith("v1,")
    mac = hmac.new(KEY, f"{AGENT.id}.{now}.".encode() + req.body, hashlib.sha256).digest()
    assert sig == "v1," + base64.b64encode(mac).decode()
    assert req.header("Content-Type") == "application/json"  # the dialect's headers are kept
    again = signing.sign(req, WHSEC, AGENT.id, now + 1)  # re-signing replaces, never duplicates
    assert [k for k, _ in again.headers].count("webhook-signature") == 1


def test_get_signs_the_query_string_as_sent() -> None:
    req, now = signed(EVENT, Dialect.PBX2IS, "GET")
    assert req.body == b""
    query = req.url.partition("?")[2]
    assert query.startswith("k=1&event=dial&ts=2024-05-06T10%3A11%3A12%2B00%3A00&")
    expected = hmac.new(KEY, f"{EVENT.id}.{now}.{query}".encode(), hashlib.sha256).digest()
    assert req.header("webhook-signature") == "v1," + base64.b64encode(expected).decode()
    Webhook(WHSEC).verify(query, headers(req), json_parse=False)  # the library, given the query as content
    assert signing.verify(req, WHSEC, now=now) == EVENT.id


def test_raw_text_secret_is_its_utf8_bytes() -> None:
    req, _ = signed(AGENT, Dialect.VOIPEX, secret="tajné heslo")
    Webhook("tajné heslo".encode()).verify(req.body, headers(req), json_parse=False)
    assert signing.secret_key("tajné heslo") == "tajné heslo".encode()
    assert signing.secret_key(WHSEC) == KEY
    assert signing.secret_key("whsec_" + base64.b64encode(KEY).decode().rstrip("=")) == KEY  # padding optional


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_***not base64***"])
def test_bad_secrets(secret: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        signing.secret_key(secret)


def test_verify_accepts_rotation_and_refuses_tampering() -> None:
    req, now = signed(EVENT, Dialect.CALLHOOK)
    sig = req.header("webhook-signature")
    rotated = Request(req.method, req.url, (*req.headers[:-1], ("webhook-signature", f"v1,AAAA v2,x {sig}")), req.body)
    assert signing.verify(rotated, WHSEC, now=now + 299) == EVENT.id
    with pytest.raises(signing.SignatureError, match="tolerance"):
        signing.verify(req, WHSEC, now=now + 301)
    with pytest.raises(signing.SignatureError, match="no matching"):
        signing.verify(Request(req.method, req.url, req.headers, req.body + b"x"), WHSEC, now=now)
    with pytest.raises(signing.SignatureError, match="missing"):
        signing.verify(Request(req.method, req.url, req.headers[:-1], req.body), WHSEC, now=now)
    get, now = signed(EVENT, Dialect.PBX2IS, "GET")
    tampered = Request(get.method, get.url.replace("caller_num=777888999", "caller_num=666"), get.headers)
    with pytest.raises(signing.SignatureError):
        signing.verify(tampered, WHSEC, now=now)


def test_several_secrets_sign_in_order_and_each_verifies() -> None:
    old = "whsec_" + base64.b64encode(b"an-older-key-of-24-bytes").decode()
    req = encode(EVENT, sub(Dialect.CALLHOOK))
    assert req is not None
    now = int(time.time())
    both = signing.sign(req, (WHSEC, old), EVENT.id, now)
    sigs = headers(both)["webhook-signature"].split(" ")
    assert len(sigs) == 2
    # the first is the current secret's, the second the old one's: HMAC over id.ts.body
    for sig, key in zip(sigs, (KEY, b"an-older-key-of-24-bytes"), strict=True):
        mac = hmac.new(key, f"{EVENT.id}.{now}.".encode() + req.body, hashlib.sha256).digest()
        assert sig == "v1," + base64.b64encode(mac).decode()
    for secret in (WHSEC, old):
        Webhook(secret).verify(both.body, headers(both))
        assert signing.verify(both, secret, now=now) == EVENT.id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(both.body, headers(both))
    assert signing.sign(req, (WHSEC,), EVENT.id, now) == signing.sign(req, WHSEC, EVENT.id, now)
    with pytest.raises(ValueError, match="none given"):
        signing.sign(req, (), EVENT.id, now)


def test_signing_secrets_follow_the_overlap() -> None:
    from dataclasses import replace

    s = replace(sub(Dialect.CALLHOOK), previous_secret="whsec_old", previous_secret_until=1000.0)
    assert s.signing_secrets(999.0) == (WHSEC, "whsec_old")
    assert s.signing_secrets(1000.0) == (WHSEC,)  # the overlap ends at its time
    assert replace(s, previous_secret_until=None).signing_secrets(0.0) == (WHSEC,)
    assert replace(s, secret="", previous_secret="").signing_secrets(0.0) == ()

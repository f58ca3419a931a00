"""The one definition of what is secret: names, URLs, headers, free text and log records."""

from __future__ import annotations

import logging

import pytest

from callhook.delivery.redact import (
    MASK,
    REDACTED,
    RedactingFilter,
    is_secret_name,
    mask_headers,
    mask_url,
    redact_headers,
    redact_text,
    redact_url,
)


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "X-Api-Key",
        "apikey",
        "api_key",
        "token",
        "access_token",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "X-Signature",
        "sig",
        "hash",
        "X-Auth-Hmac",
        "password",
        "pwd",
        "client_secret",
        "Cookie",
        "session_id",
        "X-Telphin-Secret",
        "code",
        "jwt",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["Content-Type", "X-Crm", "call_id", "event", "webhook-id", "webhook-timestamp", "q"])
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_the_attempt_log_keeps_the_signature_of_that_one_request() -> None:
    assert redact_headers((("webhook-signature", "v1,abc"), ("X-Hub-Signature", "sha1=x"))) == (
        ("webhook-signature", "v1,abc"),
        ("X-Hub-Signature", REDACTED),
    )


def test_urls() -> None:
    url = "https://u:PASS@crm.example:8443/h?token=T0K&apikey=K3Y&sig=S1G&call=1#f"
    assert redact_url(url) == (
        "https://crm.example:8443/h?token=%5Bredacted%5D&apikey=%5Bredacted%5D&sig=%5Bredacted%5D&call=1#f"
    )
    assert mask_url(url) == "https://u:****@crm.example:8443/h?token=****&apikey=****&sig=****&call=1#f"
    assert mask_url("http://u@x/") == "http://u@x/"  # a user name without a password stays
    assert mask_url("http://x/{event}?hash={call_id}&a={ts}") == "http://x/{event}?hash=****&a={ts}"
    assert mask_url("http://x:99999/") == MASK  # unparseable: nothing of it


def test_configured_headers_are_masked_whatever_their_name() -> None:
    assert mask_headers({"X-Crm": "1", "X-Api-Key": "k"}) == {"X-Crm": MASK, "X-Api-Key": MASK}


def test_free_text() -> None:
    line = (
        "POST http://u:PASS@h/x?token=T0K failed; Authorization: Bearer AbC123, "
        "secret=whsec_QUJD password: 'pw1' call_id=c1"
    )
    out = redact_text(line)
    for secret in ("PASS", "T0K", "AbC123", "whsec_QUJD", "pw1"):
        assert secret not in out, out
    assert "call_id=c1" in out
    assert "POST http://h/x?token=" in out


def test_log_records_are_redacted_with_their_arguments_and_tracebacks() -> None:
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "sending to %s with %s", ("http://a:PW@h/", "token=TK"), None
    )
    try:
        raise RuntimeError("apikey=K3Y")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    text = logging.Formatter().format(record)
    for secret in ("PW", "TK", "K3Y"):
        assert secret not in text, text

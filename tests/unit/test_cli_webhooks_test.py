"""``callhook webhooks test --wait`` longer than the route's own wait: the attempt seen later
completes the route's answer the way the route itself would have (pure dict logic)."""

from __future__ import annotations

from callhook.cli.ops import _attempted, _verdict


def _result() -> dict[str, object]:
    return {
        "webhook": "wh_1",
        "event_id": "e1",
        "event_type": "call.new",
        "delivery_id": 7,
        "delivery_status": "pending",
        "ok": False,
        "attempt": None,
        "sent": {"method": "POST", "url": "http://crm/x", "headers": [], "body": "{}"},
        "detail": "not attempted within 60s",
    }


def _delivery(status: str, http: int | None, error: str = "") -> dict[str, object]:
    attempt = {"at": 1.0, "status": http, "duration_ms": 12.4, "error": error, "body": "ok"}
    return {"status": status, "attempt_log": [attempt]}


def test_a_late_success() -> None:
    got = _attempted(_result(), _delivery("done", 200))
    assert got["ok"] is True
    assert got["attempt"] == {"at": 1.0, "status": 200, "duration_ms": 12.4, "error": "", "response_body": "ok"}
    assert _verdict(got) == "OK: delivery 7 answered HTTP 200 in 12 ms"


def test_a_late_failure_says_it_will_be_retried() -> None:
    got = _attempted(_result(), _delivery("pending", None, "connect: refused"))
    assert got["ok"] is False
    assert _verdict(got) == "FAILED: delivery 7 is pending: connect: refused after 12 ms; callhook will retry it"

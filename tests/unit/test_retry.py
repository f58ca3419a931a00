"""The retry policy, table-tested: one row per (outcome, attempt) -> step."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import pytest

from callhook.core.retry import (
    DEFAULT_SCHEDULE,
    Action,
    Outcome,
    RetryOverride,
    RetryPolicy,
    check_attempts,
    check_lifetimes,
    check_schedule,
    decide,
    parse_retry_after,
)

NOW = 1_700_000_000.0
P = RetryPolicy(schedule=(10, 60, 600), jitter=0.0, client_error_attempts=2)


@pytest.mark.parametrize(
    ("status", "error", "retry_after", "attempts", "action", "delay"),
    [
        (200, "", None, 1, Action.DONE, None),
        (204, "", None, 3, Action.DONE, None),
        (299, "", None, 1, Action.DONE, None),
        (None, "connect: refused", None, 1, Action.RETRY, 10),
        (None, "timeout: no response", None, 2, Action.RETRY, 60),
        (500, "", None, 1, Action.RETRY, 10),
        (503, "", None, 3, Action.RETRY, 600),
        (503, "", None, 4, Action.DEAD, None),  # schedule exhausted
        (408, "", None, 1, Action.RETRY, 10),
        (429, "", None, 2, Action.RETRY, 60),
        (429, "", "120", 1, Action.RETRY, 120),  # Retry-After later than the schedule wins
        (429, "", "3", 2, Action.RETRY, 60),  # ... an earlier one does not shorten it
        (503, "", "7", 1, Action.RETRY, 10),
        (410, "", None, 1, Action.DEAD, None),
        (404, "", None, 1, Action.RETRY, 10),  # other 4xx: a few tries
        (404, "", None, 2, Action.DEAD, None),  # ... then a dead letter
        (400, "", None, 2, Action.DEAD, None),
        (301, "", None, 1, Action.RETRY, 10),  # redirects are not followed: like a 4xx
        (301, "", None, 2, Action.DEAD, None),
        (100, "", None, 2, Action.DEAD, None),
    ],
)
def test_table(
    status: int | None, error: str, retry_after: str | None, attempts: int, action: Action, delay: float | None
) -> None:
    step = decide(P, Outcome(status, error, retry_after), attempts=attempts, now=NOW, expires_at=None, rand=0.5)
    assert step.action is action
    if delay is None:
        assert step.next_at is None
    else:
        assert step.next_at == pytest.approx(NOW + delay)
    assert step.disable_subscription is (status == 410)
    assert (step.reason == "") is (action is Action.DONE)


def test_reason_names_the_failure() -> None:
    step = decide(P, Outcome(None, "connect: refused"), attempts=1, now=NOW, expires_at=None, rand=0.5)
    assert step.reason == "connect: refused"
    dead = decide(P, Outcome(404), attempts=2, now=NOW, expires_at=None, rand=0.5)
    assert dead.reason == "HTTP 404 (gave up after 2 attempts)"
    gone = decide(P, Outcome(410), attempts=1, now=NOW, expires_at=None, rand=0.5)
    assert "410" in gone.reason


@pytest.mark.parametrize(("rand", "factor"), [(0.0, 0.8), (0.5, 1.0), (0.999999, 1.2)])
def test_jitter_spreads_the_delay(rand: float, factor: float) -> None:
    p = RetryPolicy(schedule=(100,), jitter=0.2)
    step = decide(p, Outcome(500), attempts=1, now=NOW, expires_at=None, rand=rand)
    assert step.next_at == pytest.approx(NOW + 100 * factor, abs=1e-3)


@pytest.mark.parametrize(
    ("expires_in", "action"),
    [(None, Action.RETRY), (11.0, Action.RETRY), (9.0, Action.EXPIRED), (0.0, Action.EXPIRED)],
)
def test_lifetime(expires_in: float | None, action: Action) -> None:
    expires_at = None if expires_in is None else NOW + expires_in
    step = decide(P, Outcome(500), attempts=1, now=NOW, expires_at=expires_at, rand=0.5)
    assert step.action is action


def test_success_after_expiry_is_still_done() -> None:
    assert decide(P, Outcome(200), attempts=5, now=NOW, expires_at=NOW - 1, rand=0.5).action is Action.DONE


def test_default_schedule_spans_about_a_day() -> None:
    assert 22 * 3600 <= sum(DEFAULT_SCHEDULE) <= 26 * 3600
    p = RetryPolicy()
    assert p.lifetime("call.ringing") is not None
    assert p.lifetime("call.ringing") <= 600
    assert p.lifetime("call.record") is None  # CDRs: only the schedule bounds them
    assert p.expires_at("call.ringing", NOW) == NOW + 300
    assert p.expires_at("call.record", NOW) is None


def test_retry_after_is_capped() -> None:
    p = RetryPolicy(schedule=(1,), jitter=0.0, max_retry_after=3600)
    step = decide(p, Outcome(503, retry_after="999999"), attempts=1, now=NOW, expires_at=None, rand=0.5)
    assert step.next_at == NOW + 3600


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("120", 120.0),
        (" 5 ", 5.0),
        (format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True), 90.0),
        (format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True), 0.0),
        ("soon", None),
        ("-5", None),
        ("", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize(
    "kwargs", [{"jitter": 1.0}, {"jitter": -0.1}, {"schedule": (-1.0,)}, {"client_error_attempts": 0}]
)
def test_invalid_policy(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_a_subscription_override_replaces_field_by_field() -> None:
    base = RetryPolicy(
        schedule=(10, 60), jitter=0.0, client_error_attempts=3, lifetimes={"call.ringing": 300.0, "call.new": 900.0}
    )
    assert base.overridden(None) is base
    assert base.overridden(RetryOverride()) is base
    o = base.overridden(RetryOverride(schedule=(1,), lifetimes={"call.ringing": 30.0, "call.new": 0.0}))
    assert o.schedule == (1,)
    assert o.client_error_attempts == 3  # left out: the installation's
    assert o.lifetime("call.ringing") == 30.0
    assert o.lifetime("call.new") is None  # 0 removes the type's lifetime
    assert o.lifetime("queue.offered") is None
    # the override's schedule decides when the 503s stop: after 2 attempts, not 3
    assert decide(o, Outcome(503), attempts=2, now=NOW, expires_at=None, rand=0.5).action is Action.DEAD
    assert decide(base, Outcome(503), attempts=2, now=NOW, expires_at=None, rand=0.5).action is Action.RETRY
    four = base.overridden(RetryOverride(client_error_attempts=1))
    assert decide(four, Outcome(404), attempts=1, now=NOW, expires_at=None, rand=0.5).action is Action.DEAD


@pytest.mark.parametrize(
    ("check", "value", "message"),
    [
        (check_schedule, tuple([1.0] * 51), "at most 50"),
        (check_schedule, (1.0, -1.0), "between 0 and 604800"),
        (check_schedule, (float("nan"),), "between 0 and 604800"),
        (check_schedule, (8 * 86400.0,), "between 0 and 604800"),
        (check_attempts, 0, "between 1 and 100"),
        (check_attempts, 101, "between 1 and 100"),
    ],
)
def test_limits_reject_with_a_reason(check: Any, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check(value)


def test_lifetime_limits() -> None:
    known = frozenset({"call.ringing"})
    assert dict(check_lifetimes({"call.ringing": 0.0}, known)) == {"call.ringing": 0.0}
    with pytest.raises(ValueError, match=r"unknown event type 'call\.exploded'"):
        check_lifetimes({"call.exploded": 5.0}, known)
    with pytest.raises(ValueError, match=r"lifetime of call\.ringing"):
        check_lifetimes({"call.ringing": -1.0}, known)

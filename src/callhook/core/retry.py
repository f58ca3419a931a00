"""The retry policy: the outcome of one delivery attempt -> what happens next.

Theory of operation
-------------------
One pure function, :func:`decide`, takes the outcome of an attempt (an HTTP
status, or none and an error text for a network failure or a timeout), how many
attempts have been made, the time ``now`` and a random number, and returns a
:class:`Step`. It reads no clock and draws no randomness: both come in.

========================================  =========================================
outcome                                    step
========================================  =========================================
2xx                                        DONE
410 Gone                                   DEAD, and the subscription is disabled
network error, timeout, 408, 429, 5xx      RETRY after the schedule's next delay
                                           (jittered), or after ``Retry-After`` if
                                           that is later; DEAD once the schedule
                                           is exhausted
any other status (1xx, 3xx, other 4xx)     RETRY like above, but DEAD once
                                           ``client_error_attempts`` are made
a retry would start after ``expires_at``   EXPIRED (the event's lifetime is over)
========================================  =========================================

The default schedule retries 11 times over about 24 hours. Lifetimes are per event
type: a ringing phone is useless five minutes later, a call record must arrive
even after a day (it is bounded by the schedule only).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import MappingProxyType

__all__ = [
    "DEFAULT_LIFETIMES",
    "DEFAULT_SCHEDULE",
    "Action",
    "Outcome",
    "RetryPolicy",
    "Step",
    "decide",
    "parse_retry_after",
]

# Delays in seconds before retry 1, 2, ...: 10 s, 30 s, 1 min, 5 min, 15 min, 30 min,
# 1 h, 2 h, 4 h, 8 h, 8 h -- 23.9 hours in all, 12 attempts.
DEFAULT_SCHEDULE: tuple[float, ...] = (10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 28800)

# Seconds an event type stays worth delivering; types not named live as long as
# the schedule lets them.
DEFAULT_LIFETIMES: Mapping[str, float] = MappingProxyType(
    {
        "call.new": 900.0,
        "call.ringing": 300.0,
        "queue.offered": 300.0,
    }
)

_RETRYABLE = frozenset({408, 429})


class Action(enum.StrEnum):
    DONE = "done"
    RETRY = "retry"
    DEAD = "dead"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt gave: ``status`` None means no HTTP response at all."""

    status: int | None
    error: str = ""
    retry_after: str | None = None  # the header's raw text


@dataclass(frozen=True, slots=True)
class Step:
    action: Action
    next_at: float | None = None  # only for RETRY
    reason: str = ""  # why it failed, kept on the delivery ("" when DONE)
    disable_subscription: bool = False


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2  # each delay is scaled by a factor in [1 - jitter, 1 + jitter)
    client_error_attempts: int = 3
    max_retry_after: float = 86400.0
    lifetimes: Mapping[str, float] = field(default_factory=lambda: DEFAULT_LIFETIMES)
    default_lifetime: float | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if any(d < 0 for d in self.schedule):
            raise ValueError("schedule delays must not be negative")
        if self.client_error_attempts < 1:
            raise ValueError("client_error_attempts must be at least 1")

    def lifetime(self, event_type: str) -> float | None:
        return self.lifetimes.get(event_type, self.default_lifetime)

    def expires_at(self, event_type: str, created_at: float) -> float | None:
        life = self.lifetime(event_type)
        return None if life is None else created_at + life


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def _describe(outcome: Outcome) -> str:
    if outcome.status is None:
        return outcome.error or "no response"
    return f"HTTP {outcome.status}" + (f": {outcome.error}" if outcome.error else "")


def decide(
    policy: RetryPolicy, outcome: Outcome, *, attempts: int, now: float, expires_at: float | None, rand: float
) -> Step:
    """The next step after ``attempts`` attempts (this one included) ended in ``outcome``.

    ``rand`` is uniform in [0, 1) and only spreads the delay (jitter).
    """
    status = outcome.status
    if status is not None and 200 <= status < 300:
        return Step(Action.DONE)
    reason = _describe(outcome)
    if status == 410:
        return Step(Action.DEAD, reason="410 Gone: the subscription was disabled", disable_subscription=True)
    transient = status is None or status in _RETRYABLE or status >= 500
    if not transient and attempts >= policy.client_error_attempts:
        return Step(Action.DEAD, reason=f"{reason} (gave up after {attempts} attempts)")
    if attempts > len(policy.schedule):
        return Step(Action.DEAD, reason=f"{reason} (gave up after {attempts} attempts)")
    delay = policy.schedule[attempts - 1] * (1.0 - policy.jitter + 2.0 * policy.jitter * rand)
    asked = parse_retry_after(outcome.retry_after, now)
    if asked is not None:
        delay = max(delay, min(asked, policy.max_retry_after))
    next_at = now + delay
    if expires_at is not None and next_at > expires_at:
        return Step(Action.EXPIRED, reason=f"{reason} (lifetime over before the next attempt)")
    return Step(Action.RETRY, next_at=next_at, reason=reason)

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

Where the policy comes from
---------------------------
The installation's policy is built once from the configuration (``retry_schedule``,
``retry_client_error_attempts``, ``retry_lifetimes``: see ``callhook.config``). A
subscription may carry a :class:`RetryOverride`; :meth:`RetryPolicy.overridden`
merges it field by field (a field the override leaves out keeps the installation's
value; override lifetimes are merged into the installation's per event type, and a
lifetime of 0 removes that type's).
:func:`check_schedule`, :func:`check_attempts` and :func:`check_lifetimes` are the
one set of limits both the configuration and the API validate against.
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
    "MAX_CLIENT_ERROR_ATTEMPTS",
    "MAX_DELAY",
    "MAX_SCHEDULE",
    "Action",
    "Outcome",
    "RetryOverride",
    "RetryPolicy",
    "Step",
    "check_attempts",
    "check_lifetimes",
    "check_schedule",
    "decide",
    "merge_lifetimes",
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

MAX_SCHEDULE = 50  # retries in one schedule
MAX_DELAY = 7 * 86400.0  # seconds, one delay or one lifetime
MAX_CLIENT_ERROR_ATTEMPTS = 100


def check_schedule(schedule: tuple[float, ...]) -> tuple[float, ...]:
    """The schedule if it is within limits, else ValueError saying why."""
    if len(schedule) > MAX_SCHEDULE:
        raise ValueError(f"at most {MAX_SCHEDULE} retry delays, got {len(schedule)}")
    for d in schedule:
        if not 0 <= d <= MAX_DELAY:  # also rejects NaN
            raise ValueError(f"each delay must be between 0 and {MAX_DELAY:.0f} seconds, got {d}")
    return schedule


def check_attempts(n: int) -> int:
    if not 1 <= n <= MAX_CLIENT_ERROR_ATTEMPTS:
        raise ValueError(f"attempts for other 4xx must be between 1 and {MAX_CLIENT_ERROR_ATTEMPTS}, got {n}")
    return n


def check_lifetimes(lifetimes: Mapping[str, float], known: frozenset[str]) -> Mapping[str, float]:
    """``known`` is the set of event type names a lifetime may be given for; a
    lifetime of 0 means none (the event lives as long as the schedule lets it)."""
    for name, life in lifetimes.items():
        if name not in known:
            raise ValueError(f"unknown event type {name!r}")
        if not 0 <= life <= MAX_DELAY:  # also rejects NaN
            raise ValueError(f"lifetime of {name} must be between 0 and {MAX_DELAY:.0f} seconds, got {life}")
    return MappingProxyType(dict(lifetimes))


def merge_lifetimes(base: Mapping[str, float], given: Mapping[str, float]) -> Mapping[str, float]:
    """``given`` over ``base``, per event type; a lifetime of 0 removes the type's."""
    merged = {**base, **given}
    return MappingProxyType({k: v for k, v in merged.items() if v > 0})


@dataclass(frozen=True, slots=True)
class RetryOverride:
    """A subscription's own retry settings; None (or an empty mapping) keeps the installation's."""

    schedule: tuple[float, ...] | None = None
    client_error_attempts: int | None = None
    lifetimes: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))

    def __hash__(self) -> int:
        return hash((self.schedule, self.client_error_attempts, tuple(sorted(self.lifetimes.items()))))

    @property
    def empty(self) -> bool:
        return self.schedule is None and self.client_error_attempts is None and not self.lifetimes


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

    def overridden(self, o: RetryOverride | None) -> RetryPolicy:
        """This policy with a subscription's override applied (itself if there is none)."""
        if o is None or o.empty:
            return self
        lifetimes = merge_lifetimes(self.lifetimes, o.lifetimes) if o.lifetimes else self.lifetimes
        return RetryPolicy(
            schedule=self.schedule if o.schedule is None else o.schedule,
            jitter=self.jitter,
            client_error_attempts=self.client_error_attempts
            if o.client_error_attempts is None
            else o.client_error_attempts,
            max_retry_after=self.max_retry_after,
            lifetimes=lifetimes,
            default_lifetime=self.default_lifetime,
        )

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

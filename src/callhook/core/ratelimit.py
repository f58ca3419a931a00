"""A token bucket, as a pure rule: time is passed in, nothing is read from a clock.

``rate`` tokens are added per second up to ``burst``; a request takes one. :func:`take`
answers either "go" (the new bucket) or the moment the next token will be there, so
the caller can defer the request to exactly then instead of polling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Bucket", "default_burst", "take"]


@dataclass(frozen=True, slots=True)
class Bucket:
    """``tokens`` available at time ``at`` (seconds, any monotonic origin)."""

    rate: float  # tokens per second, > 0
    burst: int  # capacity, >= 1
    tokens: float
    at: float

    @classmethod
    def full(cls, rate: float, burst: int, now: float) -> Bucket:
        if not rate > 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        return cls(rate, burst, float(burst), now)


def default_burst(rate: float) -> int:
    """The capacity when none is configured: one second's worth, at least one."""
    return max(1, math.ceil(rate))


def take(b: Bucket, now: float) -> tuple[Bucket, float | None]:
    """(bucket after, None) when a token was taken; (bucket, when the next token is
    there) when none is left. A clock that went backwards adds nothing."""
    elapsed = max(0.0, now - b.at)
    tokens = min(float(b.burst), b.tokens + elapsed * b.rate)
    at = max(now, b.at)
    if tokens >= 1.0:
        return Bucket(b.rate, b.burst, tokens - 1.0, at), None
    return Bucket(b.rate, b.burst, tokens, at), at + (1.0 - tokens) / b.rate

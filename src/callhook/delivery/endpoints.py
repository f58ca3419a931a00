"""Per-endpoint limits: a concurrency cap and a circuit breaker per (scheme, host, port).

One dead or slow CRM must not slow anyone else: each endpoint gets at most
``concurrency`` requests at a time and at most ``max_queued`` claimed deliveries
(sending or waiting to send); past that, deliveries are deferred, not held.

Circuit breaker::

    closed    --N consecutive failures-->  open (for the cool-down)
    open      --cool-down over-->          half-open: one probe goes out, others wait
    half-open --probe succeeds-->          closed
    half-open --probe fails-->             open, cool-down doubled (capped)

A failure is no response, 408, 429 or 5xx; a 2xx is a success; any other status
proves the endpoint is alive and leaves the count alone (it resolves a probe).

Per subscription (:class:`Limits`): its own concurrency cap (``limit_concurrency``) and
a requests-per-second token bucket (``limit_rps``, ``limit_burst``; the rule is
:mod:`callhook.core.ratelimit`). A delivery over either is deferred to the moment a
slot or token will be there: no attempt is counted and its task is free at once, so
it holds up no other subscription or endpoint. The subscription's quota is taken
before the endpoint's, and given back when the endpoint defers the delivery.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from callhook.core.ratelimit import Bucket, default_burst, take

__all__ = [
    "BreakerState",
    "Endpoint",
    "EndpointPolicy",
    "EndpointState",
    "Endpoints",
    "LimitState",
    "Limits",
    "endpoint_key",
    "health",
]


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    concurrency: int = 16
    max_queued: int = 64
    failure_threshold: int = 5
    cooldown: float = 30.0
    max_cooldown: float = 600.0
    busy_retry: float = 0.2  # a deferred delivery of a busy endpoint comes back after this


@dataclass(frozen=True, slots=True)
class EndpointState:
    key: str
    state: BreakerState
    failures: int
    outstanding: int
    open_until: float | None


def health(status: int | None) -> bool | None:
    """True: success; False: counts towards opening the breaker; None: neutral."""
    if status is None or status in (408, 429) or status >= 500:
        return False
    if 200 <= status < 300:
        return True
    return None


@lru_cache(maxsize=4096)
def endpoint_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme, 0)
        return f"{parts.scheme}://{parts.hostname}:{port}"
    except ValueError:
        return url


class Endpoint:
    def __init__(self, key: str, policy: EndpointPolicy) -> None:
        self.key = key
        self.policy = policy
        self.slots = asyncio.Semaphore(policy.concurrency)
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.outstanding = 0
        self.open_until: float | None = None
        self._cooldown = policy.cooldown
        self._probing = False

    def admit(self, now: float) -> float | None:
        """None: go ahead (call :meth:`done` after); else the time to come back."""
        if self.state is BreakerState.OPEN:
            assert self.open_until is not None
            if now < self.open_until:
                return self.open_until
            self.state, self._probing = BreakerState.HALF_OPEN, False
        if self.state is BreakerState.HALF_OPEN:
            if self._probing:
                return now + self.policy.busy_retry * 5
            self._probing = True
        elif self.outstanding >= self.policy.max_queued:
            return now + self.policy.busy_retry
        self.outstanding += 1
        return None

    def blocked_until(self, now: float) -> float | None:
        """After waiting for a slot: the breaker may have opened meanwhile."""
        if self.state is BreakerState.OPEN and self.open_until is not None and now < self.open_until:
            return self.open_until
        return None

    def withdraw(self) -> None:
        """An admitted delivery that was not sent after all."""
        self.outstanding -= 1

    def done(self, result: bool | None, now: float) -> None:
        self.outstanding -= 1
        if result is False:
            self.failures += 1
            if self.state is BreakerState.HALF_OPEN:
                self._cooldown = min(self._cooldown * 2, self.policy.max_cooldown)
                self._open(now)
            elif self.state is BreakerState.CLOSED and self.failures >= self.policy.failure_threshold:
                self._open(now)
        elif result is True or self.state is BreakerState.HALF_OPEN:
            if result is True:
                self.failures = 0
            if self.state is BreakerState.HALF_OPEN:
                self._cooldown = self.policy.cooldown
            self.state, self.open_until, self._probing = BreakerState.CLOSED, None, False

    def try_now(self, now: float) -> bool:
        """An operator's "send now": an open breaker lets its probe go at once (True if it was open)."""
        if self.state is not BreakerState.OPEN:
            return False
        self.open_until = now
        return True

    def _open(self, now: float) -> None:
        self.state, self.open_until, self._probing = BreakerState.OPEN, now + self._cooldown, False

    def snapshot(self) -> EndpointState:
        return EndpointState(self.key, self.state, self.failures, self.outstanding, self.open_until)


class Endpoints:
    def __init__(self, policy: EndpointPolicy | None = None) -> None:
        self.policy = policy or EndpointPolicy()
        self._by_key: dict[str, Endpoint] = {}

    def get(self, url: str) -> Endpoint:
        key = endpoint_key(url)
        ep = self._by_key.get(key)
        if ep is None:
            ep = self._by_key[key] = Endpoint(key, self.policy)
        return ep

    def snapshot(self) -> list[EndpointState]:
        return [ep.snapshot() for _, ep in sorted(self._by_key.items())]


@dataclass(frozen=True, slots=True)
class LimitState:
    """A subscription's limits as this process applies them now."""

    subscription_id: str
    concurrency: int  # 0: none of its own
    rps: float  # 0: no rate limit
    burst: int
    in_flight: int
    deferred: int  # deliveries deferred by these limits since start (no attempt counted)


class _SubLimit:
    def __init__(self, concurrency: int, rps: float, burst: int, now: float) -> None:
        self.concurrency, self.rps, self.burst = concurrency, rps, burst
        self.bucket = Bucket.full(rps, burst, now) if rps > 0 else None
        self.in_flight = 0
        self.deferred = 0


class Limits:
    """Per-subscription concurrency and rate limits (see the module's docstring)."""

    def __init__(self, busy_retry: float = 0.2) -> None:
        self._busy_retry = busy_retry
        self._by_id: dict[str, _SubLimit] = {}

    def _of(self, sub_id: str, concurrency: int, rps: float, burst: int, now: float) -> _SubLimit | None:
        if concurrency <= 0 and rps <= 0:
            self._by_id.pop(sub_id, None)
            return None
        burst = burst if burst > 0 else default_burst(rps) if rps > 0 else 0
        lim = self._by_id.get(sub_id)
        if lim is None or (lim.concurrency, lim.rps, lim.burst) != (concurrency, rps, burst):
            fresh = _SubLimit(concurrency, rps, burst, now)  # a changed limit applies at once
            if lim is not None:
                fresh.in_flight, fresh.deferred = lim.in_flight, lim.deferred
            lim = self._by_id[sub_id] = fresh
        return lim

    def admit(self, sub_id: str, concurrency: int, rps: float, burst: int, now: float) -> float | None:
        """None: go ahead (call :meth:`release` after); else when to come back."""
        lim = self._of(sub_id, concurrency, rps, burst, now)
        if lim is None:
            return None
        if lim.concurrency > 0 and lim.in_flight >= lim.concurrency:
            lim.deferred += 1
            return now + self._busy_retry
        if lim.bucket is not None:
            bucket, later = take(lim.bucket, now)
            lim.bucket = bucket
            if later is not None:
                lim.deferred += 1
                return later
        lim.in_flight += 1
        return None

    def release(self, sub_id: str) -> None:
        lim = self._by_id.get(sub_id)
        if lim is not None and lim.in_flight > 0:
            lim.in_flight -= 1

    def refund(self, sub_id: str) -> None:
        """An admitted delivery that was not sent after all: its slot and token back."""
        lim = self._by_id.get(sub_id)
        if lim is None:
            return
        if lim.in_flight > 0:
            lim.in_flight -= 1
        if lim.bucket is not None:
            b = lim.bucket
            lim.bucket = Bucket(b.rate, b.burst, min(float(b.burst), b.tokens + 1.0), b.at)

    def snapshot(self, sub_id: str) -> LimitState | None:
        lim = self._by_id.get(sub_id)
        if lim is None:
            return None
        return LimitState(sub_id, lim.concurrency, lim.rps, lim.burst, lim.in_flight, lim.deferred)

"""The token bucket rule and the per-subscription limits, with time passed in."""

from __future__ import annotations

import pytest

from callhook.core.ratelimit import Bucket, default_burst, take
from callhook.delivery.endpoints import Limits


def test_a_full_bucket_lets_a_burst_go_then_one_per_interval() -> None:
    b = Bucket.full(rate=2.0, burst=3, now=100.0)
    for _ in range(3):
        b, later = take(b, 100.0)
        assert later is None
    b, later = take(b, 100.0)
    assert later == pytest.approx(100.5)  # one token every 1/rate seconds
    b, later = take(b, 100.25)
    assert later == pytest.approx(100.5)  # half a token there: still the same moment
    b, later = take(b, 100.5)
    assert later is None
    b, later = take(b, 110.0)  # a long pause refills up to the burst, not beyond
    assert later is None
    assert b.tokens == pytest.approx(2.0)


def test_a_clock_going_back_adds_nothing() -> None:
    b = Bucket.full(rate=1.0, burst=1, now=50.0)
    b, _ = take(b, 50.0)
    b, later = take(b, 40.0)
    assert later == pytest.approx(51.0)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="rate"):
        Bucket.full(rate=0.0, burst=1, now=0.0)
    with pytest.raises(ValueError, match="burst"):
        Bucket.full(rate=1.0, burst=0, now=0.0)
    assert default_burst(0.5) == 1
    assert default_burst(10.0) == 10
    assert default_burst(2.5) == 3


def test_limits_concurrency_rate_and_refund() -> None:
    lim = Limits(busy_retry=0.2)
    assert lim.admit("free", 0, 0.0, 0, 0.0) is None  # no limits: always
    assert lim.snapshot("free") is None
    assert lim.admit("c", 2, 0.0, 0, 0.0) is None
    assert lim.admit("c", 2, 0.0, 0, 0.0) is None
    assert lim.admit("c", 2, 0.0, 0, 0.0) == pytest.approx(0.2)  # a third waits
    lim.release("c")
    assert lim.admit("c", 2, 0.0, 0, 0.0) is None
    snap = lim.snapshot("c")
    assert snap is not None
    assert (snap.in_flight, snap.deferred) == (2, 1)
    # 1 request a second, burst 1
    assert lim.admit("r", 0, 1.0, 1, 10.0) is None
    lim.release("r")
    assert lim.admit("r", 0, 1.0, 1, 10.2) == pytest.approx(11.0)
    assert lim.admit("r", 0, 1.0, 1, 11.0) is None
    lim.refund("r")  # not sent after all (its endpoint deferred it): the token comes back
    assert lim.admit("r", 0, 1.0, 1, 11.0) is None
    # a changed limit applies at once
    lim.release("r")
    assert lim.admit("r", 0, 100.0, 5, 11.0) is None
    lim.release("r")
    assert lim.admit("r", 0, 0.0, 0, 11.0) is None  # removed
    assert lim.snapshot("r") is None

"""The per-endpoint circuit breaker and concurrency admission, step by step."""

from __future__ import annotations

import pytest

from callhook.delivery.endpoints import BreakerState, Endpoint, EndpointPolicy, endpoint_key, health

P = EndpointPolicy(concurrency=2, max_queued=3, failure_threshold=2, cooldown=10, max_cooldown=25, busy_retry=0.5)


def test_breaker_cycle() -> None:
    ep = Endpoint("k", P)
    for t in (0, 1):
        assert ep.admit(t) is None
        ep.done(False, t)
    assert ep.state is BreakerState.OPEN
    assert ep.admit(5) == 11  # come back when the cool-down is over
    assert ep.admit(11) is None  # the probe
    assert ep.state is BreakerState.HALF_OPEN
    assert ep.admit(11) == 11 + 2.5  # others wait for the probe
    ep.done(False, 12)  # probe failed: open again, cool-down doubled
    assert ep.snapshot().open_until == 32
    assert ep.admit(32) is None
    ep.done(False, 33)
    assert ep.snapshot().open_until == 33 + 25  # capped
    assert ep.admit(58) is None
    ep.done(True, 59)
    assert (ep.state, ep.failures, ep.open_until) == (BreakerState.CLOSED, 0, None)


def test_neutral_answers_resolve_a_probe_but_do_not_count() -> None:
    ep = Endpoint("k", P)
    ep.admit(0)
    ep.done(False, 0)
    ep.admit(0)
    ep.done(None, 0)  # a 404: alive, but no success
    assert (ep.state, ep.failures) == (BreakerState.CLOSED, 1)
    ep.admit(0)
    ep.done(False, 0)
    assert ep.state is BreakerState.OPEN
    ep.admit(10)
    ep.done(None, 10)
    assert ep.state is BreakerState.CLOSED


def test_max_queued_defers() -> None:
    ep = Endpoint("k", P)
    assert [ep.admit(0) for _ in range(4)] == [None, None, None, 0.5]
    ep.withdraw()
    assert ep.admit(0) is None


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, True),
        (204, True),
        (None, False),
        (408, False),
        (429, False),
        (500, False),
        (503, False),
        (404, None),
        (410, None),
        (301, None),
    ],
)
def test_health(status: int | None, result: bool | None) -> None:
    assert health(status) is result


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://a.example/x", "http://a.example:80"),
        ("https://A.example:8443/x?y", "https://a.example:8443"),
        ("https://a.example/", "https://a.example:443"),
        ("http://u:p@10.1.2.3:8080/h", "http://10.1.2.3:8080"),
    ],
)
def test_endpoint_key(url: str, key: str) -> None:
    assert endpoint_key(url) == key

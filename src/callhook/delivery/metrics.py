"""Delivery metrics behind a tiny interface, so the engine does not need Prometheus.

``NullMetrics`` does nothing; ``PrometheusMetrics`` exports
``callhook_deliveries_total{outcome}``, ``callhook_attempt_seconds`` (request
duration), ``callhook_delivery_seconds`` (accepted -> delivered) and the
``callhook_backlog`` gauge. Labels stay low-cardinality (no subscription ids).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DeliveryMetrics", "NullMetrics", "PrometheusMetrics"]


class DeliveryMetrics(Protocol):
    def attempted(self, outcome: str, seconds: float) -> None:
        """One attempt: outcome is done, retry, dead or expired."""

    def delivered(self, seconds_since_accepted: float) -> None: ...
    def backlog(self, n: int) -> None: ...


class NullMetrics:
    def attempted(self, outcome: str, seconds: float) -> None:
        return None

    def delivered(self, seconds_since_accepted: float) -> None:
        return None

    def backlog(self, n: int) -> None:
        return None


class PrometheusMetrics:
    def __init__(self, registry: Any = None) -> None:
        from prometheus_client import REGISTRY, Counter, Gauge, Histogram

        reg = registry if registry is not None else REGISTRY
        self._outcomes = Counter("callhook_deliveries", "Delivery attempts by outcome", ["outcome"], registry=reg)
        self._attempt = Histogram("callhook_attempt_seconds", "HTTP attempt duration", registry=reg)
        self._latency = Histogram(
            "callhook_delivery_seconds",
            "Accepted to delivered",
            registry=reg,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 300, 3600, 86400),
        )
        self._backlog = Gauge("callhook_backlog", "Pending and inflight deliveries", registry=reg)

    def attempted(self, outcome: str, seconds: float) -> None:
        self._outcomes.labels(outcome).inc()
        self._attempt.observe(seconds)

    def delivered(self, seconds_since_accepted: float) -> None:
        self._latency.observe(seconds_since_accepted)

    def backlog(self, n: int) -> None:
        self._backlog.set(n)

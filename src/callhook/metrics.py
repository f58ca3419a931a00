"""Prometheus metrics of one process, on a registry of its own (no global state).

The delivery engine's metrics (``callhook_deliveries_total{outcome}``, attempt duration,
accepted-to-delivered latency, backlog) come from :class:`PrometheusMetrics`, which
this class extends with the events accepted, dead letters and the AMI connection.
Gauges that mirror state elsewhere are refreshed at scrape time (``on_scrape``).
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from callhook.delivery.metrics import PrometheusMetrics

__all__ = ["Metrics"]


class Metrics(PrometheusMetrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        super().__init__(self.registry)
        self._events = Counter("callhook_events", "Events accepted (made durable)", registry=self.registry)
        self.dead_letters = Gauge("callhook_dead_letters", "Deliveries given up", registry=self.registry)
        self.ami_connected = Gauge("callhook_ami_connected", "1 when the AMI connection is up", registry=self.registry)
        self.ami_reconnects = Gauge("callhook_ami_reconnects", "AMI reconnects since start", registry=self.registry)
        self._refresh: list[Callable[[], None]] = []

    def events_in(self, n: int) -> None:
        self._events.inc(n)

    def on_scrape(self, fn: Callable[[], None]) -> None:
        self._refresh.append(fn)

    def render(self) -> bytes:
        for fn in self._refresh:
            fn()
        return generate_latest(self.registry)

"""Prometheus metrics of one process, on a registry of its own (no global state).

The delivery engine's metrics (``callhook_deliveries_total{outcome}``, attempt duration,
accepted-to-delivered latency, backlog) come from :class:`PrometheusMetrics`, which
this class extends with the events accepted, dead letters and the AMI connection.
Gauges that mirror state elsewhere are refreshed at scrape time (``on_scrape``).

Types follow what a value does: a count that only grows is a counter (exported as
``<name>_total``, so ``rate()`` and ``increase()`` work), a level that goes up and down
is a gauge. ``callhook_ami_reconnects`` is a count kept by the AMI client; it is read at
scrape time into a :class:`ObservedCounter`. ``callhook_dead_letters`` is a gauge: the
dead deliveries the store holds now (a retry takes one away).

| metric | type |
|---|---|
| ``callhook_events_total`` | counter: events accepted (made durable) |
| ``callhook_deliveries_total{outcome}`` | counter: delivery attempts by outcome |
| ``callhook_ami_reconnects_total`` | counter: AMI reconnects since start |
| ``callhook_attempt_seconds``, ``callhook_delivery_seconds`` | histograms |
| ``callhook_backlog``, ``callhook_dead_letters``, ``callhook_ami_connected`` | gauges |
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

from callhook.delivery.metrics import PrometheusMetrics

__all__ = ["Metrics", "ObservedCounter"]


class ObservedCounter:
    """A counter whose value is counted elsewhere and read in (``set``) at scrape time.

    prometheus_client's ``Counter`` can only be incremented; this exports a count held by
    another object (the AMI client's reconnects) with the counter type. A value lower
    than the last one (the other object was replaced) is taken as is, which Prometheus
    reads as a counter reset.
    """

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.name, self.documentation = name, documentation
        self.value = 0.0
        registry.register(self)

    def set(self, value: float) -> None:
        self.value = float(value)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation)
        family.add_metric([], self.value)
        yield family

    def describe(self) -> Iterator[Metric]:
        return self.collect()


class Metrics(PrometheusMetrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        super().__init__(self.registry)
        self._events = Counter("callhook_events", "Events accepted (made durable)", registry=self.registry)
        self.dead_letters = Gauge("callhook_dead_letters", "Deliveries given up", registry=self.registry)
        self.ami_connected = Gauge("callhook_ami_connected", "1 when the AMI connection is up", registry=self.registry)
        self.ami_reconnects = ObservedCounter("callhook_ami_reconnects", "AMI reconnects since start", self.registry)
        self._refresh: list[Callable[[], None]] = []

    def events_in(self, n: int) -> None:
        self._events.inc(n)

    def on_scrape(self, fn: Callable[[], None]) -> None:
        self._refresh.append(fn)

    def render(self) -> bytes:
        for fn in self._refresh:
            fn()
        return generate_latest(self.registry)

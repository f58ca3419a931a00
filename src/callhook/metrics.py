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
| ``callhook_ami_held{pbx}`` | gauge: 1 while this process holds the PBX's AMI session |
| ``callhook_ami_terms_total`` | counter: times this process was elected the AMI reader |

The capture path (docs/delivery.md, "Capture"):

==========================================  =========================================
callhook_accept_queue                       events read and not yet written (gauge)
callhook_accept_commits_total               commits of the accept loop
callhook_accept_commit_failures_total       commits that failed (then split or retried)
callhook_events_unstored_total              events given up: they could not be stored
callhook_events_repaired_total              events stored only after bounding values
callhook_accept_stalled                     1 while the store keeps failing commits
callhook_ami_backpressure_total             times the AMI reader stopped for room
callhook_ami_backpressure_seconds_total     time the AMI reader spent stopped
callhook_ami_values_bounded_total{kind}     AMI values clamped, cut or replaced
callhook_tracker_unexpected_total{...}      inputs the tracker's tables did not expect
callhook_ami_messages_total                 AMI messages read
callhook_ami_handler_errors_total           AMI messages whose handling raised (logged, skipped)
callhook_ami_frames_too_large_total         AMI frames over the codec's limit (logged, skipped)
callhook_accept_window_seconds              age of each commit's oldest event when the
                                            commit returned (summary: _count, _sum)
callhook_accept_window_max_seconds          the largest of them since the last scrape
==========================================  =========================================

Gauges and counters that mirror state elsewhere are refreshed at scrape time (``on_scrape``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric, SummaryMetricFamily

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


class _Capture:
    """Exports a snapshot of the accepter's and the AMI source's own counters."""

    def __init__(self) -> None:
        self.snap: dict[str, Any] = {}

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        s = self.snap
        if not s:
            return
        yield GaugeMetricFamily("callhook_accept_queue", "Events read and not yet written", value=s["queue"])
        yield GaugeMetricFamily("callhook_accept_stalled", "1 while the store keeps failing", value=s["stalled"])
        for name, doc, key in (
            ("callhook_accept_commits", "Commits of the accept loop", "commits"),
            ("callhook_accept_commit_failures", "Commits that failed (then split or retried)", "failures"),
            ("callhook_events_unstored", "Events given up because they could not be stored", "unstored"),
            ("callhook_events_repaired", "Events stored only after their values were bounded", "repaired"),
            ("callhook_ami_backpressure", "Times the AMI reader stopped for room in the queue", "bp"),
            ("callhook_ami_backpressure_seconds", "Time the AMI reader spent stopped", "bp_s"),
            ("callhook_ami_messages", "AMI messages read", "ami_msgs"),
            ("callhook_ami_handler_errors", "AMI messages whose handling raised (logged, skipped)", "ami_errors"),
            ("callhook_ami_frames_too_large", "AMI frames over the codec's limit (logged, skipped)", "ami_big"),
        ):
            yield CounterMetricFamily(name, doc, value=s[key])
        yield SummaryMetricFamily(
            "callhook_accept_window_seconds",
            "Age of each commit's oldest event when the commit returned (the durability window)",
            count_value=s["win_n"],
            sum_value=s["win_sum"],
        )
        yield GaugeMetricFamily(
            "callhook_accept_window_max_seconds",
            "The largest durability window since the last scrape",
            value=s["win_max"],
        )
        unexpected = CounterMetricFamily(
            "callhook_tracker_unexpected",
            "AMI inputs the tracker's state tables did not expect (state kept)",
            labels=["machine", "state", "input"],
        )
        for (machine, state, inp), n in sorted(s["unexpected"].items()):
            unexpected.add_metric([machine, state, inp], n)
        yield unexpected
        bounded = CounterMetricFamily(
            "callhook_ami_values_bounded", "AMI values clamped, cut or replaced at the edge", labels=["kind"]
        )
        for kind, n in sorted(s["bounded"].items()):
            bounded.add_metric([kind], n)
        yield bounded


def _int(obj: Any, name: str) -> int:
    value = getattr(obj, name, 0)
    return value if isinstance(value, int) else 0


class _Ledger:
    """The loss ledger at scrape time: ``callhook_ledger_deliveries{subscription,
    status,reason}`` (status delivered|pending|inflight|dead|expired; reason set for
    dead only) and ``callhook_ledger_routed{subscription}``."""

    def __init__(self) -> None:
        self.rows: list[Any] = []

    def collect(self) -> Iterator[Any]:
        by = GaugeMetricFamily(
            "callhook_ledger_deliveries",
            "Deliveries routed, by what became of them",
            labels=["subscription", "status", "reason"],
        )
        routed = GaugeMetricFamily("callhook_ledger_routed", "Deliveries routed", labels=["subscription"])
        for r in self.rows:
            sid = r.subscription_id
            for status, n in (
                ("delivered", r.delivered),
                ("pending", r.pending),
                ("inflight", r.inflight),
                ("expired", r.expired),
            ):
                by.add_metric([sid, status, ""], n)
            for reason, n in (
                ("gave_up", r.dead_gave_up),
                ("subscription_disabled", r.dead_disabled),
                ("subscription_deleted", r.dead_deleted),
            ):
                by.add_metric([sid, "dead", reason], n)
            routed.add_metric([sid], r.routed)
        yield by
        yield routed


class Metrics(PrometheusMetrics):
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        super().__init__(self.registry)
        self._events = Counter("callhook_events", "Events accepted (made durable)", registry=self.registry)
        self.dead_letters = Gauge(
            "callhook_dead_letters",
            "Deliveries given up (dead of a deleted or disabled webhook not counted)",
            registry=self.registry,
        )
        self.dead_by_reason = Gauge(
            "callhook_dead_letters_by_reason", "Dead deliveries by reason", ["reason"], registry=self.registry
        )
        self._ledger = _Ledger()
        self.registry.register(self._ledger)
        self.ami_connected = Gauge("callhook_ami_connected", "1 when the AMI connection is up", registry=self.registry)
        self.ami_reconnects = ObservedCounter("callhook_ami_reconnects", "AMI reconnects since start", self.registry)
        self.ami_held = Gauge(
            "callhook_ami_held", "1 while this process holds the PBX's AMI session", ["pbx"], registry=self.registry
        )
        self.ami_terms = ObservedCounter(
            "callhook_ami_terms", "Times this process was elected the PBX's AMI reader", self.registry
        )
        self.pbx_connected = Gauge(
            "callhook_pbx_connected", "1 when the PBX's AMI connection is up", ["pbx"], registry=self.registry
        )
        self._pbx_events = Counter(
            "callhook_pbx_events",
            "Events accepted (made durable), by the PBX they came from",
            ["pbx"],
            registry=self.registry,
        )
        self._capture = _Capture()
        self.registry.register(self._capture)
        self._refresh: list[Callable[[], None]] = []

    def events_in(self, n: int) -> None:
        self._events.inc(n)

    def pbx_events(self, items: Sequence[Any]) -> None:
        """Count committed events by their PBX (``NewEvent`` items; ingested events have none)."""
        counts: dict[str, int] = {}
        for item in items:
            name = item.event.pbx
            if name:
                counts[name] = counts.get(name, 0) + 1
        for name, n in counts.items():
            self._pbx_events.labels(name).inc(n)

    def pbxes(self, links: Sequence[Any]) -> None:
        """The PBXs' connection, election and reconnect figures (at scrape time): one series
        per PBX where the metric has a ``pbx`` label, the sum over the PBXs where not."""
        self.ami_connected.set(1 if links and all(p.connected for p in links) else 0)
        for p in links:
            self.pbx_connected.labels(pbx=p.name).set(1 if p.connected else 0)
            self.ami_held.labels(pbx=p.name).set(1 if p.held else 0)
        self.ami_terms.set(sum(p.election.terms for p in links if p.election is not None))
        self.ami_reconnects.set(sum(_int(p.ami, "reconnects") for p in links))

    def capture(self, accepter: Any, links: Sequence[Any] = ()) -> None:
        """Copy the accepter's, the AMI sources' and the AMI clients' counters (at scrape
        time), summed over the PBXs."""
        bounded: dict[str, int] = {}
        unexpected: dict[str, int] = {}
        for p in links:
            for k, v in getattr(p.source, "bounded", {}).items():
                bounded[k] = bounded.get(k, 0) + v
            for k, v in p.tracker.unexpected.items():
                unexpected[k] = unexpected.get(k, 0) + v
        self._capture.snap = {
            "queue": accepter.pending,
            "stalled": 1 if accepter.stalled_since is not None else 0,
            "commits": accepter.commits,
            "failures": accepter.commit_failures,
            "unstored": accepter.unstored,
            "repaired": accepter.repaired,
            "bp": accepter.backpressure,
            "bp_s": accepter.backpressure_seconds,
            "bounded": bounded,
            "unexpected": unexpected,
            "win_n": accepter.window_count,
            "win_sum": accepter.window_sum,
            "win_max": accepter.take_window_max(),
            "ami_msgs": sum(_int(p.ami, "messages") for p in links),
            "ami_errors": sum(_int(p.ami, "handler_errors") for p in links),
            "ami_big": sum(_int(p.ami, "frames_too_large") for p in links),
        }

    def ledger(self, rows: list[Any], total: Any) -> None:
        """The loss ledger's rows and total (at scrape time): the dead-letter gauge
        counts what was given up only (the other reasons are no failure)."""
        self._ledger.rows = rows
        self.dead_letters.set(total.dead_gave_up)
        self.dead_by_reason.labels("gave_up").set(total.dead_gave_up)
        self.dead_by_reason.labels("subscription_disabled").set(total.dead_disabled)
        self.dead_by_reason.labels("subscription_deleted").set(total.dead_deleted)

    def on_scrape(self, fn: Callable[[], None]) -> None:
        self._refresh.append(fn)

    def render(self) -> bytes:
        for fn in self._refresh:
            fn()
        return generate_latest(self.registry)

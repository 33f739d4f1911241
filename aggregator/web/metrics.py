"""``/metrics``: Prometheus's text format, written by prometheus-client.

Two kinds of figures, kept apart on purpose:

* **The product's state**, read from the store and the last cycle's record at each scrape
  (``StateCollector``): sources by health, failing sources by error kind, posts stored, digest
  editions and their recipients by delivery state, the last cycle's duration and counts.  The
  work is done by other processes (the scheduler, the queue's workers), often on other hosts;
  the store and the shared output directory are where their results meet, so any ``serve``
  reports the same numbers and none of them is lost when a worker restarts.
* **This server's own traffic**, counted in memory (``RequestMetrics``): requests by method
  and status, and their durations, fed by the access logger (``web.access``).

Each application gets its own registry: two apps in one process (tests) never clash, and
nothing of the library's process-wide default registry leaks into our output.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from aggregator.models import SourceState
from aggregator.ops.cycles import CycleRecord
from aggregator.store.protocol import Store

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "health_of", "render"]

EDITIONS_READ = 200  # the newest editions counted at each scrape; older ones are history


def health_of(state: SourceState) -> str:
    """The same four words ``/sources`` shows, as label values."""
    if state.last_fetch is None and state.last_success is None:
        return "never_fetched"
    if state.gone:
        return "gone"
    return "failing" if state.consecutive_failures else "ok"


class StateCollector(Collector):
    """Reads the store and the cycle record at each scrape (see the module docstring)."""

    def __init__(self, store: Callable[[], Store], record: Callable[[], CycleRecord | None]):
        self._store = store
        self._record = record

    def collect(self) -> Iterator[Metric]:
        yield from _cycle_families(self._record())
        up = GaugeMetricFamily("aggregator_store_up", "1 when the store answered this scrape")
        try:
            families = list(_store_families(self._store()))
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def _cycle_families(record: CycleRecord | None) -> Iterator[Metric]:
    if record is None:
        return
    figures = (
        ("duration_seconds", "How long the last cycle took", record.duration_s),
        ("finished_timestamp_seconds", "When the last cycle ended", record.finished.timestamp()),
        ("sources", "Sources the last cycle updated", record.sources),
        ("failed_sources", "Sources that failed in the last cycle", record.failed),
        ("new_posts", "Posts the last cycle stored for the first time", record.new_posts),
        ("updated_posts", "Posts the last cycle changed", record.updated_posts),
    )
    for name, doc, value in figures:
        if value is not None:
            yield GaugeMetricFamily(f"aggregator_last_cycle_{name}", doc, value=value)


def _store_families(store: Store) -> Iterator[Metric]:
    sources = store.get_sources()
    states = store.get_states()
    by_health: Counter[str] = Counter({"ok": 0, "failing": 0, "gone": 0, "never_fetched": 0})
    by_kind: Counter[str] = Counter()
    for sid, state in states.items():
        source = sources.get(sid)
        if source is None or not source.enabled:
            continue
        health = health_of(state)
        by_health[health] += 1
        if health == "failing":
            kind = state.last_error_kind
            by_kind[kind.value if kind is not None else "unknown"] += 1
    yield _labelled("aggregator_sources", "Enabled sources by health", "state", by_health)
    yield _labelled(
        "aggregator_source_errors", "Failing sources by the kind of their error", "kind", by_kind
    )
    yield GaugeMetricFamily("aggregator_posts", "Posts in the store", value=store.count_posts())
    yield from _digest_families(store)


def _digest_families(store: Store) -> Iterator[Metric]:
    editions = GaugeMetricFamily(
        "aggregator_digest_editions",
        "Digest editions by name and sent or not",
        labels=["edition", "sent"],
    )
    recipients = GaugeMetricFamily(
        "aggregator_digest_recipients",
        "Digest messages by edition name and delivery state (sent: digests delivered)",
        labels=["edition", "state"],
    )
    edition_counts: Counter[tuple[str, str]] = Counter()
    recipient_counts: Counter[tuple[str, str]] = Counter()
    for edition in store.list_editions(EDITIONS_READ):
        edition_counts[(edition.name, str(edition.sent).lower())] += 1
        for status in store.recipients(edition.id):
            recipient_counts[(edition.name, status.state.value)] += 1
    for labels, n in sorted(edition_counts.items()):
        editions.add_metric(list(labels), n)
    for labels, n in sorted(recipient_counts.items()):
        recipients.add_metric(list(labels), n)
    yield editions
    yield recipients


def _labelled(name: str, doc: str, label: str, counts: Counter[str]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=[label])
    for value, n in sorted(counts.items()):
        family.add_metric([value], n)
    return family


@dataclass
class Metrics:
    """One application's registry: the state collector and the request counters."""

    registry: CollectorRegistry = field(
        default_factory=lambda: CollectorRegistry(auto_describe=False)
    )
    requests: PromCounter = field(init=False)
    durations: Histogram = field(init=False)

    def __post_init__(self) -> None:
        self.requests = PromCounter(
            "aggregator_http_requests",
            "Requests answered by serve, by method and status",
            ["method", "status"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "aggregator_http_request_duration_seconds",
            "Time serve took to answer",
            registry=self.registry,
        )

    def watch(self, store: Callable[[], Store], record: Callable[[], CycleRecord | None]) -> None:
        self.registry.register(StateCollector(store, record))

    def observe(self, method: str, status: int, seconds: float) -> None:
        self.requests.labels(method, str(status)).inc()
        self.durations.observe(seconds)


def render(metrics: Metrics) -> bytes:
    return generate_latest(metrics.registry)

"""Prometheus metrics, read from the ranker's counters at scrape time (a custom
collector), so the event path pays nothing for them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from streams.runtime.ranker import Counts

OUTCOMES = ("applied", "duplicate", "invalid", "late", "too_old")


@dataclass(frozen=True, eq=False)
class _Collector:
    _counts: Counts
    _ready: bool
    _clients: int
    _now_ms: int
    _rocksdb: Mapping[str, int]

    def collect(self) -> Iterator[Metric]:
        counts = self._counts
        events = CounterMetricFamily(
            "rankstream_events",
            "Score events by outcome (late: applied but late for at least one window)",
            labels=["outcome"],
        )
        for outcome in sorted(set(OUTCOMES) | set(counts.by_outcome)):
            events.add_metric([outcome], counts.by_outcome.get(outcome, 0))
        yield events
        yield CounterMetricFamily(
            "rankstream_changes_emitted",
            "Push-topic records emitted (rank_change and window_closed)",
            value=counts.records,
        )
        yield CounterMetricFamily(
            "rankstream_windows_closed",
            "Windows closed (window_closed records)",
            value=counts.windows_closed,
        )
        buckets = [
            ("+Inf" if bound == float("inf") else str(int(bound)), n)
            for bound, n in counts.batch_buckets.items()
        ]
        yield HistogramMetricFamily(
            "rankstream_batch_size",
            "Events per processing batch of the rank agent",
            buckets=buckets,
            sum_value=counts.batch_events,
        )
        lag = GaugeMetricFamily(
            "rankstream_processing_lag_seconds",
            "Wall clock minus the greatest event time of the latest batch",
        )
        if counts.last_event_ts is not None:
            lag.add_metric([], max(0.0, (self._now_ms - counts.last_event_ts) / 1000))
        yield lag
        yield GaugeMetricFamily(
            "rankstream_ready", "1 when the tables are recovered", value=int(self._ready)
        )
        yield GaugeMetricFamily(
            "rankstream_live_clients",
            "Browsers connected to the live stream",
            value=self._clients,
        )
        rocksdb = GaugeMetricFamily(
            "rankstream_rocksdb_memory_bytes",
            "RocksDB's own count of the RAM it holds, over the open partitions: memtables "
            "and table readers summed, the shared block cache once",
            labels=["kind"],
        )
        for kind, value in sorted(self._rocksdb.items()):
            rocksdb.add_metric([kind], value)
        yield rocksdb


def metrics_text(
    counts: Counts, ready: bool, clients: int, now_ms: int, rocksdb: Mapping[str, int]
) -> tuple[bytes, str]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(counts, ready, clients, now_ms, rocksdb))
    return generate_latest(registry), CONTENT_TYPE_LATEST

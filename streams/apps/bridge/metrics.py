"""The bridge's Prometheus counters, in a registry of its own, served over HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, start_http_server

__all__ = ["BridgeMetrics"]


def _registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


@dataclass
class BridgeMetrics:
    """One instance per bridge process (a private registry, so tests can build many)."""

    registry: CollectorRegistry = field(default_factory=_registry)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages_in = Counter(
            "rankstream_bridge_messages_in",
            "Input messages produced to the scores topic, acknowledged by Kafka, then acked.",
            registry=r,
        )
        self.dead_lettered = Counter(
            "rankstream_bridge_dead_lettered",
            "Input messages dead-lettered (confirmed in the DLQ, then acked), by reason.",
            ["reason"],
            registry=r,
        )
        self.messages_out = Counter(
            "rankstream_bridge_messages_out",
            "Push-topic records published to the exchange and confirmed by RabbitMQ.",
            registry=r,
        )
        self.skipped_out = Counter(
            "rankstream_bridge_records_skipped",
            "Push-topic records that are no push record (no board/window) and were skipped.",
            registry=r,
        )
        self.retries = Counter(
            "rankstream_bridge_retries",
            "Reconnection attempts after a failure, by path (in/out) and what was awaited.",
            ["path", "waiting_for"],
            registry=r,
        )

    def serve(self, port: int, addr: str = "0.0.0.0") -> None:
        """Serve ``GET /metrics`` from a daemon thread (prometheus_client's own server)."""
        start_http_server(port, addr=addr, registry=self.registry)

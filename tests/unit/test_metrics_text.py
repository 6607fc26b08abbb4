"""/metrics text, read back the way the benches and integration tests scrape it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator

import pytest

from bench.harness import scrape_metrics
from streams.apps.api.metrics import metrics_text
from streams.runtime.ranker import Counts


@pytest.fixture
def serve() -> Iterator[Callable[[bytes], str]]:
    """A factory: serve one body on a local port, return its URL."""
    servers: list[http.server.HTTPServer] = []

    def start(body: bytes) -> str:
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/metrics"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_rocksdb_memory_gauge_and_counters_round_trip(serve: Callable[[bytes], str]) -> None:
    counts = Counts()
    counts.add("applied", 3)
    rocksdb = {"memtables": 5 << 20, "table_readers": 1234, "block_cache": 64 << 20}
    body, content_type = metrics_text(counts, True, 2, 0, rocksdb)
    assert content_type.startswith("text/plain")
    scraped = scrape_metrics(serve(body))
    assert scraped['rankstream_events_total{outcome="applied"}'] == 3
    assert scraped["rankstream_live_clients"] == 2
    assert scraped["rankstream_ready"] == 1
    for kind, value in rocksdb.items():
        assert scraped[f'rankstream_rocksdb_memory_bytes{{kind="{kind}"}}'] == value

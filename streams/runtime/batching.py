"""Batching rules of the two stages: what is already there, up to a ceiling.

Both stages commit one Kafka transaction per batch and input partition, so a batch costs a
few broker round trips whatever its size. The rules here keep that cost from becoming
latency: the wait for a batch is a ceiling, never a floor (an idle stage hands a lone event
on at once, a busy one gathers the next batch while the previous transaction is in flight),
and the work between two awaits is bounded, so the event loop keeps answering ``/healthz``
and ``/metrics`` under a backlog. Pure and clock-injected: ``tests/unit/test_batching.py``;
design record: docs/design/intake-stage.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Fetch(Protocol):
    """aiokafka's ``AIOKafkaConsumer.getmany``: records already fetched, or what arrives
    within ``timeout_ms``; at most ``max_records``."""

    def __call__(
        self, *, timeout_ms: int, max_records: int
    ) -> Awaitable[Mapping[Any, Sequence[Any]]]: ...


class Gatherer:
    """The intake's rule: the first fetch waits up to ``max_wait_ms`` for anything at all;
    further fetches that do not wait take whatever else is already buffered, until the batch
    holds ``max_events`` records, a fetch comes back empty, or ``max_wait_ms`` has passed
    since the batch began."""

    def __init__(
        self, fetch: Fetch, max_events: int, max_wait_ms: int, clock: Callable[[], float]
    ) -> None:
        self._fetch = fetch
        self._max_events = max_events
        self._max_wait_ms = max_wait_ms
        self._clock = clock  # monotonic seconds

    async def batch(self) -> dict[Any, list[Any]]:
        """Records by partition, each partition's in fetch (= offset) order."""
        started = self._clock()
        gathered: dict[Any, list[Any]] = {}
        count = 0
        wait_ms = self._max_wait_ms
        while count < self._max_events:
            fetched = await self._fetch(timeout_ms=wait_ms, max_records=self._max_events - count)
            if not fetched:
                break
            for tp, records in fetched.items():
                gathered.setdefault(tp, []).extend(records)
                count += len(records)
            if (self._clock() - started) * 1000 >= self._max_wait_ms:
                break
            wait_ms = 0
        return gathered


def chunks(items: Sequence[T], size: Callable[[T], int], ceiling: int) -> Iterator[list[T]]:
    """Consecutive runs of ``items`` holding at most ``ceiling`` units of ``size`` each (an
    item larger than the ceiling alone); the rank stage's batch ceiling in events, since one
    by-board message carries a run of many events."""
    chunk: list[T] = []
    total = 0
    for item in items:
        n = size(item)
        if chunk and total + n > ceiling:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += n
    if chunk:
        yield chunk

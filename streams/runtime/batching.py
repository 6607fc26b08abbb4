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

import asyncio
import contextlib
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


class Prefetch:
    """Keeps the consumer drained while a batch is in flight, up to ``ceiling`` records.

    aiokafka's fetcher sends no new fetch to a broker while records it fetched from that
    broker wait unconsumed, so a stage that reads only between transactions leaves the
    records produced during one waiting at the broker for the next: a whole extra cycle of
    latency. :meth:`run` (a task of its own) takes records as soon as they are fetched and
    holds at most ``ceiling`` of them (then the consumer's own buffer, one fetch per
    partition, is the rest of the bound); :meth:`getmany` hands them on with the
    consumer's signature, so a :class:`Gatherer` reads from it. Records keep their
    per-partition fetch order. :meth:`clear` drops everything on a revoke: the consumer
    delivers those offsets again from the committed position, or to the new owner.
    """

    def __init__(self, fetch: Fetch, ceiling: int, poll_ms: int = 500) -> None:
        self._fetch = fetch
        self._ceiling = ceiling
        self._poll_ms = poll_ms
        self._held: dict[Any, list[Any]] = {}
        self._count = 0
        self._arrived = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._failed: BaseException | None = None

    @property
    def held(self) -> int:
        return self._count

    async def run(self) -> None:
        """Fetch until cancelled; a fetch error is raised to the reader by :meth:`getmany`."""
        try:
            while True:
                await self._room.wait()
                fetched = await self._fetch(
                    timeout_ms=self._poll_ms, max_records=self._ceiling - self._count
                )
                for tp, records in fetched.items():
                    if records:
                        self._held.setdefault(tp, []).extend(records)
                        self._count += len(records)
                        self._arrived.set()
                if self._count >= self._ceiling:
                    self._room.clear()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            self._failed = exc
            self._arrived.set()
            raise

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[Any, list[Any]]:
        """Up to ``max_records`` held records by partition, waiting up to ``timeout_ms``
        for the first when none is held."""
        if not self._count and self._failed is None and timeout_ms > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout_ms / 1000)
        if self._failed is not None:
            raise self._failed
        taken: dict[Any, list[Any]] = {}
        for tp in list(self._held):
            if max_records <= 0:
                break
            records = self._held[tp]
            taken[tp], rest = records[:max_records], records[max_records:]
            if rest:
                self._held[tp] = rest
            else:
                del self._held[tp]
            max_records -= len(taken[tp])
            self._count -= len(taken[tp])
        if self._count < self._ceiling:
            self._room.set()
        return taken

    def clear(self) -> None:
        self._held.clear()
        self._count = 0
        self._room.set()


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

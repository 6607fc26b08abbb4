"""streams.runtime.batching.Prefetch: the intake keeps its consumer drained while a batch is
in flight, up to a ceiling, and hands records on in fetch order per partition."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.batching import Gatherer, Prefetch


class Source:
    """A consumer stand-in: ``feed`` makes records fetchable; a fetch returns at most
    ``max_records`` of them (oldest first, per partition), or waits for some."""

    def __init__(self) -> None:
        self.waiting: list[tuple[str, int]] = []
        self.arrived = asyncio.Event()
        self.calls: list[int] = []
        self.error: BaseException | None = None

    def feed(self, partition: str, *numbers: int) -> None:
        self.waiting += [(partition, n) for n in numbers]
        self.arrived.set()

    async def __call__(self, *, timeout_ms: int, max_records: int) -> Mapping[Any, Sequence[int]]:
        self.calls.append(max_records)
        if self.error is not None:
            raise self.error
        if not self.waiting:
            self.arrived.clear()
            await self.arrived.wait()
        taken, self.waiting = self.waiting[:max_records], self.waiting[max_records:]
        out: dict[str, list[int]] = {}
        for partition, n in taken:
            out.setdefault(partition, []).append(n)
        return out


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def run(test: Any) -> Any:
    async def main() -> Any:
        source = Source()
        prefetch = Prefetch(source, ceiling=5)
        task = asyncio.create_task(prefetch.run())
        try:
            return await test(source, prefetch)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    return asyncio.run(main())


def test_records_fetched_while_a_batch_is_in_flight_are_held_for_the_next() -> None:
    async def test(source: Source, prefetch: Prefetch) -> None:
        source.feed("p0", 1, 2)
        await settle()
        first = await prefetch.getmany(timeout_ms=0, max_records=10)
        # ... the batch is in flight; more arrives and is fetched meanwhile:
        source.feed("p1", 3)
        source.feed("p0", 4)
        await settle()
        assert source.waiting == []  # taken from the consumer, not left at the broker
        assert first == {"p0": [1, 2]}
        assert await prefetch.getmany(timeout_ms=0, max_records=10) == {"p0": [4], "p1": [3]}

    run(test)


def test_holds_at_most_the_ceiling_and_fetches_again_once_there_is_room() -> None:
    async def test(source: Source, prefetch: Prefetch) -> None:
        source.feed("p0", *range(12))
        await settle()
        assert prefetch.held == 5
        assert len(source.waiting) == 7  # the rest stays with the consumer
        assert await prefetch.getmany(timeout_ms=0, max_records=3) == {"p0": [0, 1, 2]}
        await settle()
        assert prefetch.held == 5  # refilled up to the ceiling, never above
        assert all(n <= 5 for n in source.calls)
        got = await prefetch.getmany(timeout_ms=0, max_records=100)
        assert got == {"p0": [3, 4, 5, 6, 7]}

    run(test)


def test_waits_for_the_first_record_up_to_the_timeout() -> None:
    async def test(source: Source, prefetch: Prefetch) -> None:
        assert await prefetch.getmany(timeout_ms=20, max_records=10) == {}
        asyncio.get_running_loop().call_later(0.01, source.feed, "p2", 7)
        got = await prefetch.getmany(timeout_ms=5000, max_records=10)
        assert got == {"p2": [7]}

    run(test)


def test_clear_drops_what_is_held_and_frees_room() -> None:
    async def test(source: Source, prefetch: Prefetch) -> None:
        source.feed("p0", *range(8))
        await settle()
        prefetch.clear()  # a revoke: the consumer delivers them again from the committed offset
        assert prefetch.held == 0
        await settle()
        assert await prefetch.getmany(timeout_ms=0, max_records=10) == {"p0": [5, 6, 7]}

    run(test)


def test_a_fetch_error_reaches_the_reader() -> None:
    async def test(source: Source, prefetch: Prefetch) -> None:
        source.error = RuntimeError("broker gone")
        await settle()
        with pytest.raises(RuntimeError, match="broker gone"):
            await prefetch.getmany(timeout_ms=1000, max_records=10)

    run(test)


@given(
    st.lists(
        st.tuples(st.sampled_from(["p0", "p1", "p2"]), st.integers(1, 4)), min_size=1, max_size=30
    ),
    st.integers(1, 9),
)
def test_a_gatherer_over_it_sees_each_partition_in_order_without_loss(
    arrivals: list[tuple[str, int]], max_events: int
) -> None:
    async def main() -> dict[str, list[int]]:
        source = Source()
        prefetch = Prefetch(source, ceiling=max_events)
        task = asyncio.create_task(prefetch.run())
        gatherer = Gatherer(prefetch.getmany, max_events, 1000, lambda: 0.0)
        seen: dict[str, list[int]] = {}
        n = 0
        for partition, count in arrivals:
            source.feed(partition, *range(n, n + count))
            n += count
            await settle()
            batch = await gatherer.batch()
            assert sum(len(v) for v in batch.values()) <= max_events
            for tp, records in batch.items():
                seen.setdefault(tp, []).extend(records)
        while prefetch.held or source.waiting:
            batch = await gatherer.batch()
            for tp, records in batch.items():
                seen.setdefault(tp, []).extend(records)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    seen = asyncio.run(main())
    expected: dict[str, list[int]] = {}
    n = 0
    for partition, count in arrivals:
        expected.setdefault(partition, []).extend(range(n, n + count))
        n += count
    assert seen == expected

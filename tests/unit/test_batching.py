"""The batching rules (streams.runtime.batching) with an injected clock: the wait for a batch is a
ceiling, never a floor, and a batch never exceeds its ceiling in events."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.batching import Gatherer, chunks


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeFetch:
    """Serves scripted fetches: each step is (records already there, seconds it takes).
    A fetch asked to wait gets the next step whatever its timeout; one asked not to wait
    (timeout 0) gets nothing when the next step is not there yet (marked None)."""

    def __init__(self, steps: list[tuple[list[int] | None, float]], clock: FakeClock) -> None:
        self.steps = steps
        self.clock = clock
        self.calls: list[tuple[int, int]] = []

    async def __call__(self, *, timeout_ms: int, max_records: int) -> Mapping[Any, Sequence[int]]:
        self.calls.append((timeout_ms, max_records))
        if not self.steps:
            self.clock.now += timeout_ms / 1000
            return {}
        records, took = self.steps[0]
        if records is None:
            if timeout_ms == 0:
                return {}
            self.steps.pop(0)
            self.clock.now += took
            return {}
        self.steps.pop(0)
        self.clock.now += took
        return {"p0": records[:max_records]} if records else {}


def gather(steps: list[tuple[list[int] | None, float]], max_events: int, max_wait_ms: int):
    clock = FakeClock()
    fetch = FakeFetch(steps, clock)
    batch = asyncio.run(Gatherer(fetch, max_events, max_wait_ms, clock).batch())
    return batch, fetch.calls, clock.now


@pytest.mark.parametrize(
    ("steps", "max_events", "expected", "calls"),
    [
        # An idle stage hands a lone record on at once: nothing more is there, no waiting.
        ([([1], 0.001)], 500, [1], [(10, 500), (0, 499)]),
        # What is already there is taken without waiting, up to the ceiling.
        ([([1, 2], 0.0), ([3], 0.0), ([4, 5], 0.0)], 4, [1, 2, 3, 4], [(10, 4), (0, 2), (0, 1)]),
        # Nothing at all within the wait: an empty batch after one fetch.
        ([], 500, [], [(10, 500)]),
        # Records that are not there yet are not waited for once the batch has some.
        ([([1], 0.0), (None, 0.0)], 500, [1], [(10, 500), (0, 499)]),
    ],
)
def test_gatherer_takes_what_is_there_up_to_the_ceiling(
    steps: list[tuple[list[int] | None, float]],
    max_events: int,
    expected: list[int],
    calls: list[tuple[int, int]],
) -> None:
    batch, seen_calls, _ = gather(steps, max_events, 10)
    assert batch.get("p0", []) == expected
    assert seen_calls == calls


def test_gatherer_stops_at_the_wait_ceiling_even_when_more_keeps_coming() -> None:
    # Records keep arriving, each fetch taking 4 ms: the batch closes once 10 ms have passed.
    steps: list[tuple[list[int] | None, float]] = [([n], 0.004) for n in range(100)]
    batch, calls, now = gather(steps, 500, 10)
    assert batch["p0"] == [0, 1, 2]
    assert len(calls) == 3
    assert now == pytest.approx(0.012)


@given(
    st.lists(st.lists(st.integers(), min_size=1, max_size=20), max_size=30),
    st.integers(min_value=1, max_value=50),
)
def test_gatherer_never_exceeds_the_ceiling_and_keeps_order(
    fetches: list[list[int]], max_events: int
) -> None:
    steps: list[tuple[list[int] | None, float]] = [(f, 0.0) for f in fetches]
    clock = FakeClock()
    fetch = FakeFetch(list(steps), clock)
    batch = asyncio.run(Gatherer(fetch, max_events, 10, clock).batch())
    got = batch.get("p0", [])
    flat = [n for f in fetches for n in f]
    assert len(got) <= max_events
    assert got == flat[: len(got)]
    assert len(got) == min(max_events, len(flat)) or fetch.steps == []


@pytest.mark.parametrize(
    ("sizes", "ceiling", "expected"),
    [
        ([], 10, []),
        ([3, 3, 3], 10, [[3, 3, 3]]),
        ([3, 3, 3, 3], 10, [[3, 3, 3], [3]]),
        ([12, 1], 10, [[12], [1]]),  # a message larger than the ceiling goes alone
        ([1, 12, 1], 10, [[1], [12], [1]]),
        ([5, 5, 5], 5, [[5], [5], [5]]),
    ],
)
def test_chunks_hold_at_most_the_ceiling_in_events(
    sizes: list[int], ceiling: int, expected: list[list[int]]
) -> None:
    assert list(chunks(sizes, lambda n: n, ceiling)) == expected


@given(st.lists(st.integers(min_value=1, max_value=30)), st.integers(min_value=1, max_value=40))
def test_chunks_are_a_partition_in_order(sizes: list[int], ceiling: int) -> None:
    parts = list(chunks(sizes, lambda n: n, ceiling))
    assert [n for part in parts for n in part] == sizes
    assert all(sum(part) <= ceiling or len(part) == 1 for part in parts)

"""CommitTracker: commit only past records that were all confirmed, whatever the order of
the confirmations."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.apps.bridge.offsets import CommitTracker


def test_commit_waits_for_the_oldest_unconfirmed_record() -> None:
    t: CommitTracker[str] = CommitTracker()
    for offset in (10, 11, 12):
        t.add("p0", offset)
    assert t.committable() == {"p0": 10}  # nothing confirmed: where it started
    t.mark_committed({"p0": 10})
    t.confirm("p0", 12)
    t.confirm("p0", 11)
    assert t.committable() == {} and t.in_flight == 1
    t.confirm("p0", 10)
    assert t.committable() == {"p0": 13} and t.in_flight == 0
    t.mark_committed({"p0": 13})
    assert t.committable() == {}


def test_partitions_are_independent() -> None:
    t: CommitTracker[int] = CommitTracker()
    t.add(0, 5)
    t.add(1, 7)
    t.confirm(1, 7)
    assert t.committable() == {0: 5, 1: 8}
    assert t.in_flight_of([0]) == 1 and t.in_flight_of([1]) == 0


@pytest.mark.parametrize(
    ("adds", "confirm"),
    [
        ([1, 2], 3),  # never added
        ([1, 2], 0),  # before the first
        ([5], 5),  # twice (second call below)
    ],
)
def test_confirming_something_not_in_flight_is_an_error(adds: list[int], confirm: int) -> None:
    t: CommitTracker[str] = CommitTracker()
    for offset in adds:
        t.add("p", offset)
    if confirm in adds:
        t.confirm("p", confirm)
    with pytest.raises(ValueError):
        t.confirm("p", confirm)


def test_offsets_must_increase() -> None:
    t: CommitTracker[str] = CommitTracker()
    t.add("p", 4)
    with pytest.raises(ValueError):
        t.add("p", 4)


def test_forget_drops_a_revoked_partition() -> None:
    t: CommitTracker[str] = CommitTracker()
    t.add("a", 1)
    t.add("b", 1)
    t.forget(["a"])
    assert t.in_flight == 1 and set(t.committable()) == {"b"}
    with pytest.raises(ValueError):
        t.confirm("a", 1)


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    gaps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=40))
    offsets, current = [], draw(st.integers(0, 100))
    for gap in gaps:
        current += gap
        offsets.append(current)
    order = draw(st.permutations(offsets))
    cut = draw(st.integers(0, len(order)))
    return offsets, list(order[:cut])


@given(_runs())
def test_committable_is_the_oldest_unconfirmed_offset(run: tuple[list[int], list[int]]) -> None:
    offsets, confirmed = run
    t: CommitTracker[str] = CommitTracker()
    for offset in offsets:
        t.add("p", offset)
    done: set[int] = set()
    committed = None
    for offset in confirmed:
        t.confirm("p", offset)
        done.add(offset)
        position = t.committable().get("p", committed)  # absent: unchanged since the commit
        unconfirmed = [o for o in offsets if o not in done]
        expected = unconfirmed[0] if unconfirmed else offsets[-1] + 1
        assert position == expected
        # Never past an unconfirmed record: everything before the position is confirmed.
        assert all(o in done for o in offsets if o < expected)
        t.mark_committed({"p": expected})
        committed = expected
    assert t.in_flight == len(offsets) - len(done)

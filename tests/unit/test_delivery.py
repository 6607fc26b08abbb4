"""The fetch ledger tells a record an agent never received from an offset no record has
(commit markers, aborted transactions), and asks for a seek back to the first one missed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.runtime.delivery import PRUNE_AT, TAIL_GRACE_S, FetchLedger
from streams.runtime.publish import TrustDeliveries, pending

P = "scores-0"


def ledger_at(committed: int, *fetches: list[int]) -> FetchLedger[str]:
    ledger: FetchLedger[str] = FetchLedger()
    ledger.sought(P, committed, committed=True)
    for offsets in fetches:
        ledger.fetched(P, offsets)
    return ledger


@pytest.mark.parametrize(
    ("fetched", "done", "delivered", "follow", "rewind"),
    [
        # everything fetched was delivered
        ([10, 11, 12], 10, [10, 11, 12], 3, None),
        # offsets 12 and 13 are commit markers: no record, no gap
        ([10, 11, 14, 15], 10, [10, 11, 14, 15], 4, None),
        # 12 was fetched but never delivered: stop before 13, fetch 12 again
        ([10, 11, 12, 13], 10, [10, 11, 13], 2, 12),
        # the first record after the committed position is missing
        ([10, 11, 12], 10, [11, 12], 0, 10),
        # committed position on a commit marker: the next record follows on
        ([11, 12], 10, [11, 12], 2, None),
        # a later batch carries on from what this worker committed itself
        ([10, 11, 12, 13], 12, [12, 13], 2, None),
        ([10, 11, 12, 13], 12, [13], 0, 12),
        # a record the ledger never saw fetched is not trusted
        ([10, 11], 10, [10, 11, 12], 2, 12),
    ],
)
def test_gaps_table(
    fetched: list[int], done: int, delivered: list[int], follow: int, rewind: int | None
) -> None:
    ledger = ledger_at(10, fetched)
    assert ledger.follow_on(P, done, delivered) == follow
    assert ledger.rewinds() == ({} if rewind is None else {P: rewind})
    assert ledger.rewinds() == {}  # handed over once


def test_batches_of_one_pass_link_across_fetches() -> None:
    ledger = ledger_at(0, [0, 1, 2], [5, 6])  # 3 and 4: a commit marker and an abort
    assert ledger.follow_on(P, 0, [0, 1, 2, 5, 6]) == 5
    ledger = ledger_at(0, [0, 1, 2], [5, 6])
    assert ledger.follow_on(P, 0, [0, 1, 5, 6]) == 2


def test_a_seek_back_starts_a_new_pass_from_its_offset() -> None:
    ledger = ledger_at(0, [0, 1, 2, 3, 4])
    assert ledger.follow_on(P, 0, [0, 1, 3, 4]) == 2
    assert ledger.rewinds() == {P: 2}
    ledger.sought(P, 2)
    ledger.fetched(P, [2, 3, 4])
    assert ledger.follow_on(P, 2, [3, 4]) == 0  # the old pass's rest: still missing 2
    assert ledger.follow_on(P, 2, [2, 3, 4]) == 3  # the new pass


def test_records_fetched_while_a_seek_ran_are_not_trusted_until_fetched_again() -> None:
    ledger = ledger_at(0, [0, 1])
    ledger.fetched(P, [2, 3], clean=False)
    ledger.fetched(P, [4])  # the pass is unknown until the next seek
    assert ledger.follow_on(P, 0, [0, 1, 2, 3, 4]) == 2
    assert ledger.rewinds() == {P: 2}
    ledger.sought(P, 2)
    ledger.fetched(P, [2, 3, 4])
    assert ledger.follow_on(P, 2, [2, 3, 4]) == 3


def test_a_partition_not_yet_sought_to_committed_offsets_processes_nothing() -> None:
    ledger: FetchLedger[str] = FetchLedger()
    assert ledger.follow_on(P, 0, [7, 8]) == 0
    assert ledger.rewinds() == {}  # a seek to 0 would replay what others committed


def test_after_a_takeover_the_committed_offset_is_the_position() -> None:
    ledger = ledger_at(136, [136, 137, 138])
    assert ledger.done(P, 0) == 136  # this worker committed nothing on it yet
    assert ledger.done(P, 200) == 200
    assert ledger.follow_on(P, 136, [137, 138]) == 0
    assert ledger.rewinds() == {P: 136}  # never below the committed offset


def test_a_seek_to_committed_offsets_covers_a_pending_rewind() -> None:
    ledger = ledger_at(0, [0, 1, 2])
    ledger.follow_on(P, 0, [0, 2])
    ledger.sought(P, 0, committed=True)  # a rebalance's seek came first
    assert ledger.rewinds() == {}


def test_partitions_outside_the_assignment_are_forgotten() -> None:
    ledger = ledger_at(0, [0, 1])
    ledger.keep(["scores-1"])
    assert ledger.follow_on(P, 0, [0, 1]) == 0  # no seek to committed since


def test_entries_below_the_committed_position_are_pruned() -> None:
    ledger = ledger_at(0, list(range(PRUNE_AT + 10)))
    assert ledger.follow_on(P, 0, list(range(PRUNE_AT))) == PRUNE_AT
    assert sorted(ledger._before[P]) == list(range(PRUNE_AT, PRUNE_AT + 10))
    ledger.fetched(P, [PRUNE_AT + 10])
    assert ledger.follow_on(P, PRUNE_AT, list(range(PRUNE_AT, PRUNE_AT + 11))) == 11


def test_trusting_deliveries_keeps_what_unseen_keeps() -> None:
    assert pending([5, 6, 3, 4], int, ("t", 0), 4, TrustDeliveries()) == [4]


@settings(max_examples=300, deadline=None)
@given(
    log=st.lists(st.booleans(), min_size=1, max_size=60),
    drops=st.lists(st.integers(0, 59), max_size=5),
    chunk=st.integers(1, 8),
)
def test_what_is_processed_never_skips_a_record(
    log: list[bool], drops: list[int], chunk: int
) -> None:
    """Offsets where ``log`` is True hold records (the others: markers, aborts). The
    fetcher returns the records in chunks, the agent loses those at ``drops``. Following
    the ledger, rewinds included, processes every record once, in order."""
    records = [offset for offset, real in enumerate(log) if real]
    lost = set(drops)
    ledger: FetchLedger[str] = FetchLedger()
    ledger.sought(P, 0, committed=True)
    position, processed = 0, []
    for _ in range(len(log) + len(lost) + 2):
        todo = [r for r in records if r >= position]
        if not todo:
            break
        for start in range(0, len(todo), chunk):
            ledger.fetched(P, todo[start : start + chunk])
        delivered = [r for r in todo if r not in lost]
        lost = set()  # a record is lost once; fetched again, it arrives
        count = ledger.follow_on(P, position, delivered)
        processed += delivered[:count]
        if count:
            position = delivered[count - 1] + 1
        for _, offset in ledger.rewinds().items():
            assert offset == position
            ledger.sought(P, offset)
    assert processed == records


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def tail_ledger(committed: int, fetched: list[int]) -> tuple[FetchLedger[str], Clock]:
    clock = Clock()
    ledger: FetchLedger[str] = FetchLedger(clock)
    ledger.sought(P, committed, committed=True)
    ledger.fetched(P, fetched)
    return ledger, clock


@pytest.mark.parametrize(
    ("handed", "waited", "rewind"),
    [
        # every fetched record reached the agent: nothing is overdue, however long idle
        ([10, 11, 12], 60.0, None),
        # the tail (12) was lost and nothing follows it: fetched again after the grace
        ([10, 11], TAIL_GRACE_S, 12),
        ([10, 11], TAIL_GRACE_S - 0.1, None),
        # the whole fetch was lost (the SIGKILL test's partition just taken over)
        ([], TAIL_GRACE_S, 10),
    ],
)
def test_a_lost_tail_is_asked_for_again_after_the_grace(
    handed: list[int], waited: float, rewind: int | None
) -> None:
    ledger, clock = tail_ledger(10, [10, 11, 12])
    assert ledger.follow_on(P, 10, handed) == len(handed)
    clock.now += waited
    ledger.overdue()
    assert ledger.rewinds() == ({} if rewind is None else {P: rewind})
    ledger.overdue()
    assert ledger.rewinds() == {}  # asked once; the seek back starts a new wait


def test_progress_restarts_the_wait() -> None:
    ledger, clock = tail_ledger(10, [10, 11, 12, 13])
    clock.now += TAIL_GRACE_S - 1
    ledger.follow_on(P, 10, [10, 11])  # the agent is slow, not stuck
    clock.now += TAIL_GRACE_S - 1
    ledger.overdue()
    assert ledger.rewinds() == {}
    clock.now += 1
    ledger.overdue()
    assert ledger.rewinds() == {P: 12}


def test_no_tail_wait_before_a_seek_to_committed_or_for_records_already_handed() -> None:
    clock = Clock()
    ledger: FetchLedger[str] = FetchLedger(clock)
    ledger.fetched(P, [5, 6])  # not sought to committed offsets yet: that seek refetches
    clock.now += 60
    ledger.overdue()
    assert ledger.rewinds() == {}
    ledger, clock = tail_ledger(10, [10, 11])
    ledger.follow_on(P, 10, [10, 11])
    ledger.fetched(P, [10, 11])  # a second delivery of what the agent already had
    clock.now += 60
    ledger.overdue()
    assert ledger.rewinds() == {}


def test_a_seek_and_a_new_assignment_end_the_wait() -> None:
    ledger, clock = tail_ledger(10, [10, 11])
    ledger.sought(P, 10)
    clock.now += 60
    ledger.overdue()
    assert ledger.rewinds() == {}
    ledger.fetched(P, [10, 11])
    ledger.keep(["scores-1"])
    clock.now += 60
    ledger.overdue()
    assert ledger.rewinds() == {}


@settings(max_examples=300, deadline=None)
@given(
    log=st.lists(st.booleans(), min_size=1, max_size=40),
    drops=st.lists(st.integers(0, 39), max_size=5),
    chunk=st.integers(1, 8),
)
def test_fetched_once_and_then_idle_every_record_is_processed(
    log: list[bool], drops: list[int], chunk: int
) -> None:
    """The records are fetched once and no new input follows; the agent loses those at
    ``drops`` (the tail among them, possibly). Gap rewinds and the tail grace together
    bring every record to the agent, and nothing is asked for when nothing was lost."""
    records = [offset for offset, real in enumerate(log) if real]
    lost = set(drops) & set(records)
    clock = Clock()
    ledger: FetchLedger[str] = FetchLedger(clock)
    ledger.sought(P, 0, committed=True)
    position, processed, asked = 0, [], 0
    todo = records
    for _ in range(2 * len(records) + 2):
        for start in range(0, len(todo), chunk):
            ledger.fetched(P, todo[start : start + chunk])
        delivered = [r for r in todo if r not in lost]
        lost = set()  # fetched again, a record arrives
        count = ledger.follow_on(P, position, delivered)
        processed += delivered[:count]
        if count:
            position = delivered[count - 1] + 1
        rewinds = ledger.rewinds()
        if not rewinds:
            clock.now += TAIL_GRACE_S  # idle: no later record comes
            ledger.overdue()
            rewinds = ledger.rewinds()
        if not rewinds:
            break
        asked += 1
        assert rewinds == {P: position}
        ledger.sought(P, position)
        todo = [r for r in records if r >= position]
    assert processed == records
    assert asked <= len(set(drops) & set(records))

"""Which fetched records an agent has not been handed: a delivery gap, told from a log gap.

Offsets alone cannot show that an agent missed a record: the by-board topic is written in
transactions, so its commit markers take offsets no consumer ever receives, and records of
aborted transactions are filtered out by a ``read_committed`` fetch. What the fetcher
returned can: this ledger keeps, per partition, the offset of the record fetched just
before each fetched record (its predecessor in the ``read_committed`` view of the log).
An agent about to commit input up to offset ``x`` asks whether every record fetched
between its committed position and ``x`` is in its hands. A record fetched but never
delivered (faust dropped it from a queue, or from its fetch loop as "already read" after
overlapping passes of one partition) makes the answer no; the agent then processes only
the part before the gap and the consumer seeks the partition back to it, so the missing
records come again instead of being committed past.

A gap shows only when a later record arrives. When the lost records are a partition's
newest (its tail), nothing follows them until new input comes, which may be never. So the
ledger also notes what has been handed to the agent: records fetched beyond that and still
not handed :data:`TAIL_GRACE_S` seconds after the partition last made progress are asked
for again the same way (:meth:`FetchLedger.overdue`). Asking too early costs a refetch,
never an event: whatever comes twice is dropped below the committed position.

Why faust loses records between fetch and agent, and the history of the losses this ledger
ends: docs/design/by-board-delivery.md. Pure and without faust, so it is unit-tested on its
own with an injected clock (``tests/unit/test_delivery.py``); :mod:`streams.runtime.consumer`
feeds it from the fetch loop and carries out the seeks it asks for.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, Generic, TypeVar

P = TypeVar("P", bound=Hashable)

#: The predecessor of a record whose fetch this ledger could not follow (or never saw):
#: above any position, so judging it always asks for a seek back, which fetches it again.
UNKNOWN = sys.maxsize
#: Predecessor entries kept per partition before those below the committed position are
#: dropped (they are never asked about again); the bound doubles if a fetch buffer holds
#: more than half of it above the position.
PRUNE_AT = 20_000
#: How long fetched records may wait unhanded while their partition makes no progress
#: before they are fetched again. Far above a batch's wait and a transaction's round trips;
#: a partition of a busy worker still progresses every few hundred milliseconds.
TAIL_GRACE_S = 10.0


class FetchLedger(Generic[P]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._before: dict[P, dict[int, int]] = {}
        self._last: dict[P, int] = {}  # last offset fetched in the partition's current pass
        self._committed: dict[P, int] = {}  # where the last seek to committed put it
        self._rewinds: dict[P, int] = {}
        self._prune_at: dict[P, int] = {}
        self._tail: dict[P, int] = {}  # the highest offset fetched since the last seek
        self._handed: dict[P, int] = {}  # the highest handed to the agent since the last seek
        self._waiting: dict[P, float] = {}  # since when records beyond _handed wait (clock)

    def sought(self, partition: P, offset: int, *, committed: bool = False) -> None:
        """A seek put ``partition`` at ``offset``: its next record follows on from
        ``offset - 1``. ``committed`` marks a seek to the group's committed offset, which
        is then the position an agent that has not committed yet starts from."""
        self._last[partition] = offset - 1
        self._tail[partition] = self._handed[partition] = offset - 1
        self._waiting.pop(partition, None)
        if committed:
            self._committed[partition] = offset
        pending = self._rewinds.get(partition)
        if pending is not None and offset <= pending:
            del self._rewinds[partition]  # this seek brings the missing records too

    def fetched(self, partition: P, offsets: Iterable[int], *, clean: bool = True) -> None:
        """Records of ``partition`` the fetcher returned, in the order it returned them.

        ``clean=False`` says a seek ran while they were fetched, so they may belong to the
        pass before it: their predecessors count as unknown, which makes an agent that
        receives them ask for a seek back rather than trust them.
        """
        before = self._before.setdefault(partition, {})
        last = self._last.get(partition)
        offsets = list(offsets)
        if offsets:
            tail = self._tail[partition] = max(self._tail.get(partition, -1), max(offsets))
            if tail > self._handed.get(partition, -1):
                self._waiting.setdefault(partition, self._clock())
        for offset in offsets:
            if clean and last is not None and offset > last:
                before[offset] = last
            else:  # the position may have moved without a seek seen here
                before[offset] = UNKNOWN
            last = offset
        if clean and last is not None:
            self._last[partition] = last
        else:
            self._last.pop(partition, None)  # unknown until the next seek

    def done(self, partition: P, position: int) -> int:
        """The committed position to judge deliveries by: the agent's own (``position``;
        0 when it has not committed on this partition yet) or, after it took the
        partition over, the group's committed offset the last seek went to."""
        return max(position, self._committed.get(partition, 0))

    def follow_on(self, partition: P, done: int, offsets: Sequence[int]) -> int:
        """How many of ``offsets`` (ascending, all at or above ``done``) can be processed:
        the leading run with no fetched record missing before any of them. When that is
        not all of them, a seek back to the first missing one is asked for.

        Before a seek to committed offsets has placed the partition (a batch can still
        hold events of a partition this worker lost and got back) nothing is processed and
        nothing asked: a seek back could then go below what is committed, and that seek
        to committed offsets, still to come, fetches them again anyway.
        """
        self._handed_to(partition, offsets[-1] if offsets else done - 1)
        if partition not in self._committed:
            return 0
        before = self._before.get(partition, {})
        previous = done - 1
        for count, offset in enumerate(offsets):
            if before.get(offset, UNKNOWN) > previous:
                self._rewinds.setdefault(partition, previous + 1)
                self._prune(partition, previous + 1)
                return count
            previous = offset
        self._prune(partition, previous + 1)
        return len(offsets)

    def placed(self, partition: P) -> bool:
        """Whether a seek to committed offsets has placed the partition since it was
        assigned (until then :meth:`follow_on` lets nothing through)."""
        return partition in self._committed

    def _handed_to(self, partition: P, offset: int) -> None:
        handed = self._handed.get(partition)
        if handed is None or offset > handed:
            self._handed[partition] = offset
            if offset >= self._tail.get(partition, -1):
                self._waiting.pop(partition, None)  # all fetched records are in its hands
            elif partition in self._waiting:
                self._waiting[partition] = self._clock()  # progress: the wait starts again

    def overdue(self, grace: float = TAIL_GRACE_S) -> None:
        """Ask for a seek back to the first record not handed to the agent for every
        partition whose fetched records have waited ``grace`` seconds without progress."""
        cutoff = self._clock() - grace
        for partition, since in list(self._waiting.items()):
            handed = self._handed.get(partition)
            if since <= cutoff and handed is not None and partition in self._committed:
                self._rewinds.setdefault(partition, handed + 1)
                del self._waiting[partition]

    def rewinds(self) -> dict[P, int]:
        """The seeks asked for since the last call (partition: offset), handed over once."""
        asked, self._rewinds = self._rewinds, {}
        return asked

    def keep(self, partitions: Iterable[P]) -> None:
        """Forget every partition but these (the new assignment). Kept partitions keep
        their entries across a rebalance: they describe the log, and an event delivered
        before the rebalance may still be judged after it."""
        kept = set(partitions)
        tables: list[dict[P, Any]] = [self._before, self._last, self._committed, self._rewinds]
        tables += [self._prune_at, self._tail, self._handed, self._waiting]
        for table in tables:
            for partition in [p for p in table if p not in kept]:
                del table[partition]

    def _prune(self, partition: P, done: int) -> None:
        before = self._before.get(partition)
        limit = self._prune_at.get(partition, PRUNE_AT)
        if before is None or len(before) <= limit:
            return
        kept = {offset: prev for offset, prev in before.items() if offset >= done}
        self._before[partition] = kept
        self._prune_at[partition] = max(PRUNE_AT, 2 * len(kept))

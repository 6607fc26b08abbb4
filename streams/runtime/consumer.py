"""faust's aiokafka consumer for the rank stage, with the rules exactly-once needs on top.

faust's fetch loop may fetch a record and never hand it to the agent, or deliver a partition
twice, around a rebalance; the rank stage commits its input offsets in its own transactions,
so such a record would be committed past. This consumer keeps these invariants
(docs/design/by-board-delivery.md has the reasons, the history and the tests):

* It reads ``read_committed`` whatever faust's processing guarantee: records of aborted
  transactions on the by-board topic are never ranked.
* After a rebalance every partition has an explicit position: one without a committed
  offset is sought to its log start (aiokafka's ``seek_to_committed`` skips it, and faust
  has dropped the records it fetched but had not delivered, relying on that seek).
* No stream partition is fetched while faust rebalances or any seek is in flight, nor a
  partition of a new assignment before a finished seek has covered it: faust resumes
  partitions before its seek has finished, and a second pass of a partition is dropped by
  faust's read offset as "already read" after records of the first went missing.
* A unit commits only a gap-free run of delivered records: a ledger of what was fetched
  (:mod:`streams.runtime.delivery`) tells a record fetched but never delivered, and the
  consumer seeks back to it between two fetches; fetched records still not delivered
  :data:`~streams.runtime.delivery.TAIL_GRACE_S` after their partition last progressed
  (a lost tail, which no later record reveals) are fetched again the same way.
* faust commits no offsets of the topics our transactions commit
  (:class:`~streams.runtime.publish.TransactionalPublisher`): a timer commit of an older
  batch landing after a newer transaction would move the group back.

Tests: ``tests/unit/test_consumer.py``, ``tests/unit/test_delivery.py``,
``tests/integration/test_delivery_gaps.py``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence, Set
from typing import Any, ClassVar, cast

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.runtime.delivery import FetchLedger

#: How long a fetch waits when every active partition still awaits its seek (a seek takes
#: one round trip to the group coordinator).
UNSOUGHT_WAIT_S = 0.05
#: faust gives up waiting for its seek after ``broker_request_timeout`` and carries on; if
#: partitions then stay unfetched, say so rather than stall mute.
UNSOUGHT_WARN_S = 60.0

log = logging.getLogger(__name__)


class _ReadCommittedThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read at start(), when aiokafka builds its fetcher; faust sets it only in its own
        # (unused) exactly-once mode.
        consumer._isolation_level = "read_committed"
        return consumer

    async def seek_to_committed(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()

        async def seek() -> Mapping[TP, int]:
            committed: Mapping[TP, int | None] = await consumer.seek_to_committed()
            fresh = [tp for tp, offset in committed.items() if not offset]
            # An explicit position, not seek_to_beginning: that leaves the partition
            # "awaiting reset" without a position until the fetcher resolves it, and
            # faust's livelock check reads the position meanwhile and crashes the worker
            # (AssertionError in aiokafka's TopicPartitionState.position).
            starts: Mapping[TP, int] = await consumer.beginning_offsets(fresh) if fresh else {}
            for tp in fresh:
                consumer.seek(tp, starts[tp])
            return {tp: offset or starts[tp] for tp, offset in committed.items()}

        return cast(Mapping[TP, int], await self.call_thread(seek))


class RankstreamConsumer(faust_aiokafka.Consumer):
    """Set ``transactional_topics`` on a subclass; see the module docstring."""

    transactional_topics: ClassVar[frozenset[str]] = frozenset()
    #: Stream partitions of the current assignment not sought to their committed offset yet.
    _unsought: frozenset[TP] = frozenset()
    _seeks_in_flight = 0
    _assignments = 0
    _assigned_at = 0.0
    _warned = False
    #: Bumped when a seek starts or ends: a fetch that saw it change may hold either pass.
    _seek_epoch = 0
    _ledger_instance: FetchLedger[TP] | None = None

    @property
    def _ledger(self) -> FetchLedger[TP]:
        if self._ledger_instance is None:
            self._ledger_instance = FetchLedger()
        return self._ledger_instance

    # -- what agents ask before they commit (streams.runtime.delivery) --------------------------

    def delivered_done(self, topic: str, partition: int, position: int) -> int:
        """The committed position of an input partition to judge a batch by."""
        if topic not in self.transactional_topics:
            return position
        return self._ledger.done(TP(topic, partition), position)

    def follow_on(self, topic: str, partition: int, done: int, offsets: Sequence[int]) -> int:
        """How many of a batch's ``offsets`` may be processed and committed; the rest
        waits for a seek back that fetches the records the agent never received."""
        if topic not in self.transactional_topics:
            return len(offsets)  # faust commits these itself, by acked offsets
        tp = TP(topic, partition)
        if offsets and not self._ledger.placed(tp):
            # Normal just after a rebalance; a partition stuck here would stall unseen.
            log.info("%s[%d]: %d records wait for the seek to committed offsets", *tp, len(offsets))
        return self._ledger.follow_on(tp, done, offsets)

    # -- faust's hooks -----------------------------------------------------------------

    async def on_partitions_assigned(self, assigned: Set[TP], generation_id: int = 0) -> None:
        self._assignments += 1
        self._assigned_at, self._warned = time.monotonic(), False
        self._unsought = frozenset(tp for tp in assigned if not self._is_changelog_tp(tp))
        self._ledger.keep(assigned)
        await super().on_partitions_assigned(assigned, generation_id)

    async def perform_seek(self) -> None:
        pending, assignments = self._unsought, self._assignments
        self._seeks_in_flight += 1
        self._seek_epoch += 1
        try:
            await super().perform_seek()
        finally:
            self._seeks_in_flight -= 1
            self._seek_epoch += 1
        if assignments == self._assignments:  # no newer assignment began meanwhile
            self._unsought = self._unsought - pending

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await super().seek_to_committed()
        for tp, offset in committed.items():
            if tp.topic in self.transactional_topics:
                self._ledger.sought(tp, offset, committed=True)
        return committed

    def _held(self, active: set[TP]) -> set[TP]:
        """The stream partitions not to fetch now.

        All of them while faust rebalances or any seek is in flight: a rebalance may run two
        seeks that overlap (one from the fetch loop, which seeks back when it finds the flow
        stopped, and recovery's), and records fetched between them would be delivered once
        from the first position and again after the second seek moved the partition back.
        After the rebalance, those of a new assignment that no finished seek has covered.
        """
        if self._seeks_in_flight or self.app.rebalancing:
            return {tp for tp in active if not self._is_changelog_tp(tp)}
        return active & self._unsought

    async def _getmany(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        epoch = self._seek_epoch
        records = await self._fetch(active_partitions, timeout)
        clean = epoch == self._seek_epoch
        for tp, batch in records.items():
            if tp.topic in self.transactional_topics:
                self._ledger.fetched(tp, (record.offset for record in batch), clean=clean)
        return records

    async def _rewind(self) -> None:
        """Carry out the seeks agents asked for, here because faust's fetch loop calls this
        between two fetches: a seek made while it still hands out the records of the
        previous fetch would see them mark the partition read again past the seek."""
        if self._seeks_in_flight or self.app.rebalancing:
            return  # the rebalance's own seek to committed offsets comes first
        self._ledger.overdue()  # a lost tail: no later record shows its gap
        rewinds = self._ledger.rewinds()
        assignment = self.assignment() if rewinds else frozenset()
        for tp, offset in rewinds.items():
            if tp in assignment:
                log.warning(
                    "%s[%d]: records fetched from offset %d on never reached the agent; "
                    "fetching them again",
                    tp.topic,
                    tp.partition,
                    offset,
                )
                await self.seek(tp, offset)  # faust resets its read offset too
                self._ledger.sought(tp, offset)

    async def _fetch(self, active_partitions: set[TP] | None, timeout: float) -> RecordMap:
        await self._rewind()
        if active_partitions is not None:
            held = self._held(active_partitions)
            if held:
                if not self._warned and self._waited() > UNSOUGHT_WARN_S:
                    self._warned = True
                    log.warning(
                        "%d partitions still wait for faust's rebalance and seek to committed "
                        "offsets %.0f s after their assignment; they are not fetched until "
                        "both are done",
                        len(held),
                        self._waited(),
                    )
                active_partitions = active_partitions - held
                if not active_partitions:
                    await asyncio.sleep(min(timeout, UNSOUGHT_WAIT_S))
                    return {}
        return await super()._getmany(active_partitions, timeout)

    def _waited(self) -> float:
        return time.monotonic() - self._assigned_at

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ReadCommittedThread(self, loop=self.loop, beacon=self.beacon)

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        kept = {tp: off for tp, off in offsets.items() if tp.topic not in self.transactional_topics}
        if not kept:
            return True
        return bool(await super()._commit(kept))


def consumer_class(transactional_topics: set[str]) -> type[RankstreamConsumer]:
    return type(
        "Consumer", (RankstreamConsumer,), {"transactional_topics": frozenset(transactional_topics)}
    )

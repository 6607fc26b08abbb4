"""Whether the job has caught up with the input that feeds a by-board partition, for idle
close (contract section 2: a backlog is applied first; downtime never makes events late).

A partition is caught up when no committed record is left to read at or after its
consumer group's committed offset, on both hops: the intake group's scores partitions
(any of them may hold events of any board) and the rank group's by-board partition. The
check reads the topics ``read_committed`` from the committed offsets with a short fetch,
so commit markers and aborted transactions count as nothing left, and a record already
fetched by faust but still waiting in a batch counts as something left (its offset is not
committed yet). It uses no group membership (``assign``, never ``subscribe``) and commits
nothing. Design record: docs/design/dedup-horizon.md ("Idle close").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

#: How long one check waits for a record past the committed offsets; a record that is
#: committed is returned by the broker at once, so this bounds only the nothing-left case.
PROBE_WAIT_MS = 200


class _Probe:
    """A consumer of one group's view of one topic, kept open across checks."""

    def __init__(self, options: Mapping[str, Any], group: str, topic: str) -> None:
        self._options, self._group, self._topic = options, group, topic
        self._consumer: AIOKafkaConsumer | None = None

    async def uncommitted(self, partitions: Iterable[int] | None = None) -> set[int]:
        """The ``partitions`` (None: all of the topic's) that hold a committed record at or
        after the group's committed offset (with no committed offset: from the start)."""
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                **self._options,
                group_id=self._group,
                enable_auto_commit=False,
                isolation_level="read_committed",
                fetch_max_wait_ms=PROBE_WAIT_MS,
            )
            await self._consumer.start()
        consumer = self._consumer
        if partitions is None:
            # The topic's partitions from fresh metadata (the consumer tracks only the
            # topics it is assigned, and ``topics()`` does not keep what it fetched).
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(self._topic) or ()
        tps = [TopicPartition(self._topic, p) for p in partitions]
        if not tps:
            return set()
        consumer.assign(tps)
        for tp in tps:
            offset = await consumer.committed(tp)
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        found = await consumer.getmany(*tps, timeout_ms=PROBE_WAIT_MS, max_records=len(tps))
        return {tp.partition for tp, records in found.items() if records}

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


class CaughtUp:
    """One check per idle-close tick: :meth:`refresh` reads both hops, then
    :meth:`__call__` answers per by-board partition (what ``Ranker.close_idle`` asks)."""

    def __init__(
        self,
        options: Mapping[str, Any],
        rank: tuple[str, str],
        intake: tuple[str, str],
    ) -> None:
        """``rank`` and ``intake``: (consumer group, input topic) of each stage."""
        self._rank = _Probe(options, *rank)
        self._intake = _Probe(options, *intake)
        self._behind: set[int] | None = None  # None: the intake is behind

    async def refresh(self, owned: Iterable[int]) -> None:
        self._behind = None
        if not await self._intake.uncommitted():
            self._behind = await self._rank.uncommitted(owned)

    def __call__(self, partition: int) -> bool:
        return self._behind is not None and partition not in self._behind

    async def stop(self) -> None:
        await self._rank.stop()
        await self._intake.stop()

"""The worker's consumer seeks partitions that have no committed offset to their beginning
after a rebalance, as an explicit position so that faust never sees a partition without
one (aiokafka's seek_to_committed leaves them where the fetcher was, after the messages
faust dropped from its queues)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import TopicPartition

from streams.consumer import _ReadCommittedThread


class FakeAioKafkaConsumer:
    def __init__(self, committed: dict[TopicPartition, int | None], log_start: int = 0) -> None:
        self.committed = committed
        self.log_start = log_start
        self.sought: dict[TopicPartition, int] = {}

    async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
        return dict(self.committed)

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {tp: self.log_start for tp in partitions}

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.sought[partition] = offset

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        raise AssertionError("lazy: leaves the partitions without a position (see consumer.py)")


def thread_with(consumer: FakeAioKafkaConsumer) -> _ReadCommittedThread:
    thread = object.__new__(_ReadCommittedThread)  # no faust app or event loop needed

    async def call_thread(fun: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        return await fun(*args)

    thread._ensure_consumer = lambda: consumer  # type: ignore[method-assign]
    thread.call_thread = call_thread  # type: ignore[method-assign]
    return thread


def test_partitions_without_a_committed_offset_are_sought_to_their_beginning() -> None:
    never, zero, some = (TopicPartition("scores", p) for p in range(3))
    consumer = FakeAioKafkaConsumer({never: None, zero: 0, some: 17})
    result = asyncio.run(thread_with(consumer).seek_to_committed())
    assert consumer.sought == {never: 0, zero: 0}
    assert result == {never: 0, zero: 0, some: 17}


def test_the_beginning_is_the_log_start_when_retention_deleted_the_first_records() -> None:
    never = TopicPartition("scores", 0)
    consumer = FakeAioKafkaConsumer({never: None}, log_start=40)
    result = asyncio.run(thread_with(consumer).seek_to_committed())
    assert consumer.sought == {never: 40}
    assert result == {never: 40}


def test_nothing_extra_happens_when_every_partition_has_a_committed_offset() -> None:
    consumer = FakeAioKafkaConsumer({TopicPartition("scores", 0): 5})
    asyncio.run(thread_with(consumer).seek_to_committed())
    assert consumer.sought == {}

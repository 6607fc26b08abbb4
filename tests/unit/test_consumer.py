"""The worker's consumer seeks partitions that have no committed offset to their beginning
after a rebalance, as an explicit position so that faust never sees a partition without
one (aiokafka's seek_to_committed leaves them where the fetcher was, after the messages
faust dropped from its queues), and fetches no stream partition of a new assignment until
that seek has finished."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any, NamedTuple

import pytest
from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from streams.runtime.consumer import (
    UNSOUGHT_WARN_S,
    RankstreamConsumer,
    _ReadCommittedThread,
    consumer_class,
)


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


class FakeThread:
    """What RankstreamConsumer delegates fetching and seeking to."""

    def __init__(self, committed: dict[TP, int]) -> None:
        self.committed = committed
        self.fetched_for: list[set[TP] | None] = []
        #: Set, the next fetch returns these offsets (then nothing); None: a "record" each.
        self.offsets: dict[TP, list[int]] | None = None
        self.seeks: list[tuple[TP, int]] = []

    async def getmany(self, active_partitions: set[TP] | None, timeout: float) -> dict[TP, list]:  # type: ignore[type-arg]
        self.fetched_for.append(None if active_partitions is None else set(active_partitions))
        if self.offsets is not None:
            fetched, self.offsets = self.offsets, {}
            return {tp: [Record(o) for o in offsets] for tp, offsets in fetched.items()}
        return {tp: ["record"] for tp in active_partitions or ()}

    async def seek_to_committed(self) -> dict[TP, int]:
        return dict(self.committed)

    def seek(self, partition: TP, offset: int) -> None:
        self.seeks.append((partition, offset))

    def assignment(self) -> set[TP]:
        return set(self.committed)


class Record(NamedTuple):
    offset: int


def consumer_with(
    thread: FakeThread, cls: type[RankstreamConsumer] = RankstreamConsumer
) -> RankstreamConsumer:
    consumer = object.__new__(cls)  # no faust app needed for these paths
    consumer._thread = thread  # type: ignore[assignment]
    consumer._read_offset = {}  # type: ignore[assignment]
    consumer._committed_offset = {}  # type: ignore[assignment]
    consumer._is_changelog_tp = lambda tp: tp.topic.endswith("-changelog")  # type: ignore[method-assign]
    consumer.app = SimpleNamespace(rebalancing=False)  # type: ignore[assignment]
    consumer.log = SimpleNamespace(dev=lambda *args: None)  # type: ignore[assignment]
    return consumer


SCORES = [TP("scores", p) for p in range(3)]
CHANGELOG = TP("app-state-changelog", 0)


async def assign(
    consumer: RankstreamConsumer, tps: set[TP], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def assigned(self: Any, assigned: Any, generation_id: int = 0) -> None:
        return None

    monkeypatch.setattr(faust_aiokafka.Consumer, "on_partitions_assigned", assigned)
    await consumer.on_partitions_assigned(tps, 1)


def test_no_stream_partition_is_fetched_between_an_assignment_and_its_seek(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """faust resumes the partitions before its seek has finished; until the seek is done,
    only the changelog (recovery) is fetched, and afterwards every resumed partition is."""
    thread = FakeThread({tp: 10 for tp in SCORES})
    consumer = consumer_with(thread)

    async def scenario() -> None:
        await assign(consumer, {*SCORES, CHANGELOG}, monkeypatch)
        assert await consumer._getmany({*SCORES, CHANGELOG}, 1.0) == {CHANGELOG: ["record"]}
        assert await consumer._getmany(set(SCORES), 0.01) == {}  # nothing else may be fetched
        await consumer.perform_seek()
        records = await consumer._getmany({*SCORES, CHANGELOG}, 1.0)
        assert set(records) == {*SCORES, CHANGELOG}
        assert consumer._read_offset == {tp: 10 for tp in SCORES}

    asyncio.run(scenario())
    assert thread.fetched_for == [{CHANGELOG}, {*SCORES, CHANGELOG}]


def test_a_new_assignment_during_a_seek_keeps_its_partitions_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = FakeThread({SCORES[0]: 10})
    consumer = consumer_with(thread)

    async def scenario() -> None:
        await assign(consumer, {SCORES[0]}, monkeypatch)
        seeking = thread.seek_to_committed

        async def seek_while_rebalancing() -> dict[TP, int]:
            await assign(consumer, {SCORES[0], SCORES[1]}, monkeypatch)  # a rebalance meanwhile
            return await seeking()

        thread.seek_to_committed = seek_while_rebalancing  # type: ignore[method-assign]
        await consumer.perform_seek()
        assert await consumer._getmany({SCORES[0], SCORES[1]}, 0.01) == {}

    asyncio.run(scenario())


def test_fetching_without_an_active_set_is_left_to_faust() -> None:
    thread = FakeThread({})
    consumer = consumer_with(thread)
    asyncio.run(consumer._getmany(None, 1.0))  # client-only apps fetch everything
    assert thread.fetched_for == [None]


def test_partitions_left_waiting_by_a_seek_faust_gave_up_on_are_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = consumer_with(FakeThread({}))

    async def scenario() -> None:
        await assign(consumer, set(SCORES), monkeypatch)
        await consumer._getmany(set(SCORES), 0.01)
        assert not caplog.records  # a seek normally takes well under a second
        consumer._assigned_at -= UNSOUGHT_WARN_S + 1
        await consumer._getmany(set(SCORES), 0.01)
        await consumer._getmany(set(SCORES), 0.01)

    with caplog.at_level(logging.WARNING, logger="streams.runtime.consumer"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "3 partitions still wait for faust's rebalance and seek to committed offsets 61 s "
        "after their assignment; they are not fetched until both are done"
    ]


def test_overlapping_seeks_hold_the_stream_partitions_until_the_last_one_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rebalance once ran two seeks that overlapped (the fetch loop's and recovery's); the
    partitions were fetched between the first one's end and the second's, and delivered
    again after the second moved them back."""
    thread = FakeThread({tp: 10 for tp in SCORES})
    consumer = consumer_with(thread)

    async def scenario() -> None:
        await assign(consumer, set(SCORES), monkeypatch)
        second_may_finish = asyncio.Event()
        seeking = thread.seek_to_committed

        async def slow_seek() -> dict[TP, int]:
            await second_may_finish.wait()
            return await seeking()

        first = asyncio.ensure_future(consumer.perform_seek())  # its seek returns at once
        await asyncio.sleep(0)
        thread.seek_to_committed = slow_seek  # type: ignore[method-assign]
        second = asyncio.ensure_future(consumer.perform_seek())
        await asyncio.sleep(0)  # the second one starts
        await first
        assert await consumer._getmany(set(SCORES), 0.01) == {}  # the second is in flight
        second_may_finish.set()
        await second
        assert set(await consumer._getmany(set(SCORES), 0.01)) == set(SCORES)

    asyncio.run(scenario())


def test_only_the_changelog_is_fetched_while_faust_rebalances(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = FakeThread({tp: 10 for tp in SCORES})
    consumer = consumer_with(thread)

    async def scenario() -> None:
        await assign(consumer, {*SCORES, CHANGELOG}, monkeypatch)
        await consumer.perform_seek()  # the fetch loop's seek, before recovery's
        consumer.app.rebalancing = True
        assert await consumer._getmany({*SCORES, CHANGELOG}, 0.01) == {CHANGELOG: ["record"]}
        consumer.app.rebalancing = False  # faust's on_rebalance_end, after recovery's seek
        assert set(await consumer._getmany({*SCORES, CHANGELOG}, 0.01)) == {*SCORES, CHANGELOG}

    asyncio.run(scenario())


def ledgered(committed: int) -> tuple[FakeThread, RankstreamConsumer]:
    """A consumer of topics our transactions commit (exactly-once), with SCORES[0]
    committed at ``committed``."""
    thread = FakeThread({SCORES[0]: committed})
    return thread, consumer_with(thread, consumer_class({"scores"}))


async def assign_and_seek(consumer: RankstreamConsumer, monkeypatch: pytest.MonkeyPatch) -> None:
    await assign(consumer, {SCORES[0]}, monkeypatch)
    await consumer.perform_seek()


def test_an_event_the_agent_never_received_is_fetched_again_before_the_next_fetch(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The agent asks before it commits; the seek back happens in the fetch loop's next
    fetch, where no record of the previous one is still being handed out."""
    tp = SCORES[0]
    thread, consumer = ledgered(10)

    async def scenario() -> None:
        await assign_and_seek(consumer, monkeypatch)
        thread.offsets = {tp: [10, 11, 12, 13]}
        await consumer._getmany({tp}, 0.01)
        done = consumer.delivered_done("scores", 0, 0)
        assert done == 10  # nothing committed by this worker yet: the group's offset
        assert consumer.follow_on("scores", 0, done, [10, 11, 13]) == 2  # 12 never came
        assert thread.seeks == []
        await consumer._getmany({tp}, 0.01)
        assert thread.seeks == [(tp, 12)]
        assert consumer._read_offset[tp] == 12  # or faust drops the new pass as read
        thread.offsets = {tp: [12, 13]}
        await consumer._getmany({tp}, 0.01)
        assert consumer.follow_on("scores", 0, 12, [12, 13]) == 2

    with caplog.at_level(logging.WARNING, logger="streams.runtime.consumer"):
        asyncio.run(scenario())
    assert [r.getMessage() for r in caplog.records] == [
        "scores[0]: records fetched from offset 12 on never reached the agent; fetching them again"
    ]


def test_a_rewind_waits_while_faust_rebalances(monkeypatch: pytest.MonkeyPatch) -> None:
    tp = SCORES[0]
    thread, consumer = ledgered(0)

    async def scenario() -> None:
        await assign_and_seek(consumer, monkeypatch)
        thread.offsets = {tp: [0, 1, 2]}
        await consumer._getmany({tp}, 0.01)
        assert consumer.follow_on("scores", 0, 0, [0, 2]) == 1
        consumer.app.rebalancing = True
        await consumer._getmany({tp}, 0.01)
        assert thread.seeks == []  # its seek to committed offsets comes first
        consumer.app.rebalancing = False
        await consumer._getmany({tp}, 0.01)
        assert thread.seeks == [(tp, 1)]

    asyncio.run(scenario())


def test_records_fetched_while_a_seek_ran_are_fetched_again_when_delivered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = SCORES[0]
    thread, consumer = ledgered(0)

    async def scenario() -> None:
        await assign_and_seek(consumer, monkeypatch)
        getmany = thread.getmany

        async def getmany_across_a_seek(active: set[TP] | None, timeout: float) -> Any:
            records = await getmany(active, timeout)
            await consumer.perform_seek()  # e.g. the fetch loop's, on a flow stop
            return records

        thread.getmany = getmany_across_a_seek  # type: ignore[method-assign,assignment]
        thread.offsets = {tp: [0, 1]}
        await consumer._getmany({tp}, 0.01)
        assert consumer.follow_on("scores", 0, 0, [0, 1]) == 0

    asyncio.run(scenario())


def test_topics_faust_commits_itself_are_taken_as_delivered() -> None:
    consumer = consumer_with(FakeThread({}), consumer_class(set()))  # at-least-once
    assert consumer.delivered_done("scores", 0, 5) == 5
    assert consumer.follow_on("scores", 0, 5, [7, 9]) == 2

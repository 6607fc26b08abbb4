"""How a unit of output is cut into Kafka record batches (no broker: a recording producer),
and which redelivered events a unit skips."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.publish import NotOwned, Outputs, TransactionalPublisher, Unit, unseen


class FakeProducer:
    def __init__(self, partitions: int = 4) -> None:
        self.sent: list[tuple[Any, str, int]] = []
        self._partitions = set(range(partitions))
        self._message_accumulator = SimpleNamespace(_compression_type=0)
        self._next_offset: dict[tuple[str, int], int] = {}

    async def partitions_for(self, topic: str) -> set[int]:
        return self._partitions

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        self.sent.append((batch, topic, partition))
        base = self._next_offset.get((topic, partition), 0)
        self._next_offset[topic, partition] = base + batch.record_count()
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(SimpleNamespace(offset=base))
        return done


def changelog_items(n: int) -> list[tuple[bytes, bytes | None]]:
    items: list[tuple[bytes, bytes | None]] = [
        (f"U\x00b\x00daily\x00d\x01user{i}".encode(), b"x" * 200) for i in range(n)
    ]
    items.append((b"D\x00b\x01gone", None))  # tombstones travel in the same batch
    return items


def test_changelog_of_a_unit_is_a_single_batch_and_its_last_offset_is_returned() -> None:
    producer = FakeProducer()
    items = changelog_items(5000)
    unit = Unit("by-board", 2, 10, changelog=items)
    last = asyncio.run(Outputs("state-log").send(producer, unit, transactional=False))
    assert [(topic, partition) for _, topic, partition in producer.sent] == [("state-log", 2)]
    assert producer.sent[0][0].record_count() == len(items)
    assert last == len(items) - 1


def test_records_keep_their_order_per_key_and_go_to_the_key_s_partition() -> None:
    producer = FakeProducer()
    records = [("changes", f"board{i % 3}".encode(), f"r{i}".encode()) for i in range(30)]
    letters = [("dlq", b"", f"l{i}".encode()) for i in range(4)]
    unit = Unit("by-board", 0, 1, records=records + letters)
    assert asyncio.run(Outputs("state-log").send(producer, unit, transactional=False)) is None
    partitioner = DefaultPartitioner()
    got: dict[tuple[str, int], list[bytes]] = {}
    for batch, topic, partition in producer.sent:
        batch.close()
        got.setdefault((topic, partition), []).extend(v for v in _values(batch))
    for board in (b"board0", b"board1", b"board2"):
        partition = partitioner(board, [0, 1, 2, 3], [0, 1, 2, 3])
        mine = [v for _, k, v in records if k == board]
        assert [v for v in got[("changes", partition)] if v in mine] == mine
    assert sorted(v for (topic, _), vs in got.items() if topic == "dlq" for v in vs) == sorted(
        v for _, _, v in letters
    )
    assert len({p for (topic, p) in got if topic == "dlq"}) == 4  # spread round the partitions


def _values(batch: Any) -> list[bytes]:
    from aiokafka.record.default_records import DefaultRecordBatch

    buffer = batch._builder.build() if hasattr(batch, "_builder") else batch._buffer
    return [record.value for record in DefaultRecordBatch(bytes(buffer))]


def test_batches_are_closed_when_handed_over_so_they_never_linger() -> None:
    """aiokafka sends an open batch only after ``linger_ms``; ours are complete."""
    producer = FakeProducer()
    records = [("changes", b"b", b"r"), ("dlq", b"", b"l")]
    unit = Unit("by-board", 0, 1, records=records, changelog=changelog_items(3))
    asyncio.run(Outputs("state-log").send(producer, unit, transactional=False))
    assert len(producer.sent) == 3
    assert all(batch.closed() for batch, _, _ in producer.sent)


class TxnProducer(FakeProducer):
    """A transactional producer whose acknowledgements come only when released; records
    what the transaction was given, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[str] = []
        self.release = asyncio.Event()
        self.acks: list[asyncio.Task[None]] = []

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[Any]:
        done = await super().send_batch(batch, topic, partition=partition)
        acked: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        async def ack() -> None:
            await self.release.wait()
            self.steps.append(f"ack {topic}")
            acked.set_result(done.result())

        self.acks.append(asyncio.ensure_future(ack()))
        return acked

    async def begin_transaction(self) -> None:
        self.steps.append("begin")

    async def send_offsets_to_transaction(self, offsets: Any, group_id: str) -> None:
        self.steps.append(f"offsets {group_id}")
        self.release.set()  # the broker answers the produce requests from here on

    async def commit_transaction(self) -> None:
        self.steps.append("commit")


def transactional_publisher() -> TransactionalPublisher:
    """A publisher whose producers would reach no broker (tests replace or never start them)."""
    return TransactionalPublisher(
        Outputs("state-log"),
        app_id="app",
        linger_ms=0,
        transaction_timeout_ms=1000,
        client_options={"bootstrap_servers": "localhost:1"},
    )


def test_offsets_join_the_transaction_while_its_records_are_in_flight() -> None:
    publisher = transactional_publisher()
    producer = TxnProducer()

    async def owned(stage: str, partition: int) -> Any:
        return producer

    publisher._producer = owned  # type: ignore[method-assign]
    unit = Unit("by-board", 1, 7, records=[("changes", b"b", b"r")], changelog=changelog_items(2))

    async def scenario() -> int | None:
        await publisher.assigned("rank", [1])
        return await publisher.publish("rank", unit)

    last = asyncio.run(asyncio.wait_for(scenario(), 10))
    # The offsets went in before any acknowledgement; the commit only after all of them.
    assert producer.steps[:2] == ["begin", "offsets app"]
    assert sorted(producer.steps[2:4]) == ["ack changes", "ack state-log"]
    assert producer.steps[4:] == ["commit"]
    assert last == 2  # the changelog batch's last record (two items and a tombstone)
    assert publisher.position("rank", 1) == 7


def test_a_partition_that_is_not_owned_is_never_published() -> None:
    """Initialising its transactional producer would fence the new owner's producer."""
    publisher = transactional_publisher()

    async def scenario() -> None:
        await publisher.assigned("rank", [])  # partitions 0-3 all went to other workers
        await publisher.publish("rank", Unit("by-board", 3, 1))

    with pytest.raises(NotOwned):
        asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_unit_s_records_for_one_partition_go_out_in_few_large_batches() -> None:
    """aiokafka keeps one request in flight per partition, so batch size sets round trips."""
    producer = FakeProducer()
    records = [("changes", b"arena", b"r" * 150) for _ in range(10_000)]  # ~1.7 MB
    asyncio.run(Outputs("state-log").send(producer, Unit("by-board", 0, 1, records), False))
    assert sum(batch.record_count() for batch, _, _ in producer.sent) == len(records)
    assert len(producer.sent) == 2
    assert all(batch.size() <= 1000 * 1024 for batch, _, _ in producer.sent)


@pytest.mark.parametrize(
    ("offsets", "done", "kept"),
    [
        ([5, 6, 7], 0, [5, 6, 7]),
        ([5, 6, 7], 6, [6, 7]),  # 5 was committed by this worker before a seek back
        ([5, 6, 7], 8, []),
        ([5, 6, 7, 5, 6, 7, 8], 0, [5, 6, 7, 8]),  # a pass sought back to 5 mid-batch
        ([5, 6, 7, 6, 7, 8, 9], 5, [5, 6, 7, 8, 9]),
        ([10, 12, 15, 11, 12, 16], 0, [10, 11, 12, 16]),  # gaps: transaction markers
        # held over a rebalance, then the new pass from the committed offset: 200-202 come
        # again after 152, so they must not be processed (nor committed) now
        ([200, 201, 202, 150, 151, 152], 150, [150, 151, 152]),
        ([300, 301, 140, 141], 150, []),  # the new pass is still below what we committed
    ],
)
def test_unseen_keeps_the_latest_pass_in_offset_order(
    offsets: list[int], done: int, kept: list[int]
) -> None:
    assert unseen(offsets, lambda offset: offset, done) == kept


@given(
    start=st.integers(0, 50),
    passes=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 30)), min_size=1, max_size=5),
    done=st.integers(0, 60),
)
def test_unseen_over_passes_that_seek_back_is_the_gap_free_run_to_the_last_delivery(
    start: int, passes: list[tuple[int, int]], done: int
) -> None:
    """Each pass is what faust delivers after seeking back: a run from an offset at or
    before where the previous one stopped. Whatever the passes, the kept offsets run
    without a gap from the first offset not yet done to the last one delivered, whose
    successor is what the unit commits; offsets an earlier pass delivered beyond it come
    again as the last pass carries on."""
    delivered: list[int] = []
    end = start
    for back, length in passes:
        first = max(start, end - back)
        delivered += range(first, first + length)
        end = first + length
    kept = unseen(delivered, lambda offset: offset, done)
    assert kept == list(range(max(start, done), delivered[-1] + 1))

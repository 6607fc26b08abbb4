"""The worker's changelog flush is one Kafka record batch (atomic), whatever its size."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from streams.app import _FaustSink


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[Any, str, int]] = []
        self._message_accumulator = SimpleNamespace(_compression_type=0)

    def create_batch(self) -> Any:
        from aiokafka.producer.message_accumulator import BatchBuilder

        return BatchBuilder(16384, 0, is_transactional=False)  # aiokafka's default size

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> asyncio.Future[None]:
        self.sent.append((batch, topic, partition))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def sink_with(producer: FakeProducer) -> _FaustSink:
    app = SimpleNamespace(producer=SimpleNamespace(_ensure_producer=lambda: producer))
    return _FaustSink(app, "changes", None, "state-changelog", outputs=[])  # type: ignore[arg-type]


def test_changelog_flush_is_a_single_batch() -> None:
    producer = FakeProducer()
    items: list[tuple[bytes, bytes | None]] = [
        (f"U\x00b\x00daily\x00d\x01user{i}".encode(), b"x" * 200) for i in range(5000)
    ]
    items.append((b"D\x00b\x01gone", None))  # tombstones travel in the same batch
    asyncio.run(sink_with(producer).changelog(2, items))
    assert [(topic, partition) for _, topic, partition in producer.sent] == [("state-changelog", 2)]
    assert producer.sent[0][0].record_count() == len(items)

"""The live page's push-topic reader (real broker): it runs only while somebody watches,
and a reader that starts picks up the records written just before it did."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from bench.stream_job import create_topics
from streams.apps.api import live
from streams.runtime.settings import load_settings


async def scenario(bootstrap: str, started: list[object]) -> None:
    topic = f"rs-{uuid.uuid4().hex[:10]}-changes"
    await create_topics(bootstrap, [topic], 2)
    settings = load_settings(kafka_bootstrap=bootstrap, changes_topic=topic)
    hub = live.Hub()
    reader = asyncio.create_task(live.run_push_consumer(settings, hub, idle_s=1.0))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        # Nobody watches: written, never read.
        await producer.send_and_wait(topic, b'{"n": 0}', key=b"arena")
        await asyncio.sleep(1.5)
        assert started == []
        # Written while the page connects: within REWIND_S, so the first watcher gets it.
        await producer.send_and_wait(topic, b'{"n": 1}', key=b"arena")
        queue = hub.subscribe("arena")
        first = await asyncio.wait_for(queue.get(), 20)
        await producer.send_and_wait(topic, b'{"n": 2}', key=b"arena")
        await producer.send_and_wait(topic, b'{"n": 3}', key=b"likes")
        got = [first]
        while b'{"n": 2}' not in got:
            got.append(await asyncio.wait_for(queue.get(), 10))
        # n=0 too: it was written 1.5 s before, within the rewind; nothing of "likes".
        assert got == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}'], got
        assert len(started) == 1
        hub.unsubscribe("arena", queue)
        await asyncio.sleep(3)  # idle_s=1: the reader has stopped and waits for a watcher
        assert not reader.done()
        later = hub.subscribe("arena")
        await producer.send_and_wait(topic, b'{"n": 4}', key=b"arena")
        again = []
        while b'{"n": 4}' not in again:
            again.append(await asyncio.wait_for(later.get(), 20))
        assert len(started) == 2  # a new reader for the new watcher
    finally:
        reader.cancel()
        await producer.stop()


def test_the_push_topic_is_read_while_watched_and_from_just_before(
    kafka: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[object] = []
    real = live.AIOKafkaConsumer

    def counting(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(live, "AIOKafkaConsumer", counting)
    asyncio.run(scenario(kafka, started))

"""Producing test input and reading the job's output on the real broker."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.edge.fold import Folded
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import BoardsConfig

from ..unit.reference import Reference, Top, WindowId

#: (partition, offset, key, decoded JSON value) per topic
Seen = dict[str, list[tuple[int, int, bytes | None, Any]]]


async def _produce(bootstrap: str, topic: str, lines: Iterable[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for line in lines:
            try:
                key = json.loads(line)["board"].encode()
            except Exception:  # invalid lines have no usable board: any partition
                key = None
            await producer.send(topic, line, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def produce(bootstrap: str, topic: str, lines: Iterable[bytes]) -> None:
    """Send lines keyed by their board, so each board's order is kept (as producers do)."""
    asyncio.run(_produce(bootstrap, topic, list(lines)))


async def _consume(
    bootstrap: str, topics: list[str], done: Callable[[Seen], bool], timeout: float
) -> Seen:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: Seen = {t: [] for t in topics}
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(seen):
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                seen[tp.topic] += [
                    (m.partition, m.offset, m.key, json.loads(m.value)) for m in messages
                ]
    finally:
        await consumer.stop()
    return seen


def consume_until(
    bootstrap: str, topics: list[str], done: Callable[[Seen], bool], timeout: float = 120
) -> Seen:
    """Read the topics from the start (read_committed) until ``done`` or the timeout."""
    return asyncio.run(_consume(bootstrap, topics, done, timeout))


def reference_tops(config: BoardsConfig, now: int, lines: Iterable[bytes]) -> dict[WindowId, Top]:
    ref = Reference(config, now)
    for line in lines:
        event = decode_event(line)
        if not isinstance(event, Rejection):
            ref.apply(event)
    return {wid: ref.top(wid) for wid in ref.events}


def too_old_ids(config: BoardsConfig, now: int, lines: Iterable[bytes]) -> list[str]:
    """The event ids the reference model refuses as ``too_old`` (behind the dedup horizon)."""
    ref = Reference(config, now)
    found = []
    for line in lines:
        event = decode_event(line)
        if not isinstance(event, Rejection) and ref.apply(event)[0] == "too_old":
            found.append(event.event_id)
    return found


def mismatches(
    seen_changes: list[tuple[int, int, bytes | None, Any]], expected: dict[WindowId, Top]
) -> list[WindowId]:
    folded = Folded().extend(record for *_, record in seen_changes)
    return [wid for wid, top in expected.items() if folded.standings(wid) != top]

"""The stream job on the real broker: mixed input in, push topic folds to the reference,
the DLQ holds exactly the invalid inputs with their source coordinates."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from streams.engine.config import load_boards
from streams.fold import Folded
from streams.intake import Rejection, decode_event

from ..unit.reference import Reference
from .conftest import Job

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"
DAY_MS = 86_400_000


async def produce(bootstrap: str, topic: str, lines: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for line in lines:
            key = None
            try:
                key = json.loads(line)["board"].encode()
            except Exception:  # invalid lines have no usable board: any partition
                key = None
            await producer.send(topic, line, key=key)
        await producer.flush()
    finally:
        await producer.stop()


async def consume_until(
    bootstrap: str, topics: list[str], done: Callable[[dict[str, list[Any]]], bool], timeout: float
) -> dict[str, list[Any]]:
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, list[Any]] = {t: [] for t in topics}
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


def test_worker_folds_to_reference_and_dead_letters_invalid_input(
    job_factory: Callable[..., Job],
) -> None:
    job = job_factory(boards=BOARDS)
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=1500,
        users=40,
        boards=10,
        seed=5,
        mix_invalid=True,
        invalid_rate=0.08,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
    )
    generated = [(kind, line) for kind, line, _ in iter_lines(cfg) if kind != "blank"]
    job.start_worker()
    asyncio.run(produce(job.bootstrap, job.scores, [line for _, line in generated]))

    ref = Reference(load_boards(BOARDS), now)
    for _kind, line in generated:
        event = decode_event(line)
        if not isinstance(event, Rejection):
            ref.apply(event)
    expected = {wid: ref.top(wid) for wid in ref.events}
    invalid = [line for kind, line in generated if kind in INVALID_KINDS]

    def done(seen: dict[str, list[Any]]) -> bool:
        assert job.procs[0].poll() is None, f"worker died:\n{job.log_tail()}"
        if len(seen[job.dlq]) < len(invalid):
            return False
        folded = Folded().extend(r for *_, r in seen[job.changes])
        return all(folded.standings(wid) == top for wid, top in expected.items())

    seen = asyncio.run(consume_until(job.bootstrap, [job.changes, job.dlq], done, timeout=120))
    folded = Folded().extend(r for *_, r in seen[job.changes])
    mismatched = [wid for wid, top in expected.items() if folded.standings(wid) != top]
    assert not mismatched, (
        f"{len(mismatched)} windows differ, e.g. {mismatched[:3]}\n{job.log_tail()}"
    )

    # Records are keyed by board, and every board's records sit in one partition, in order.
    partitions: dict[bytes, set[int]] = {}
    for partition, _offset, key, record in seen[job.changes]:
        assert key == record["board"].encode()
        partitions.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partitions.values())

    # The DLQ holds exactly the invalid inputs, each with a reason and its source.
    letters = [r for *_, r in seen[job.dlq]]
    assert sorted(letter["raw"].encode() for letter in letters) == sorted(
        line.decode(errors="replace").encode() for line in invalid
    )
    assert all(letter["reason"] and letter["source"]["topic"] == job.scores for letter in letters)
    assert all(isinstance(letter["source"]["offset"], int) for letter in letters)

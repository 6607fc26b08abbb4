"""The intake stage's offsets move only with its transactions (streams.runtime.intake_stage).

A unit whose transaction never commits (the process dies between sending the unit and
committing it) must leave the group ``<app_id>-intake`` where it was: had the stage
committed its offsets any other way (``consumer.commit``, auto-commit), the restarted stage
would skip those records and their events would be lost. The failing commit waits longer
than aiokafka's auto-commit interval first, so an auto-commit would have happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.edge.wire import decode_events
from streams.engine.config import parse_boards
from streams.runtime.settings import load_settings
from streams.runtime.stage_setup import intake_stage
from streams.runtime.topics import by_board_topic, ensure_topics

from .conftest import Job
from .kafka_io import produce

AUTO_COMMIT_INTERVAL_S = 5.0  # aiokafka's default auto_commit_interval_ms


def lines(now: int) -> list[bytes]:
    valid = [
        {"event_id": f"e{n}", "board": f"b{n % 3}", "user": f"u{n % 7}", "score": n, "ts": now}
        for n in range(60)
    ]
    out = [json.dumps(v).encode() for v in valid]
    out[10:10] = [b"not json"]
    out[40:40] = [b'{"event_id": "x"}']
    return out


async def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await consumer.start()
    try:
        return {p: await consumer.committed(TopicPartition(topic, p)) for p in range(partitions)}
    finally:
        await consumer.stop()


def test_a_unit_that_never_commits_leaves_the_intake_offsets_where_they_were(
    job_factory: Callable[..., Job], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = job_factory(partitions=2)
    settings = load_settings(**_settings(job))
    now = time.time_ns() // 1_000_000
    produce(job.bootstrap, job.scores, lines(now))
    config = parse_boards({})
    group = f"{job.app_id}-intake"

    from aiokafka import AIOKafkaProducer

    real_commit = AIOKafkaProducer.commit_transaction

    async def crash_before_commit(self: Any) -> None:
        await asyncio.sleep(AUTO_COMMIT_INTERVAL_S + 1.5)
        raise RuntimeError("simulated crash between send and commit")

    async def first_run() -> BaseException | None:
        await ensure_topics(settings)
        stage = intake_stage(settings, config, lambda n: None)
        monkeypatch.setattr(AIOKafkaProducer, "commit_transaction", crash_before_commit)
        await stage.start()
        with contextlib.suppress(RuntimeError):
            await asyncio.wait_for(stage.done(), timeout=60)
        error = stage.failed
        await stage.stop()
        return error

    error = asyncio.run(first_run())
    assert isinstance(error, RuntimeError), error
    offsets = asyncio.run(committed(job.bootstrap, group, job.scores, 2))
    assert all(not offset for offset in offsets.values()), offsets

    monkeypatch.setattr(AIOKafkaProducer, "commit_transaction", real_commit)

    async def second_run() -> list[Any]:
        stage = intake_stage(settings, config, lambda n: None)
        await stage.start()
        try:
            return await _drain(job.bootstrap, [by_board_topic(settings), settings.dlq_topic])
        finally:
            await stage.stop()

    records = asyncio.run(second_run())
    runs = [decode_events(r.value) for r in records if r.topic.endswith("by-board")]
    events = [e.event_id for run in runs for e in run]
    letters = [json.loads(r.value)["raw"] for r in records if r.topic == settings.dlq_topic]
    assert sorted(events) == sorted(f"e{n}" for n in range(60))
    assert sorted(letters) == sorted(["not json", '{"event_id": "x"}'])


async def _drain(bootstrap: str, topics: list[str]) -> list[Any]:
    """Every record until 62 (60 events in runs + 2 letters) are in, then a second more."""
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _count(seen) < 62:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                seen += messages
        end = time.monotonic() + 2
        while time.monotonic() < end:
            for messages in (await consumer.getmany(timeout_ms=300)).values():
                seen += messages
    finally:
        await consumer.stop()
    return seen


def _count(records: list[Any]) -> int:
    return sum(len(decode_events(r.value)) if r.topic.endswith("by-board") else 1 for r in records)


def _settings(job: Job) -> dict[str, Any]:
    return {
        "kafka_bootstrap": job.bootstrap,
        "app_id": job.app_id,
        "scores_topic": job.scores,
        "changes_topic": job.changes,
        "dlq_topic": job.dlq,
        "partitions": job.partitions,
        "session_timeout_s": 6,
    }

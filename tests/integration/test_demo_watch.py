"""`rankstream demo` and `rankstream watch` against the real Kafka broker.

Needs the broker of ``bash deploy/kafka/up.sh`` (or ``$RANKSTREAM_KAFKA_BOOTSTRAP``); when it
is not reachable these tests fail, they do not skip. Each test uses fresh topics (uuid
names) and deletes them afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from streams.apps import demo, watch
from streams.apps.demofeed import INVALID_LINE
from streams.edge.validation import decode_event
from streams.engine.events import ScoreEvent

pytestmark = pytest.mark.integration

ROW = re.compile(r"^ +\d+ ")  # a standings row of a frame
BOOTSTRAP = os.environ.get("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092")


async def _probe() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, request_timeout_ms=5000)
    try:
        await asyncio.wait_for(consumer.start(), 10)
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
def broker() -> str:
    try:
        asyncio.run(_probe())
    except Exception as exc:
        pytest.fail(
            f"no Kafka broker at {BOOTSTRAP} ({type(exc).__name__}: {exc}); "
            "start one with `bash deploy/kafka/up.sh`",
            pytrace=False,
        )
    return BOOTSTRAP


@pytest.fixture
def topics(broker: str) -> Iterator[list[str]]:
    """Unique topic names for one test; deleted afterwards."""
    names: list[str] = []
    yield names

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=broker)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            if doomed := [name for name in names if name in existing]:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()

    asyncio.run(delete())


def unique(topics: list[str], what: str) -> str:
    name = f"test-{what}-{uuid.uuid4().hex[:12]}"
    topics.append(name)
    return name


def cli() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rankstream")
    sub = parser.add_subparsers(dest="command")
    demo.add_parser(sub)
    watch.add_parser(sub)
    return parser


async def read_all(topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    await consumer.start()
    messages: list[Any] = []
    deadline = time.monotonic() + timeout
    try:
        while len(messages) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                messages.extend(batch)
        # a little longer, to see that nothing unexpected follows
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            messages.extend(batch)
    finally:
        await consumer.stop()
    return messages


def test_demo_produces_valid_events_keyed_by_board(
    topics: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    topic = unique(topics, "scores")
    args = cli().parse_args(
        [
            *("demo", "--bootstrap", BOOTSTRAP, "--topic", topic, "--rate", "100"),
            *("--duration", "2", "--seed", "5", "--invalid-every", "25", "--users", "50"),
        ]
    )
    started_ms = time.time_ns() // 1_000_000
    assert args.run(args) == 0
    finished_ms = time.time_ns() // 1_000_000
    err = capsys.readouterr().err
    assert re.search(rf"sent 200 messages \(8 invalid\) to '{topic}'", err), err

    messages = asyncio.run(read_all(topic, 200))
    assert len(messages) == 200
    invalid = [m for m in messages if m.value == INVALID_LINE]
    assert len(invalid) == 8
    assert all(m.key is None for m in invalid)
    events = []
    for message in messages:
        if message.value == INVALID_LINE:
            continue
        event = decode_event(message.value)
        assert isinstance(event, ScoreEvent), (message.value, event)
        assert message.key == event.board.encode()
        assert started_ms - 3000 <= event.ts <= finished_ms
        events.append((event, message.partition))
    assert {event.board for event, _ in events} == {"arena", "speedrun", "likes"}
    assert len({event.event_id for event, _ in events}) == 192
    # keyed by board: each board's events sit on one partition, in send order
    partitions: dict[str, set[int]] = {}
    for event, partition in events:
        partitions.setdefault(event.board, set()).add(partition)
    assert all(len(p) == 1 for p in partitions.values()), partitions


def change(
    user: str, old: int | None, new: int | None, score: int, cause: str, window: str = "daily"
) -> dict[str, Any]:
    bounds: dict[str, Any] = {
        "period": "2026-11-27",
        "window_start": "2026-11-27T00:00:00Z",
        "window_end": "2026-11-28T00:00:00Z",
    }
    if window == "all":
        bounds = dict.fromkeys(bounds)
    return {
        "type": "rank_change",
        "board": "arena",
        "window": window,
        **bounds,
        "user": user,
        "old_rank": old,
        "new_rank": new,
        "score": score,
        "cause": cause,
    }


async def publish(topic: str) -> None:
    """A committed transaction with the real changes, then an aborted one (a bogus change
    that a read_committed consumer must never see), then a plain non-transactional record."""
    committed = [
        change("ada", None, 1, 50, "e1"),
        change("ada", None, 1, 50, "e1", "all"),
        change("grace", None, 1, 70, "e2"),
        change("ada", 1, 2, 50, "e2"),
        change("grace", None, 1, 70, "e2", "all"),
        change("ada", 1, 2, 50, "e2", "all"),
        change("linus", None, 3, 20, "e3"),
    ]
    producer = AIOKafkaProducer(
        bootstrap_servers=BOOTSTRAP, transactional_id=f"test-watch-{uuid.uuid4().hex}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for record in committed:
                await producer.send(topic, json.dumps(record).encode(), key=b"arena")
        await producer.begin_transaction()
        await producer.send(
            topic, json.dumps(change("mallory", None, 1, 999, "x")).encode(), key=b"arena"
        )
        await producer.abort_transaction()
    finally:
        await producer.stop()
    plain = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP)
    await plain.start()
    try:
        await plain.send_and_wait(
            topic, json.dumps(change("linus", 3, 1, 95, "e4")).encode(), key=b"arena"
        )
        await plain.send_and_wait(
            topic, json.dumps(change("grace", 1, 2, 70, "e4")).encode(), key=b"arena"
        )
        await plain.send_and_wait(
            topic, json.dumps(change("ada", 2, 3, 50, "e4")).encode(), key=b"arena"
        )
    finally:
        await plain.stop()


def test_watch_folds_committed_changes(
    topics: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    topic = unique(topics, "changes")
    asyncio.run(publish(topic))
    args = cli().parse_args(
        [
            *("watch", "--bootstrap", BOOTSTRAP, "--topic", topic),
            *("--from-beginning", "--max-seconds", "4"),
        ]
    )
    assert args.run(args) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out  # not a TTY: plain frames
    frames = [frame for frame in out.split("rankstream watch: ") if frame]
    assert frames, out
    last = frames[-1]
    assert "mallory" not in out  # aborted transaction: never visible with read_committed
    assert "10 records, 2 windows, 0 closed" in last
    assert "arena / daily  period 2026-11-27  ends 2026-11-28T00:00:00Z" in last
    daily = last.split("arena / daily")[1].split("arena / all")[0]
    rows = [line.split() for line in daily.splitlines() if ROW.match(line)]
    assert [row[:3] for row in rows] == [
        ["1", "linus", "95"],
        ["2", "grace", "70"],
        ["3", "ada", "50"],
    ]
    all_time = last.split("arena / all")[1]
    rows = [line.split() for line in all_time.splitlines() if ROW.match(line)]
    assert [row[:3] for row in rows] == [["1", "grace", "70"], ["2", "ada", "50"]]

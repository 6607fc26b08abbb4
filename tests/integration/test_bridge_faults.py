"""The bridge under faults, on the real brokers: each test ends with the board equal to the
reference (folded from the push topic and from the rank_changes exchange), nothing lost and
nothing counted twice."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.stream_job import create_topics

from .amqp_io import Got, bind, collect, publish_reliably, queue_depth, snippet
from .bridge_data import BOARDS, expected_tops, fold_mismatches, generate, got_records
from .conftest import ROOT, Bridge, Job, PrivateKafka
from .kafka_io import consume_until


def _rabbitmq(script: str) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "deploy" / "rabbitmq" / script)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"{script}:\n{result.stdout}\n{result.stderr}"


def _wait_until(
    what: str, check: Callable[[], bool], timeout: float, log: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{log()}")
        time.sleep(0.3)


def _in_count(bridge: Bridge) -> float:
    try:
        return bridge.metrics().get("rankstream_bridge_messages_in_total", 0.0)
    except OSError:
        return 0.0


def _assert_both_fold(
    job: Job, bridge: Bridge, queue: str, expected: Any, got: list[Got] | None = None
) -> list[Got]:
    """The push topic and the exchange both fold to the reference."""
    seen = consume_until(
        job.bootstrap,
        [job.changes],
        lambda s: not fold_mismatches([r for *_, r in s[job.changes]], expected),
        timeout=180,
    )
    push = [r for *_, r in seen[job.changes]]
    assert not fold_mismatches(push, expected), f"push topic\n{job.log_tail()}"
    # ``got``: what earlier calls already took (and acked) from the queue.
    got = collect(
        queue, lambda g: not fold_mismatches(got_records(g), expected), timeout=120, got=got
    )
    ids = {g.message_id for g in got}
    assert not fold_mismatches(got_records(got), expected), (
        f"exchange: {len(got)} messages, {len(ids)} ids, push topic {len(push)}, "
        f"metrics {bridge.metrics()}\n{bridge.log_tail()}"
    )
    return got


def _start(job: Job, bridge: Bridge) -> str:
    queue = f"{job.app_id}.all"
    bind(bridge.exchange, "#", queue)
    job.start_worker()
    bridge.start()
    return queue


def test_rabbitmq_restarted_mid_stream(
    job_factory: Callable[..., Job], bridge_factory: Callable[..., Bridge]
) -> None:
    job = job_factory(boards=BOARDS)
    bridge = bridge_factory(job)
    queue = _start(job, bridge)
    now, generated = generate(600, seed=21)
    lines = [line for _, line in generated]
    result: dict[str, Any] = {}

    def produce() -> None:
        try:
            result["reconnects"] = publish_reliably(bridge.queue, lines, pause_s=0.03)
        except Exception as exc:  # reported by the main thread
            result["error"] = exc

    producer = threading.Thread(target=produce)
    producer.start()
    try:
        _wait_until("a third of the stream", lambda: _in_count(bridge) > 100, 90, bridge.log_tail)
        _rabbitmq("down.sh")
        time.sleep(1)
    finally:
        _rabbitmq("up.sh")  # always leave RabbitMQ running
    producer.join(timeout=150)
    assert "error" not in result, result
    assert result["reconnects"] >= 1  # the producer did see the restart

    _assert_both_fold(job, bridge, queue, expected_tops(now, lines))
    log = bridge.log_text()
    assert "waiting for RabbitMQ" in log, log[-3000:]
    assert bridge.procs[-1].poll() is None
    retries = bridge.metrics()
    assert (
        sum(v for k, v in retries.items() if k.startswith("rankstream_bridge_retries_total")) >= 2
    )


def test_bridge_killed_mid_stream_and_restarted(
    job_factory: Callable[..., Job], bridge_factory: Callable[..., Bridge]
) -> None:
    job = job_factory(boards=BOARDS)
    bridge = bridge_factory(job)
    queue = _start(job, bridge)
    now, generated = generate(1500, seed=22)
    lines = [line for _, line in generated]
    producer = threading.Thread(
        target=snippet, args=(bridge.queue, lines), kwargs={"durable": True}
    )
    _wait_until(
        "the bridge", lambda: _in_count(bridge) >= 0 and _queue_ready(bridge), 60, bridge.log_tail
    )
    producer.start()
    _wait_until("some progress", lambda: _in_count(bridge) > 300, 90, bridge.log_tail)
    bridge.kill()
    assert _in_count(bridge) == 0.0  # really gone
    producer.join(timeout=60)
    bridge.start()
    got = _assert_both_fold(job, bridge, queue, expected_tops(now, lines))
    # Records published since the last commit before the kill may come again, in order.
    assert len({g.message_id for g in got}) <= len(got)


def _queue_ready(bridge: Bridge) -> bool:
    try:
        queue_depth(bridge.queue)
    except Exception:
        return False
    return True


def test_kafka_stopped_while_1000_messages_arrive(
    private_kafka_factory: Callable[[], PrivateKafka],
    bridge_factory: Callable[..., Bridge],
    tmp_path: Path,
) -> None:
    broker = private_kafka_factory()
    job = Job(broker.bootstrap, tmp_path / "job", boards=BOARDS)
    job.tmp.mkdir()
    job.create_topics()
    # On a brand-new broker the worker's rank agent may subscribe before the worker has
    # created its internal topic, and then ignores it for good (a worker start-up race,
    # reported to the lead); created here so this test is about the bridge.
    asyncio.run(create_topics(broker.bootstrap, [f"{job.app_id}-scores-by-board"], 4))
    try:
        bridge = bridge_factory(job)
        queue = _start(job, bridge)
        now, generated = generate(1200, seed=23)
        lines = [line for _, line in generated]
        first, rest = lines[:200], lines[200:]
        snippet(bridge.queue, first, durable=True)
        _wait_until("the first 200", lambda: _in_count(bridge) >= 200, 120, bridge.log_tail)
        # Mid-stream: the worker is up and has ranked them before Kafka goes away.
        got = _assert_both_fold(job, bridge, queue, expected_tops(now, first))

        broker.stop()
        snippet(bridge.queue, rest, durable=True)
        _wait_until(
            "the bridge to notice",
            lambda: "bridge in: waiting for Kafka" in bridge.log_text(),
            60,
            bridge.log_tail,
        )
        # The messages wait in RabbitMQ: none acked while Kafka is down.
        _wait_until(
            "the messages back in the queue",
            lambda: queue_depth(bridge.queue) == len(rest),
            60,
            bridge.log_tail,
        )
        assert _in_count(bridge) == len(first)

        broker.start()
        if job.procs[-1].poll() is not None:  # the worker may give up on a lost broker
            job.start_worker()
        _assert_both_fold(job, bridge, queue, expected_tops(now, lines), got=got)
        _wait_until(
            "the queue to drain", lambda: queue_depth(bridge.queue) == 0, 60, bridge.log_tail
        )
        assert bridge.procs[-1].poll() is None
    finally:  # the bridge is stopped by its fixture, before the broker's
        job.stop()

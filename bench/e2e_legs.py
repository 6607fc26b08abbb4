"""What the e2e bench measures against a running job: throughput until every event is
committed, and event -> rank_change latency at a given send rate.

Kept apart from the orchestration (e2e_bench.py) because the passthrough ceiling and the
worker are measured by these same functions; only the topics and the liveness check
differ, which is what makes their numbers comparable. ``state_bench`` reuses the helpers.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import harness
from bench.gen_events import GenConfig, iter_lines
from bench.harness import BenchFailure, Worker

__all__ = ["CAUSE", "cause_of", "gen_lines", "latency", "percentile", "steady_rate", "throughput"]

CAUSE = b'"cause":"'


def gen_lines(
    events: int,
    users: int,
    seed: int,
    now_ms: int,
    start_ms: int,
    hours: float,
    boards: int = 10,
) -> list[bytes]:
    """Valid events from ``start_ms`` over ``hours`` of event time (all before ``now_ms``),
    over ``boards`` boards (1: the hot-board leg, every event through one partition)."""
    cfg = GenConfig(
        events=events,
        users=users,
        boards=boards,
        seed=seed,
        start_ms=start_ms,
        span_hours=hours,
        now_ms=now_ms,
    )
    return [line for kind, line, _ in iter_lines(cfg) if kind == "valid"]


def cause_of(value: bytes) -> bytes | None:
    """The ``cause`` of a compact rank_change record (the last field), without json.loads."""
    at = value.rfind(CAUSE)
    if at < 0 or not value.startswith(b'{"type":"rank_change"'):
        return None
    return value[at + len(CAUSE) : value.index(b'"', at + len(CAUSE))]


def steady_rate(samples: list[tuple[float, int]], total: int) -> float | None:
    """Events/s between the first samples at >= 10 % and >= 90 % of ``total``."""
    lo = next((s for s in samples if s[1] >= 0.1 * total), None)
    hi = next((s for s in samples if s[1] >= 0.9 * total), None)
    if lo is None or hi is None or hi[0] <= lo[0]:
        return None
    return (hi[1] - lo[1]) / (hi[0] - lo[0])


async def throughput(
    bootstrap: str,
    scores: str,
    output: str,
    lines: list[bytes],
    progress: Callable[[], Awaitable[int]],
    alive: Callable[[], None],
    timeout: float,
    isolation: str,
) -> dict[str, Any]:
    """Produce ``lines`` at full speed, consume ``output``; time until ``progress()`` (the
    events done: processed and committed) reaches them all."""
    consumer = AIOKafkaConsumer(
        output,
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        auto_offset_reset="earliest",  # a fresh topic: count from its first record
    )
    await consumer.start()
    consumed = 0

    async def consume() -> None:
        nonlocal consumed
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=5000)
            consumed += sum(len(msgs) for msgs in batches.values())

    consumer_task = asyncio.create_task(consume())
    t0 = time.monotonic()
    produce_task = asyncio.create_task(harness.produce_all(bootstrap, scores, lines))
    samples: list[tuple[float, int]] = []
    try:
        while True:
            done = await progress()
            samples.append((round(time.monotonic() - t0, 3), max(done, 0)))
            if done >= len(lines):
                break
            alive()
            if time.monotonic() - t0 > timeout:
                raise BenchFailure(f"{done} of {len(lines)} committed after {timeout}s")
            await asyncio.sleep(0.25)
        elapsed = samples[-1][0]
        produce_seconds = await produce_task
        await asyncio.sleep(0.5)  # let the consumer catch the tail of the output
    finally:
        consumer_task.cancel()
        produce_task.cancel()
        await consumer.stop()
    sustained = steady_rate(samples, len(lines))
    return {
        "events": len(lines),
        "seconds": round(elapsed, 3),
        "events_per_s": round(len(lines) / elapsed, 1),
        "sustained_events_per_s": None if sustained is None else round(sustained, 1),
        "producer_seconds": round(produce_seconds, 3),
        "producer_events_per_s": round(len(lines) / produce_seconds, 1),
        "output_records_consumed": consumed,
        "committed_samples": samples,
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def latency(
    bootstrap: str,
    worker: Worker,
    lines: list[bytes],
    rate: float,
    seconds: float,
    isolation: str,
) -> dict[str, Any]:
    """Send at ``rate`` for ``seconds``; event -> first rank_change of that cause."""
    consumer = AIOKafkaConsumer(
        worker.changes, bootstrap_servers=bootstrap, isolation_level=isolation
    )
    await consumer.start()
    await consumer.seek_to_end()
    sent_at: dict[bytes, float] = {}
    latencies: list[tuple[float, float]] = []  # (send time since start, latency s)
    seen: set[bytes] = set()
    stop = asyncio.Event()

    async def consume() -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.perf_counter()
            for msgs in batches.values():
                for msg in msgs:
                    cause = cause_of(msg.value or b"")
                    if cause is None or cause in seen or cause not in sent_at:
                        continue
                    seen.add(cause)
                    latencies.append((sent_at[cause] - t0, now - sent_at[cause]))

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **harness.producer_settings())
    await producer.start()
    consumer_task = asyncio.create_task(consume())
    t0 = time.perf_counter()
    sent = 0
    try:
        while (elapsed := time.perf_counter() - t0) < seconds and sent < len(lines):
            due = min(len(lines), int(rate * elapsed))
            while sent < due:
                line = lines[sent]
                eid = json.loads(line)["event_id"].encode()
                sent_at[eid] = time.perf_counter()
                await producer.send(worker.scores, line, key=harness.board_key(line))
                sent += 1
            worker.check_alive()
            await asyncio.sleep(0.002)
        await producer.flush()
        send_seconds = time.perf_counter() - t0
        await asyncio.sleep(3.0)  # stragglers; a longer tail shows as a lower sample count
    finally:
        stop.set()
        await consumer_task
        await producer.stop()
        await consumer.stop()
    kept = [lat * 1000 for at, lat in latencies if at >= 1.0]
    row: dict[str, Any] = {
        "target_events_per_s": round(rate, 1),
        "sent": sent,
        "achieved_events_per_s": round(sent / send_seconds, 1),
        "samples": len(kept),
        "events_without_sample": sent - len(latencies),
    }
    if kept:
        row.update(
            p50_ms=round(percentile(kept, 0.50), 1),
            p95_ms=round(percentile(kept, 0.95), 1),
            p99_ms=round(percentile(kept, 0.99), 1),
            max_ms=round(max(kept), 1),
        )
    return row

"""Exactly-once on the real broker (contract section 5): while events flow, the worker is
SIGKILLed at random moments and restarted; a read_committed consumer of the push topic then
sees every change exactly once and the dead-letter topic exactly the invalid inputs."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from streams.engine.config import BoardsConfig, load_boards

from .conftest import Job
from .kafka_io import consume_until, mismatches, produce, reference_tops, too_old_ids
from .test_recovery import wait_ready

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"
DAY_MS = 86_400_000
KILLS = 5


def mixed_lines(now: int, n: int, seed: int) -> tuple[list[bytes], list[bytes]]:
    """(all lines in order, the invalid ones) over nine days of event time."""
    cfg = GenConfig(
        events=n,
        users=40,
        boards=10,
        seed=seed,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
        mix_invalid=True,
        invalid_rate=0.05,
    )
    lines, invalid = [], []
    for kind, line, _ in iter_lines(cfg):
        lines.append(line)
        if kind in INVALID_KINDS:
            invalid.append(line)
    return lines, invalid


def expected_letters(
    config: BoardsConfig, now: int, lines: list[bytes], invalid: list[bytes]
) -> Counter[tuple[str, str]]:
    """(reason, what identifies it) of every dead letter the DLQ must hold once: the invalid
    inputs as sent (the intake's), and the events behind the dedup horizon by event id (the
    rank stage's ``too_old``)."""
    letters = Counter(("invalid", line.decode("utf-8", "replace")) for line in invalid)
    letters.update(("too_old", event_id) for event_id in too_old_ids(config, now, lines))
    return letters


def dead_letters(records: list[tuple[int, int, bytes | None, Any]]) -> Counter[tuple[str, str]]:
    return Counter(
        ("too_old", json.loads(r["raw"])["event_id"])
        if r["reason"] == "too_old"
        else ("invalid", r["raw"])
        for *_, r in records
    )


def duplicate_changes(records: list[dict[str, object]]) -> list[tuple[object, ...]]:
    keys = Counter(
        (r["board"], r["cause"], r["user"], r["window"], r["period"])
        for r in records
        if r["type"] == "rank_change"
    )
    return [key for key, n in keys.items() if n > 1]


def test_sigkill_five_times_while_events_flow_changes_exactly_once(
    job_factory: Callable[..., Job],
) -> None:
    job = job_factory(boards=BOARDS)
    config = load_boards(BOARDS)
    now = time.time_ns() // 1_000_000
    lines, invalid = mixed_lines(now, 4000, seed=11)
    assert len(invalid) > 50

    job.start_worker(0)
    producer = feed(job, lines, pause=0.5)  # steady flow across all the kills
    rng = random.Random(7)
    for _ in range(KILLS):
        wait_ready(job, 0)
        time.sleep(rng.uniform(0.2, 3.0))  # mid-batch, mid-transaction, mid-restore
        os.killpg(job.procs[-1].pid, signal.SIGKILL)
        job.procs[-1].wait()
        job.start_worker(0)
    producer.join(timeout=120)
    assert not producer.is_alive()

    seen = assert_once(job, config, now, lines, invalid, log_of=0)
    assert not mismatches(seen[job.changes], reference_tops(config, now, lines))
    assert job.starts[0] == KILLS + 1


def test_sigkill_of_a_stand_alone_intake_mid_stream_loses_and_repeats_nothing(
    job_factory: Callable[..., Job],
) -> None:
    """`rankstream intake` on its own (worker 1) and a worker without one (worker 0): the
    intake is SIGKILLed three times while events flow; its transactions carry the by-board
    runs, the dead letters and its offsets together, so the fold still equals the reference
    and the DLQ holds each invalid input once."""
    job = job_factory(boards=BOARDS)
    config = load_boards(BOARDS)
    now = time.time_ns() // 1_000_000
    lines, invalid = mixed_lines(now, 2000, seed=12)
    intake = [sys.executable, "-m", "streams", "intake"]

    job.start_worker(0, RANKSTREAM_RUN_INTAKE="false")
    job.start_worker(1, command=intake)
    producer = feed(job, lines, pause=0.4)
    rng = random.Random(8)
    for _ in range(3):
        wait_intake_assigned(job, 1)
        time.sleep(rng.uniform(0.2, 2.0))
        os.killpg(job.procs[-1].pid, signal.SIGKILL)
        job.procs[-1].wait()
        job.start_worker(1, command=intake)
    producer.join(timeout=120)
    assert not producer.is_alive()

    assert_once(job, config, now, lines, invalid, log_of=1)
    assert job.procs[0].poll() is None, job.log_tail(0)


def test_sigterm_while_a_backlog_is_ranked_stops_cleanly_and_changes_exactly_once(
    job_factory: Callable[..., Job],
) -> None:
    """A graceful stop (what Kubernetes sends) while the worker works through a backlog, so
    that it lands in the middle of a unit: the worker lets the unit in flight finish instead
    of dying in it (faust waits for the agent's unacked batch, which the rank stage acks only
    once its unit is done), exits 0, and the restarted worker carries on with nothing lost
    or repeated."""
    job = job_factory(boards=BOARDS)
    config = load_boards(BOARDS)
    now = time.time_ns() // 1_000_000
    lines, invalid = mixed_lines(now, 30_000, seed=13)

    job.start_worker(0)
    wait_ready(job, 0)
    producer = threading.Thread(target=produce, args=(job.bootstrap, job.scores, lines))
    producer.start()  # at full speed: the worker is busy from here on
    for delay in (1.5, 0.5):
        time.sleep(delay)
        proc = job.procs[-1]
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, job.log_tail(0)
        assert "exiting without committing" not in job.log_text(0)
        job.start_worker(0)
        wait_ready(job, 0)
    producer.join(timeout=120)

    assert_once(job, config, now, lines, invalid, log_of=0)


def feed(job: Job, lines: list[bytes], pause: float) -> threading.Thread:
    """Produce ``lines`` in slices of 100, ``pause`` seconds apart, in the background."""

    def run() -> None:
        for start in range(0, len(lines), 100):
            produce(job.bootstrap, job.scores, lines[start : start + 100])
            time.sleep(pause)

    producer = threading.Thread(target=run, daemon=True)
    producer.start()
    return producer


def assert_once(
    job: Job,
    config: BoardsConfig,
    now: int,
    lines: list[bytes],
    invalid: list[bytes],
    log_of: int,
) -> dict[str, list[tuple[int, int, bytes | None, Any]]]:
    """Read read_committed until the push topic folds to the reference and the DLQ holds
    every expected letter, then a little more: no change twice, each letter once. Returns
    the second read. ``log_of``: whose log a failure shows."""
    expected = reference_tops(config, now, lines)
    letters = sum(expected_letters(config, now, lines, invalid).values())

    def complete(seen: dict[str, list[tuple[int, int, bytes | None, object]]]) -> bool:
        return len(seen[job.dlq]) >= letters and not mismatches(seen[job.changes], expected)

    seen = consume_until(job.bootstrap, [job.changes, job.dlq], complete, timeout=180)
    bad = mismatches(seen[job.changes], expected)
    assert not bad, f"{len(bad)} windows differ, e.g. {bad[:3]}\n{job.log_tail(log_of)}"
    time.sleep(3)  # anything still to come would be a duplicate
    seen = consume_until(job.bootstrap, [job.changes, job.dlq], lambda s: False, timeout=8)
    assert not duplicate_changes([value for *_, value in seen[job.changes]])  # type: ignore[arg-type]
    assert dead_letters(seen[job.dlq]) == expected_letters(config, now, lines, invalid)
    return seen


def wait_intake_assigned(job: Job, worker: int, timeout: float = 60) -> None:
    job.wait_log("intake: assigned scores partitions [", worker=worker, timeout=timeout)

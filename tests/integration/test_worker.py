"""The stream job on the real broker: mixed input in, push topic folds to the reference,
the DLQ holds exactly the invalid inputs with their source coordinates."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from streams.engine.config import load_boards

from .conftest import Job
from .kafka_io import consume_until, mismatches, produce, reference_tops, too_old_ids

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"
DAY_MS = 86_400_000


@pytest.mark.parametrize("guarantee", ["exactly_once", "at_least_once"])
def test_worker_folds_to_reference_and_dead_letters_invalid_input(
    job_factory: Callable[..., Job], guarantee: str
) -> None:
    job = job_factory(boards=BOARDS, guarantee=guarantee)
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
    produce(job.bootstrap, job.scores, [line for _, line in generated])
    expected = reference_tops(load_boards(BOARDS), now, [line for _, line in generated])
    invalid = [line for kind, line in generated if kind in INVALID_KINDS]
    too_old = too_old_ids(load_boards(BOARDS), now, [line for _, line in generated])

    def done(seen: dict[str, list[Any]]) -> bool:
        assert job.procs[0].poll() is None, f"worker died:\n{job.log_tail()}"
        if len(seen[job.dlq]) < len(invalid) + len(too_old):
            return False
        return not mismatches(seen[job.changes], expected)

    seen = consume_until(job.bootstrap, [job.changes, job.dlq], done)
    mismatched = mismatches(seen[job.changes], expected)
    assert not mismatched, (
        f"{len(mismatched)} windows differ, e.g. {mismatched[:3]}\n{job.log_tail()}"
    )

    # Records are keyed by board, and every board's records sit in one partition, in order.
    partitions: dict[bytes, set[int]] = {}
    for partition, _offset, key, record in seen[job.changes]:
        assert key == record["board"].encode()
        partitions.setdefault(key, set()).add(partition)
    assert all(len(p) == 1 for p in partitions.values())

    # The DLQ holds exactly the invalid inputs, each with a reason and its source in the
    # scores topic, and the events behind the dedup horizon (the rank stage's too_old, its
    # source in the by-board topic).
    letters = [r for *_, r in seen[job.dlq] if r["reason"] != "too_old"]
    assert sorted(letter["raw"].encode() for letter in letters) == sorted(
        line.decode(errors="replace").encode() for line in invalid
    )
    assert all(letter["reason"] and letter["source"]["topic"] == job.scores for letter in letters)
    assert all(isinstance(letter["source"]["offset"], int) for letter in letters)
    old = [r for *_, r in seen[job.dlq] if r["reason"] == "too_old"]
    assert sorted(json.loads(letter["raw"])["event_id"] for letter in old) == sorted(too_old)
    assert all(letter["source"]["topic"] == f"{job.app_id}-scores-by-board" for letter in old)

    # The repartition carries runs of one board's events (streams.edge.wire): every valid input
    # exactly once, keyed by its board, in far fewer messages than events (faust's cost is
    # per message).
    by_board = f"{job.app_id}-scores-by-board"
    valid = len(generated) - len(invalid)  # too_old events are valid: the intake forwards them

    def all_forwarded(seen: dict[str, list[Any]]) -> bool:
        return sum(len(run) for *_, run in seen[by_board]) >= valid

    runs = [
        (key, run)
        for _, _, key, run in consume_until(job.bootstrap, [by_board], all_forwarded)[by_board]
    ]
    assert sum(len(run) for _, run in runs) == valid
    assert all(fields[1].encode() == key for key, run in runs for fields in run)
    assert len(runs) < valid / 5, f"{len(runs)} by-board messages for {valid} events"

"""A by-board record faust fetched but never handed to the rank agent is fetched again,
not committed past (streams.runtime.delivery; docs/design/by-board-delivery.md).

faust's fetch loop marks a record read before the agent has it, and a rebalance clears its
queues, so a record can be fetched and never delivered. Here a worker loses one record of
the by-board topic on purpose (``lossy_worker``) and the output must still fold to the
reference: without the fetch ledger the rank stage commits past the record and its score is
missing from the boards. (The intake stage reads the scores topic with plain aiokafka, which
hands out every fetched record.)
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.gen_events import GenConfig, iter_lines
from streams.engine.config import BoardsConfig, load_boards
from streams.runtime.delivery import TAIL_GRACE_S

from .conftest import Job
from .kafka_io import consume_until, mismatches, produce, reference_tops

DAY_MS = 86_400_000
#: One all-time sum board for every board name, with room for every user: any lost event
#: with a non-zero score changes a standing.
BOARDS = """\
[defaults]
aggregate = "sum"
order = "desc"
windows = ["all"]
top = 100
"""


def job_and_input(
    job_factory: Callable[..., Job], tmp_path: Path, events: int, seed: int
) -> tuple[Job, BoardsConfig, int, list[tuple[str, bytes]]]:
    """A job on two partitions with BOARDS, and generated input lines (kind, line) of the
    last day."""
    boards = tmp_path / "boards.toml"
    boards.write_text(BOARDS)
    job = job_factory(boards=boards, partitions=2)
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=events,
        users=40,
        boards=4,
        seed=seed,
        start_ms=now - DAY_MS,
        span_hours=20,
        now_ms=now,
    )
    return job, load_boards(boards), now, [(kind, line) for kind, line, _ in iter_lines(cfg)]


def test_a_record_lost_between_fetch_and_agent_is_fetched_again(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    job, config, now, generated = job_and_input(job_factory, tmp_path, events=1200, seed=11)
    lines = [line for kind, line in generated if kind != "blank"]
    expected = reference_tops(config, now, lines)
    job.start_worker(
        command=[sys.executable, "-m", "tests.integration.lossy_worker"],
        LOSSY_TOPIC="scores-by-board",
        # A by-board message holds a run of events (streams.edge.wire): ~1200 events make only a
        # few dozen of them, so the fault comes early.
        LOSSY_OFFSET="1",
    )
    produce(job.bootstrap, job.scores, lines)

    def done(seen: dict[str, list[Any]]) -> bool:
        assert job.procs[0].poll() is None, f"worker died:\n{job.log_tail()}"
        return not mismatches(seen[job.changes], expected)

    seen = consume_until(job.bootstrap, [job.changes], done, timeout=90)
    log = job.log_tail(lines=100_000)
    assert "lossy_worker: lost" in log, "the fault was not injected"
    mismatched = mismatches(seen[job.changes], expected)
    assert not mismatched, f"{len(mismatched)} windows differ, e.g. {mismatched[:3]}\n{log[-4000:]}"
    assert "never reached the agent; fetching them again" in log


def test_a_lost_tail_is_fetched_again_though_nothing_follows_it(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    """The last record of the input is lost: no later record shows the gap, so only the
    tail grace (streams.runtime.delivery.TAIL_GRACE_S) brings it back. Without it the event
    stays unranked for as long as no new input comes to its partition."""
    job, config, now, generated = job_and_input(job_factory, tmp_path, events=300, seed=12)
    lines = [line for kind, line in generated if kind == "valid"]
    tail = json.loads(lines[-1]) | {"event_id": "tail-1", "score": 7, "ts": now - 3_600_000}
    tail_line = json.dumps(tail).encode()
    job.start_worker(
        command=[sys.executable, "-m", "tests.integration.lossy_worker"],
        LOSSY_TOPIC="scores-by-board",
        LOSSY_EVENT="tail-1",
    )
    produce(job.bootstrap, job.scores, lines)
    first = reference_tops(config, now, lines)
    consume_until(job.bootstrap, [job.changes], lambda s: not mismatches(s[job.changes], first))
    produce(job.bootstrap, job.scores, [tail_line])  # alone: the last record of both topics

    expected = reference_tops(config, now, [*lines, tail_line])
    seen = consume_until(
        job.bootstrap,
        [job.changes],
        lambda s: not mismatches(s[job.changes], expected),
        timeout=TAIL_GRACE_S + 30,
    )
    log = job.log_tail(lines=100_000)
    assert "lossy_worker: lost" in log, "the fault was not injected"
    mismatched = mismatches(seen[job.changes], expected)
    assert not mismatched, f"{len(mismatched)} windows differ, e.g. {mismatched[:3]}\n{log[-4000:]}"
    assert "never reached the agent; fetching them again" in log

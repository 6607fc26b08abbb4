"""Any worker answers any board: two workers in one group, every board queried on both;
requests for boards whose partition the other worker owns are forwarded to it, and the
answers equal the reference."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.gen_events import GenConfig, iter_lines
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import load_boards

from ..unit.reference import Reference
from .api_support import compare_board, q, start_api_worker, wait_ready, write_boards
from .conftest import Job
from .kafka_io import produce

DAY_MS = 86_400_000


def answered_by(url: str) -> str | None:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers.get("X-Rankstream-Answered-By")


def test_two_workers_each_answer_every_board(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    boards = write_boards(tmp_path)
    job = job_factory(boards=boards)
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=1200,
        users=60,
        boards=10,
        seed=3,
        start_ms=now - 2 * DAY_MS,
        span_hours=40,
        now_ms=now,
    )
    lines = [line for kind, line, _ in iter_lines(cfg) if kind != "blank"]
    ref = Reference(load_boards(boards), now)
    for line in lines:
        event = decode_event(line)
        if not isinstance(event, Rejection):
            ref.apply(event)
    names = sorted({wid[0] for wid in ref.events})
    bases = [start_api_worker(job, 0), start_api_worker(job, 1)]
    for worker, base in enumerate(bases):
        wait_ready(base, job, worker)
    produce(job.bootstrap, job.scores, lines)

    deadline = time.monotonic() + 150
    problems: list[str] = ["not compared yet"]
    while problems and time.monotonic() < deadline:
        for worker, proc in enumerate(job.procs):
            assert proc.poll() is None, f"worker {worker} died:\n{job.log_tail(worker)}"
        problems = [
            f"worker {w}: {p}"
            for w, base in enumerate(bases)
            for board in names
            for p in compare_board(base, board, ref)
        ]
        if problems:
            time.sleep(2)
    assert not problems, "\n".join(problems[:20]) + "\n" + job.log_tail(0) + job.log_tail(1)

    # Both workers own some boards, and each forwarded the others' boards to the owner.
    owners = {}
    for base in bases:
        for board in names:
            other = answered_by(f"{base}/boards/{q(board)}/daily?limit=1")
            owners.setdefault(board, set()).add(other or base)
    assert all(len(found) == 1 for found in owners.values()), owners
    assert {next(iter(found)) for found in owners.values()} == set(bases), owners

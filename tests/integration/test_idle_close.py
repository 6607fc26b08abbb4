"""Idle close on the real broker (contract section 2; streams.runtime.idle, Ranker.close_idle).

A board that gets no more events has its watermark follow the wall clock once the job has
caught up, so yesterday's window closes with its final standings and the API shows today;
a backlog that arrived while nothing read it is applied before anything closes; and a
SIGKILL around an idle close neither loses nor repeats a ``window_closed``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streams.engine.config import load_boards

from .api_support import get, start_api_worker, wait_ready
from .conftest import Job, free_port
from .kafka_io import consume_until, produce, reference_tops

DAY_MS = 86_400_000


def day_start(ms: int) -> int:
    return ms - ms % DAY_MS


def boards_file(tmp: Path, grace_seconds: int, idle_seconds: int = 1) -> Path:
    path = tmp / "boards.toml"
    path.write_text(
        "[defaults]\n"
        'windows = ["daily", "all"]\n'
        "top = 10\n"
        f"grace_seconds = {grace_seconds}\n"
        f"idle_close_seconds = {idle_seconds}\n"
    )
    return path


def events(prefix: str, boards: list[str], ts: int, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    return [
        json.dumps(
            {
                "event_id": f"{prefix}{i}",
                "board": boards[i % len(boards)],
                "user": f"u{rng.randrange(15)}",
                "score": rng.randrange(1, 100),
                "ts": ts + rng.randrange(60_000),
            }
        ).encode()
        for i in range(n)
    ]


def closed_records(seen: dict[str, list[Any]], topic: str) -> list[dict[str, Any]]:
    return [value for *_, value in seen[topic] if value["type"] == "window_closed"]


def standings(expected_top: Any) -> list[dict[str, Any]]:
    return [{"rank": r, "user": u, "score": s} for r, u, s in expected_top]


def test_an_idle_board_closes_yesterday_and_the_api_shows_today(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    boards = boards_file(tmp_path, grace_seconds=0)
    job = job_factory(boards=boards)
    now = time.time_ns() // 1_000_000
    yesterday = day_start(now) - DAY_MS
    lines = events("y", ["arena"], yesterday + 3_600_000, 40, seed=1)
    produce(job.bootstrap, job.scores, lines)
    base = start_api_worker(job)
    period = datetime.fromtimestamp(yesterday / 1000, UTC).date().isoformat()

    def closed(seen: dict[str, list[Any]]) -> bool:
        return any(r["period"] == period for r in closed_records(seen, job.changes))

    seen = consume_until(job.bootstrap, [job.changes], closed, timeout=60)
    assert closed(seen), job.log_tail()
    expected = reference_tops(load_boards(boards), now, lines)
    (record,) = [r for r in closed_records(seen, job.changes) if r["period"] == period]
    assert record["standings"] == standings(expected[("arena", "daily", period)])

    wait_ready(base, job)
    today = datetime.fromtimestamp(now / 1000, UTC).date()
    status, body = get(f"{base}/boards/arena/daily")
    assert status == 200, body
    assert (body["period"], body["entries"]) == (today.isoformat(), [])
    status, body = get(f"{base}/boards/arena/daily?period={period}&limit=10")
    assert status == 200, body
    assert body["entries"] == record["standings"]  # the final top-10


def test_a_backlog_is_applied_before_an_idle_close(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    """Yesterday's window may close 8 s from now. The worker ranks a first part, stops; the
    second part arrives while nothing reads it, and the intake starts only 7 s after the
    restarted worker is ready (longer than idle_close_seconds, past the window's close):
    the window must close with both parts."""
    now = time.time_ns() // 1_000_000
    yesterday = day_start(now) - DAY_MS
    grace_s = (now - (yesterday + DAY_MS)) // 1000 + 8
    boards = boards_file(tmp_path, grace_seconds=grace_s)
    job = job_factory(boards=boards)
    first = events("a", ["arena"], yesterday + 3_600_000, 30, seed=2)
    second = events("b", ["arena"], yesterday + 7_200_000, 30, seed=3)
    produce(job.bootstrap, job.scores, first)
    job.start_worker(0)
    period = datetime.fromtimestamp(yesterday / 1000, UTC).date().isoformat()

    def changed(seen: dict[str, list[Any]]) -> bool:
        return any(v.get("cause") == "a29" for *_, v in seen[job.changes])

    assert changed(consume_until(job.bootstrap, [job.changes], changed, timeout=60))
    job.stop()
    while time.time_ns() // 1_000_000 < now + 10_000:  # past the window's end + grace
        time.sleep(0.5)
    produce(job.bootstrap, job.scores, second)
    port = free_port()
    job.start_worker(0, RANKSTREAM_RUN_INTAKE="false", RANKSTREAM_WEB_PORT=str(port))
    wait_ready(f"http://localhost:{port}", job)
    time.sleep(7)  # several idle checks (every 2 s), each longer than idle_close_seconds
    assert job.procs[-1].poll() is None, job.log_tail()
    job.start_worker(1, command=[sys.executable, "-m", "streams", "intake"])

    def closed(seen: dict[str, list[Any]]) -> bool:
        return any(r["period"] == period for r in closed_records(seen, job.changes))

    seen = consume_until(job.bootstrap, [job.changes], closed, timeout=60)
    records = [r for r in closed_records(seen, job.changes) if r["period"] == period]
    assert len(records) == 1, job.log_tail()
    expected = reference_tops(load_boards(boards), now, first + second)
    assert records[0]["standings"] == standings(expected[("arena", "daily", period)])


def test_sigkill_around_idle_closes_neither_loses_nor_repeats_a_window_closed(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    """Eight boards, each with events of yesterday only; the worker is SIGKILLed at random
    moments while its idle closes run. Read read_committed afterwards: exactly one
    window_closed per (board, yesterday's daily), with the reference's standings."""
    boards = boards_file(tmp_path, grace_seconds=0)
    job = job_factory(boards=boards)
    now = time.time_ns() // 1_000_000
    yesterday = day_start(now) - DAY_MS
    names = [f"b{n}" for n in range(8)]
    lines = events("e", names, yesterday + 3_600_000, 200, seed=4)
    produce(job.bootstrap, job.scores, lines)
    rng = random.Random(9)
    for _ in range(4):
        job.start_worker(0)
        time.sleep(rng.uniform(1.0, 5.0))  # the first idle checks come ~2 s after ready
        os.killpg(job.procs[-1].pid, signal.SIGKILL)
        job.procs[-1].wait()
    job.start_worker(0)
    period = datetime.fromtimestamp(yesterday / 1000, UTC).date().isoformat()

    def all_closed(seen: dict[str, list[Any]]) -> bool:
        found = {r["board"] for r in closed_records(seen, job.changes) if r["window"] == "daily"}
        return found >= set(names)

    consume_until(job.bootstrap, [job.changes], all_closed, timeout=90)
    time.sleep(3)  # anything still to come would be a repeat
    seen = consume_until(job.bootstrap, [job.changes], lambda s: False, timeout=8)
    daily = [r for r in closed_records(seen, job.changes) if r["window"] == "daily"]
    counts = Counter((r["board"], r["period"]) for r in daily)
    assert counts == Counter({(name, period): 1 for name in names}), job.log_tail()
    expected = reference_tops(load_boards(boards), now, lines)
    for record in daily:
        assert record["standings"] == standings(expected[(record["board"], "daily", period)])

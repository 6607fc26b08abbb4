"""Recovery on the real broker: warm (data folder kept) and cold (wiped: rebuilt from the
changelog) restarts give identical state; retention removes closed windows from RocksDB,
decided by event time, also after a rebuild; two workers split the work and the survivor of
a SIGKILL takes over."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from rocksdict import Options, Rdict

from bench.gen_events import GenConfig, iter_lines
from streams.edge.fold import Folded
from streams.engine.config import load_boards
from streams.runtime.state.layout import partition_paths

from .api_support import wait_ready as wait_healthy
from .conftest import Job, free_port
from .kafka_io import consume_until, mismatches, produce, reference_tops

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"
DAY_MS = 86_400_000


def events(now: int, n: int, seed: int, days: float = 9) -> list[bytes]:
    cfg = GenConfig(
        events=n,
        users=30,
        boards=10,
        seed=seed,
        start_ms=now - int((days + 1) * DAY_MS),
        span_hours=days * 24,
        now_ms=now,
    )
    return [line for kind, line, _ in iter_lines(cfg) if kind == "valid"]


def snapshot(data_dir: Path) -> dict[bytes, bytes]:
    """Every key/value in the worker's RocksDB partitions (engine state and changelog position)."""
    items: dict[bytes, bytes] = {}
    paths = partition_paths(data_dir)
    assert paths, f"no state databases under {data_dir}"
    for path in paths:
        db = Rdict(str(path), Options(raw_mode=True))
        try:
            for key, value in db.items():
                if not key.startswith(b"__faust"):
                    items[key] = value
        finally:
            db.close()
    return items


def wait_ready(job: Job, worker: int, timeout: float = 60) -> None:
    job.wait_log("Worker ready", worker=worker, timeout=timeout)


def start_restored(job: Job) -> None:
    """Start worker 0 and wait until its /healthz says every partition it was assigned is
    restored: faust's "Worker ready" comes before our restore has finished, and a stop
    then cancels it (a cold-restart check once found the rebuilt database empty)."""
    port = free_port()
    job.start_worker(RANKSTREAM_WEB_PORT=str(port))
    wait_healthy(f"http://localhost:{port}", job)


def run_until_folded(
    job: Job,
    expected: dict,  # type: ignore[type-arg]
    timeout: float = 120,
    lines: list[bytes] | None = None,
) -> None:
    seen = consume_until(
        job.bootstrap, [job.changes], lambda s: not mismatches(s[job.changes], expected), timeout
    )
    bad = mismatches(seen[job.changes], expected)
    if bad:
        folded = Folded().extend(record for *_, record in seen[job.changes])
        windows = "\n".join(  # the entries only one side has: (rank, user, score)
            f"  {wid}: expected {sorted(set(expected[wid]) - set(folded.standings(wid)))[:4]}, "
            f"folded {sorted(set(folded.standings(wid)) - set(expected[wid]))[:4]}"
            for wid in bad[:3]
        )
        lost = where_lost(job, lines) if lines is not None else ""
        raise AssertionError(
            f"{len(bad)} windows differ, e.g.\n{windows}\n{lost}{worker_logs(job)}"
        )


def where_lost(job: Job, lines: list[bytes]) -> str:
    """Which input events the by-board topic lacks or holds twice: an event missing there
    was lost by the intake, one there but not ranked by the ranking stage. (Read now: the
    test's topics are deleted after it.)"""
    by_board = f"{job.app_id}-scores-by-board"
    wanted = Counter(json.loads(line)["event_id"] for line in lines)

    def ids(seen: dict[str, list[Any]]) -> Counter[str]:
        return Counter(fields[0] for *_, run in seen[by_board] for fields in run)

    seen = consume_until(
        job.bootstrap, [by_board], lambda s: ids(s).total() >= wanted.total(), timeout=10
    )
    got = ids(seen)
    missing, twice = wanted - got, got - wanted
    offsets = {fields[0]: (p, o) for p, o, _, run in seen[by_board] for fields in run}
    return (
        f"{asyncio.run(positions(job, [job.scores, by_board]))}\n"
        f"by-board topic: {got.total()} of {wanted.total()} events, "
        f"{len(missing)} missing {sorted(missing)[:10]}, "
        f"{len(twice)} more than once {[(i, offsets[i]) for i in sorted(twice)[:10]]}\n"
    )


async def positions(job: Job, topics: list[str]) -> str:
    """The group's committed offset against the last stable offset of each partition: a
    gap is input the workers never committed (a stall), none with events missing a loss.
    (A transactional topic's end is one past its last commit marker, which takes an offset
    no consumer sees: there, committed = end - 1 is all done.)"""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=job.bootstrap, group_id=job.app_id, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(job.partitions)]
        ends = await consumer.end_offsets(tps)
        committed = [await consumer.committed(tp) for tp in tps]
        return "committed/end: " + ", ".join(
            f"{tp.topic.removeprefix(job.app_id)}[{tp.partition}] {done}/{ends[tp]}"
            for tp, done in zip(tps, committed, strict=True)
        )
    finally:
        await consumer.stop()


def worker_logs(job: Job) -> str:
    """Each worker start's warnings, restores and last counts (the CI shows only part of the
    output, so the whole of a worker's log is never in it)."""
    marks = ("WARNING", "ERROR", "restored", "rank:", "Traceback", "newly assigned", "wait for")
    parts = []
    for path in sorted(job.tmp.glob("worker-*.log")):
        kept = [
            line
            for line in path.read_text(errors="replace").splitlines()
            if any(mark in line for mark in marks)
        ]
        parts.append(f"--- {path.name}\n" + "\n".join(kept[-25:]))
    return "\n".join(parts)


def test_warm_and_cold_restarts_give_identical_state(job_factory: Callable[..., Job]) -> None:
    job = job_factory(boards=BOARDS)
    config = load_boards(BOARDS)
    now = time.time_ns() // 1_000_000
    first, second = events(now, 800, seed=1), events(now, 400, seed=2)
    data = job.tmp / "data-0"

    job.start_worker()
    produce(job.bootstrap, job.scores, first)
    run_until_folded(job, reference_tops(config, now, first))
    job.stop()
    warm = snapshot(data)
    assert any(key.startswith(b"I\x00") for key in warm)

    shutil.rmtree(data)  # cold: everything must come back from the changelog
    start_restored(job)
    job.stop()
    assert snapshot(data) == warm

    produce(job.bootstrap, job.scores, second)  # and it carries on from the rebuilt state
    job.start_worker()
    run_until_folded(job, reference_tops(config, now, first + second))


def test_retention_removes_closed_windows_also_after_a_rebuild(
    job_factory: Callable[..., Job], tmp_path: Path
) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text('[defaults]\nwindows = ["daily", "all"]\ngrace_seconds = 0\nretain = 1\n')
    job = job_factory(boards=boards)
    now = time.time_ns() // 1_000_000
    lines = events(now, 600, seed=3, days=6)
    data = job.tmp / "data-0"
    job.start_worker()
    produce(job.bootstrap, job.scores, lines)
    run_until_folded(job, reference_tops(load_boards(boards), now, lines))
    job.stop()

    def daily_periods(items: dict[bytes, bytes]) -> dict[str, set[str]]:
        periods: dict[str, set[str]] = {}
        for key in items:
            space = key.split(b"\x01", 1)[0].split(b"\x00")
            if space[0] in (b"U", b"I") and space[2] == b"daily":
                periods.setdefault(space[1].decode(), set()).add(space[3].decode())
        return periods

    kept = daily_periods(snapshot(data))
    assert kept, "the run must have created daily windows"
    # One retained closed day plus the open one: never more than two daily windows per board.
    assert all(len(p) <= 2 for p in kept.values()), kept
    shutil.rmtree(data)
    start_restored(job)
    job.stop()
    assert daily_periods(snapshot(data)) == kept


def assigned_block(job: Job, worker: int) -> str:
    """The latest partition assignment table of the worker's rank stage (its consumer
    group is the app id; the intake stage's, ``<app_id>-intake``, logs its own)."""
    text = job.log_tail(worker, lines=5000)
    found = ""
    start = text.find("Setting newly assigned partitions")
    while start >= 0:
        end = text.find("for group", start)
        group = text[end:].split(maxsplit=3)[2] if end >= 0 else ""
        if group == job.app_id:
            found = text[start:end]
        start = text.find("Setting newly assigned partitions", start + 1)
    return found


def test_two_workers_split_the_work_and_survive_a_sigkill(job_factory: Callable[..., Job]) -> None:
    """Both workers own ranking partitions; SIGKILL one mid-stream and the survivor must take
    over (after the session timeout) with the push topic folding to the reference.

    This test found five bugs. Four are fixed in streams/runtime/consumer.py with unit tests in
    tests/unit/test_consumer.py (and one in streams/runtime/topics.py: empty assignments on a
    broker that had just started). A partition nobody had committed yet lost its first
    events, and a crash in faust's livelock check followed from aiokafka's lazy reset. Then
    about one run in 16 lost a few events of a scores partition the survivor had just taken
    over, because the partition was delivered twice: faust resumed it before its seek to
    the committed offsets had finished, and a rebalance could run two seeks that overlapped;
    the consumer now fetches no stream partition while faust rebalances or any seek is in
    flight (95 of 96 runs passed then). The last loss (about one run in 100): records
    faust's fetch loop took never reached the agent and a later commit skipped them. The
    consumer's fetch ledger (streams/runtime/delivery.py, tests/integration/test_delivery_gaps.py)
    now stops a unit at such a gap and fetches the records again: in the loops of
    2026-11-27 it did so in 3 of 160 runs (offsets 136, 123 and 136 of a scores partition
    just taken over, where the last failure lost events), and all 160 passed. CI then lost
    all of that partition's events after the kill: with no later record, no gap showed. The
    ledger now fetches again records that wait unhanded past its tail grace (tests in
    test_delivery_gaps.py), and a failure here says where the events went missing.
    """
    job = job_factory(boards=BOARDS)
    config = load_boards(BOARDS)
    now = time.time_ns() // 1_000_000
    lines = events(now, 1500, seed=4)
    job.start_worker(0)
    job.start_worker(1)
    wait_ready(job, 0)
    wait_ready(job, 1)
    produce(job.bootstrap, job.scores, lines[:700])
    time.sleep(2)
    for worker in (0, 1):
        assert "scores-by-board" in assigned_block(job, worker), job.log_tail(worker)
    os.killpg(job.procs[1].pid, signal.SIGKILL)  # mid-stream: the survivor must take over
    produce(job.bootstrap, job.scores, lines[700:])
    run_until_folded(job, reference_tops(config, now, lines), timeout=150, lines=lines)
    assert job.procs[0].poll() is None

"""The query API of a running worker on the real broker, compared with the reference
model after a few thousand events: every listed window (open and retained past periods),
full standings by pages, every user's rank (users?ids=), single users with neighbours deep
outside the top-K, and the JSON errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from bench.gen_events import GenConfig, iter_lines
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import load_boards

from ..unit.reference import Reference
from .api_support import compare_board, get, start_api_worker, wait_ready, write_boards
from .conftest import Job
from .kafka_io import produce

DAY_MS = 86_400_000


def test_queries_match_the_reference(job_factory: Callable[..., Job], tmp_path: Path) -> None:
    boards = write_boards(tmp_path)
    job = job_factory(boards=boards)
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=3000,
        users=150,
        boards=4,
        seed=11,
        mix_invalid=True,
        invalid_rate=0.03,
        start_ms=now - 6 * DAY_MS,
        span_hours=6 * 24 - 2,
        now_ms=now,
    )
    lines = [line for kind, line, _ in iter_lines(cfg) if kind != "blank"]
    ref = Reference(load_boards(boards), now)
    applied = 0
    for line in lines:
        event = decode_event(line)
        if not isinstance(event, Rejection) and ref.apply(event)[0] == "applied":
            applied += 1
    base = start_api_worker(job)
    wait_ready(base, job)
    produce(job.bootstrap, job.scores, lines)

    # Wait until the worker applied everything (its metrics say so), then compare.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert job.procs[0].poll() is None, job.log_tail()
        status, _ = get(base + "/healthz")
        text = _metrics(base)
        if f'rankstream_events_total{{outcome="applied"}} {applied}.0' in text:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"worker did not apply {applied} events:\n{_metrics(base)}")
    rocksdb = {
        kind: float(line.rsplit(" ", 1)[1])
        for line in _metrics(base).splitlines()
        for kind in ("memtables", "table_readers", "block_cache")
        if line.startswith(f'rankstream_rocksdb_memory_bytes{{kind="{kind}"}} ')
    }
    assert len(rocksdb) == 3, _metrics(base)
    assert rocksdb["memtables"] > 0, "the applied events sit in the open partitions' memtables"

    status, listing = get(base + "/boards")
    assert status == 200
    names = sorted(b["board"] for b in listing["boards"])
    expected_boards = sorted({wid[0] for wid in ref.events})
    assert set(expected_boards) <= set(names)
    retained = sum(len(b["retained"]) for b in listing["boards"])
    assert retained >= 4, "the feed spans days: past periods must be listed"
    problems = [p for board in expected_boards for p in compare_board(base, board, ref)]
    assert not problems, "\n".join(problems[:20])

    # Clear JSON errors.
    board = expected_boards[0]
    for path, status_code, code in [
        ("/boards/no-such-board/daily", 404, "unknown_board"),
        (f"/boards/{board}/hourly", 404, "unknown_window"),
        (f"/boards/{board}/daily?period=1999-01-01", 404, "unknown_period"),
        (f"/boards/{board}/daily?limit=abc", 400, "bad_parameter"),
        (f"/boards/{board}/daily?limit=100000", 400, "bad_parameter"),
        (f"/boards/{board}/all/users/nobody-at-all", 404, "unknown_user"),
        (f"/boards/{board}/all/users/x?around=-1", 400, "bad_parameter"),
        (f"/boards/{board}/all/users?ids=", 400, "bad_parameter"),
    ]:
        got_status, body = get(base + path)
        assert (got_status, body["error"]) == (status_code, code), (path, body)
        assert body["message"] and body["status"] == status_code


def _metrics(base: str) -> str:
    import urllib.request

    with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
        return response.read().decode()

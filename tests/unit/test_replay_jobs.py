"""`rankstream replay --jobs N` writes exactly the bytes of `--jobs 1` (stdout and --dlq), and
`--now` is an idle close of every board at the end of the input (contract sections 2, 4)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gen_events import GenConfig, iter_lines
from schemas.timefmt import format_ms, wall_clock_ms
from streams.apps import replay_jobs
from streams.apps.replay import ReplayStats, replay
from streams.apps.replay_jobs import ReplayWorkerError
from streams.apps.replay_output import Positions
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import BoardsConfig, load_boards

from .test_replay_cli import run_replay

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"


@pytest.fixture(scope="module")
def mixed() -> tuple[int, bytes]:
    """Ten boards, dead letters of every kind, duplicates, late and too_old events."""
    cfg = GenConfig(events=3000, users=40, boards=10, seed=23, mix_invalid=True, invalid_rate=0.1)
    lines = [line for _kind, line, _ts in iter_lines(cfg)]
    lines.insert(7, b"User Score Update")
    lines.insert(9, b'{"board": "arena"}')  # a board, but not an event
    return cfg.effective_now_ms, b"".join(line + b"\n" for line in lines)


def run_in_process(
    body: bytes, now: int | None, jobs: int, config: BoardsConfig
) -> tuple[bytes, bytes, str]:
    out, dlq = io.BytesIO(), io.BytesIO()
    stats: ReplayStats
    if jobs == 1:
        clock = wall_clock_ms if now is None else (lambda: now)  # as the workers do
        stats = replay(io.BytesIO(body), out, dlq, config, clock, idle_at=now)
    else:
        stats = replay_jobs.replay_jobs(io.BytesIO(body), out, dlq, config, now, jobs)
    return out.getvalue(), dlq.getvalue(), stats.summary()


@pytest.mark.parametrize("idle", [True, False])
def test_jobs_write_the_bytes_of_one_job_across_chunks(
    mixed: tuple[int, bytes], idle: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks, so that boards, dead letters and closes cross many chunk borders."""
    now, body = mixed
    monkeypatch.setattr(replay_jobs, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(replay_jobs, "DEPTH", 2)
    config = load_boards(BOARDS)
    one = run_in_process(body, now if idle else None, 1, config)
    three = run_in_process(body, now if idle else None, 3, config)
    assert three == one
    records = [json.loads(x) for x in one[0].splitlines()]
    reasons = {json.loads(x)["reason"] for x in one[1].splitlines()}
    assert len({r["board"] for r in records}) == 10
    assert {"too_old", "bad_json", "missing_field", "invalid_field"} <= reasons


def test_cli_jobs_1_and_3_give_identical_bytes(mixed: tuple[int, bytes], tmp_path: Path) -> None:
    now, body = mixed
    outputs = []
    for jobs in ("1", "3"):
        dlq = tmp_path / f"dead-{jobs}.jsonl"
        args = ["--boards", str(BOARDS), "--now", format_ms(now), "--dlq", str(dlq)]
        result = run_replay(*args, "--jobs", jobs, stdin=body)
        assert result.returncode == 0, result.stderr.decode()
        outputs.append((result.stdout, dlq.read_bytes(), result.stderr))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] and outputs[0][1]
    assert outputs[0][2].startswith(b"replay: 3002 lines")


@pytest.mark.parametrize("prefix", [b"", b"written before the replay\n"])
def test_workers_write_in_place_into_regular_files(
    mixed: tuple[int, bytes], tmp_path: Path, prefix: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stdout and --dlq regular files: the workers write their answers at the offsets the
    parent computes (positional), from the files' positions on; same bytes as --jobs 1."""
    now, body = mixed
    monkeypatch.setattr(replay_jobs, "CHUNK_BYTES", 4096)
    config = load_boards(BOARDS)
    one_out, one_dlq, one_summary = run_in_process(body, now, 1, config)
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "dlq", "wb") as dlq:
        out.write(prefix)
        assert Positions.possible(out, dlq)
        stats = replay_jobs.replay_jobs(io.BytesIO(body), out, dlq, config, now, 3)
        out.write(b"after\n")
    assert (tmp_path / "out").read_bytes() == prefix + one_out + b"after\n"
    assert (tmp_path / "dlq").read_bytes() == one_dlq
    assert stats.summary() == one_summary


def test_an_append_mode_file_is_written_through_the_parent(
    mixed: tuple[int, bytes], tmp_path: Path
) -> None:
    """pwrite ignores the offset of a file opened for appending: such a --dlq (or a pipe,
    or /dev/null) makes the answers go through the parent, with the same bytes."""
    now, body = mixed
    config = load_boards(BOARDS)
    one_out, one_dlq, _ = run_in_process(body, now, 1, config)
    (tmp_path / "dlq").write_bytes(b"old\n")
    with open(tmp_path / "out", "wb") as out, open(tmp_path / "dlq", "ab") as dlq:
        assert not Positions.possible(out, dlq)
        replay_jobs.replay_jobs(io.BytesIO(body), out, dlq, config, now, 2)
    assert (tmp_path / "out").read_bytes() == one_out
    assert (tmp_path / "dlq").read_bytes() == b"old\n" + one_dlq


def test_cli_with_stdout_in_a_file_writes_the_bytes_of_one_job(
    mixed: tuple[int, bytes], tmp_path: Path
) -> None:
    now, body = mixed
    (tmp_path / "in.jsonl").write_bytes(body)
    outputs = []
    for jobs in ("1", "2"):
        out, dlq = tmp_path / f"out-{jobs}", tmp_path / f"dead-{jobs}"
        args = ["--boards", str(BOARDS), "--now", format_ms(now), "--dlq", str(dlq)]
        command = [sys.executable, "-m", "streams", "replay", *args, "--jobs", jobs]
        with open(tmp_path / "in.jsonl", "rb") as stdin, open(out, "wb") as stdout:
            done = subprocess.run(command, stdin=stdin, stdout=stdout, cwd=ROOT, check=False)
        assert done.returncode == 0
        outputs.append((out.read_bytes(), dlq.read_bytes()))
    assert outputs[0] == outputs[1] and outputs[0][0] and outputs[0][1]


@pytest.mark.parametrize("jobs", ["0", "two"])
def test_bad_jobs_fail_clearly(jobs: str) -> None:
    result = run_replay("--boards", str(BOARDS), "--jobs", jobs, stdin=b"")
    assert result.returncode == 2 and b"--jobs" in result.stderr


def test_a_failing_worker_fails_the_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(replay_jobs.Engine, "apply", broken)  # the forked workers inherit it
    line = b'{"event_id":"a","board":"b","user":"u","score":1,"ts":0}\n'
    with pytest.raises(ReplayWorkerError, match="boom"):
        replay_jobs.replay_jobs(io.BytesIO(line), io.BytesIO(), None, BoardsConfig(), 10**13, 2)


# -- --now: the idle close at the end of the input ----------------------------------------

EVENTS = b"".join(
    json.dumps(e).encode() + b"\n"
    for e in [
        {
            "event_id": "1",
            "board": "arena",
            "user": "ada",
            "score": 3,
            "ts": "2026-11-27T09:00:00Z",
        },
        {
            "event_id": "2",
            "board": "arena",
            "user": "bob",
            "score": 5,
            "ts": "2026-11-27T10:00:00Z",
        },
        {"event_id": "3", "board": "quiet", "user": "cy", "score": 1, "ts": "2026-11-27T11:00:00Z"},
    ]
)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize(
    ("now", "closed"),
    [
        (None, []),  # event time only: nothing reached the end of the 27th
        ("2026-11-28T00:04:59.999Z", []),  # before end + grace (300 s)
        ("2026-11-28T00:05:00Z", [("arena", "2026-11-27", [["ada", 3], ["bob", 5]])]),
    ],
)
def test_now_closes_idle_windows_at_the_end_of_input(
    jobs: int, now: str | None, closed: list[object], tmp_path: Path
) -> None:
    """`quiet` has idle close off, so only `arena`'s daily window closes."""
    boards = tmp_path / "boards.toml"
    boards.write_text(
        '[defaults]\nwindows = ["daily", "all"]\norder = "asc"\n'
        '[boards.quiet]\nwindows = ["daily"]\nidle_close_seconds = 0\n'
    )
    args = ["--boards", str(boards), "--jobs", str(jobs)]
    if now is not None:
        args += ["--now", now]
    result = run_replay(*args, stdin=EVENTS)
    assert result.returncode == 0, result.stderr.decode()
    records = [json.loads(x) for x in result.stdout.splitlines()]
    closes = [
        (r["board"], r["period"], [[s["user"], s["score"]] for s in r["standings"]])
        for r in records
        if r["type"] == "window_closed"
    ]
    assert closes == closed
    if closed:
        assert records[-1]["type"] == "window_closed"  # after every event's records


# -- routing: a valid event always reaches its board's owner ----------------------------

TRICKY = [
    b'{"event_id":"1","board":"arena","user":"u","score":1,"ts":0}',
    b'{ "board" :\t"arena" , "event_id":"1","user":"u","score":1,"ts":0}',
    b'{"event_id":"1","bo\\u0061rd":"arena","meta":{"board":"decoy"},"user":"u","score":1,"ts":0}',
    b'{"event_id":"1","board":"ar\\u0065na","user":"u","score":1,"ts":0}',
    b'{"meta":{"board":"decoy"},"event_id":"1","board":"arena","user":"u","score":1,"ts":0}',
    b'{"event_id":"1","board":"decoy","board":"arena","user":"u","score":1,"ts":0}',
    b'{"event_id":"board","board":"arena","user":"board","score":1,"ts":0}',
    b'{"event_id":"1","user":"\\"board\\": \\"decoy\\"","board":"arena","score":1,"ts":0}',
    b'{"event_id":"1","meta":{"board":"decoy"},"user":"u","score":1,"ts":0}',  # invalid
    b'{"board": "arena"}',  # invalid
    b"not json",
]


@pytest.mark.parametrize("line", TRICKY)
def test_board_of_is_exact_for_every_valid_event(line: bytes) -> None:
    event = decode_event(line)
    if not isinstance(event, Rejection):
        assert replay_jobs.board_of(line) == event.board.encode() == b"arena"


def test_boards_are_balanced_by_estimated_cost() -> None:
    """Busiest new board first, to the least-loaded worker; a board keeps its owner."""
    config = BoardsConfig()
    owners = replay_jobs._Owners(2, config)
    new = owners.assign([(b"a", 5), (b"b", 3), (b"c", 3)])
    assert new == [[b"a"], [b"b", b"c"]]
    assert owners.assign([(b"c", 1), (b"d", 1)]) == [[b"d"], []]
    assert owners.owner == {b"a": 0, b"b": 1, b"c": 1, b"d": 0}

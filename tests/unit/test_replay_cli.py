"""`rankstream replay` end to end: a mixed file folds to the reference, with one dead letter
per invalid line, deterministically; bad invocations fail with a clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from schemas.timefmt import format_ms
from streams.edge.fold import Folded
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import load_boards

from .reference import Reference

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"


def run_replay(*args: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "replay", *args],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        check=False,
    )


@pytest.fixture(scope="module")
def mixed() -> tuple[GenConfig, list[tuple[str, bytes]]]:
    cfg = GenConfig(events=2500, users=25, boards=10, seed=11, mix_invalid=True, invalid_rate=0.1)
    lines = [(kind, line) for kind, line, _ts in iter_lines(cfg)]
    lines.insert(5, ("text", b"User Score Update"))
    return cfg, lines


def test_mixed_file_folds_to_reference(
    mixed: tuple[GenConfig, list[tuple[str, bytes]]], tmp_path: Path
) -> None:
    cfg, lines = mixed
    now = format_ms(cfg.effective_now_ms)
    body = b"".join(line + b"\n" for _kind, line in lines)
    dlq = tmp_path / "dead.jsonl"
    first = run_replay("--boards", str(BOARDS), "--now", now, "--dlq", str(dlq), stdin=body)
    assert first.returncode == 0, first.stderr.decode()
    again = run_replay("--boards", str(BOARDS), "--now", now, stdin=body)
    assert again.stdout == first.stdout, "replay must be deterministic"

    # The records fold to the reference's standings, and windows close with its standings,
    # the last ones at the end of the input: --now is an idle close of every board.
    config = load_boards(BOARDS)
    ref = Reference(config, cfg.effective_now_ms)
    expected_closes = []
    too_old = []
    for number, (_kind, line) in enumerate(lines, 1):
        event = decode_event(line) if line.strip() else None
        if event is None or isinstance(event, Rejection):
            continue
        outcome, _touched, closed = ref.apply(event)
        expected_closes += closed
        if outcome == "too_old":
            too_old.append(number)
    expected_closes += ref.idle_all(cfg.effective_now_ms)
    assert too_old, "the sample's very late events must reach past the dedup horizon"

    # One dead letter per invalid line (blank lines are skipped, not dead-lettered) and
    # per event behind the dedup horizon.
    dead = [json.loads(line) for line in dlq.read_text().splitlines()]
    invalid_lines = [
        n for n, (kind, _) in enumerate(lines, 1) if kind in INVALID_KINDS and kind != "blank"
    ]
    assert [d["line"] for d in dead] == sorted(invalid_lines + too_old)
    assert [d["line"] for d in dead if d["reason"] == "too_old"] == too_old
    assert all(d["reason"] and d["detail"] for d in dead)
    assert dead[0]["raw"] == "User Score Update" and dead[0]["reason"] == "bad_json"
    records = [json.loads(line) for line in first.stdout.splitlines()]
    folded = Folded().extend(records)
    assert set(folded.tops) <= set(ref.events)
    for wid in ref.events:
        assert folded.standings(wid) == ref.top(wid), wid
    closes = [
        (
            (r["board"], r["window"], r["period"]),
            [(s["rank"], s["user"], s["score"]) for s in r["standings"]],
        )
        for r in records
        if r["type"] == "window_closed"
    ]
    assert closes == expected_closes
    assert len(closes) > 5, "the sample must roll windows over"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--boards", "/nonexistent/boards.toml"], "no such boards file"),
        (["--boards", str(BOARDS), "--now", "yesterday"], "--now 'yesterday'"),
        (["--boards", str(BOARDS), "--dlq", "/nonexistent/dir/dead.jsonl"], "cannot write"),
    ],
)
def test_bad_invocation_fails_clearly(args: list[str], message: str) -> None:
    result = run_replay(*args, stdin=b"")
    assert result.returncode == 2
    assert message in result.stderr.decode()


def test_bad_config_names_key_and_allowed_values(tmp_path: Path) -> None:
    boards = tmp_path / "boards.toml"
    boards.write_text('[boards.speedrun]\naggregate = "median"\n')
    result = run_replay("--boards", str(boards), stdin=b"")
    assert result.returncode == 2
    assert "boards.speedrun.aggregate: must be one of sum, max, min, last" in result.stderr.decode()


def test_blank_lines_skipped_and_line_numbers_count_them(tmp_path: Path) -> None:
    dlq = tmp_path / "dead.jsonl"
    body = b'\n  \n{"event_id":"a","board":"b","user":"u","score":1,"ts":0}\nnope\n'
    result = run_replay(
        "--boards", str(BOARDS), "--now", "2026-01-01T00:00:00Z", "--dlq", str(dlq), stdin=body
    )
    assert result.returncode == 0
    assert [json.loads(x)["line"] for x in dlq.read_text().splitlines()] == [4]
    types = [json.loads(x)["type"] for x in result.stdout.splitlines()]
    # daily, weekly and all entries for "u"; then --now, long after 1970, closes two windows
    assert types == ["rank_change"] * 3 + ["window_closed"] * 2

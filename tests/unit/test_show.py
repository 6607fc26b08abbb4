"""``python -m streams.show FILE`` (contract section 5): the boards a push-record file folds to."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ALL = {"window": "all", "period": None, "window_start": None, "window_end": None}


def change(user: str, old: int | None, new: int | None, score: int, cause: str) -> str:
    record = {"type": "rank_change", "board": "arena", **ALL, "user": user}
    record |= {"old_rank": old, "new_rank": new, "score": score, "cause": cause}
    return json.dumps(record)


def show(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.show", *args], capture_output=True, text=True, check=False
    )


def test_show_prints_the_standings_the_records_fold_to(tmp_path: Path) -> None:
    records = tmp_path / "changes.jsonl"
    lines = [
        change("ada", None, 1, 30, "e1"),
        change("bob", None, 1, 50, "e2"),
        change("ada", 1, 2, 30, "e2"),
    ]
    records.write_text("\n".join(lines) + "\n")
    done = show(str(records))
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    assert rows[0] == ["arena", "/", "all"]
    assert rows[1:3] == [["1", "bob", "50"], ["2", "ada", "30"]]


def test_show_without_a_file_prints_its_usage() -> None:
    done = show()
    assert done.returncode == 2
    assert "usage: python -m streams.show" in done.stderr

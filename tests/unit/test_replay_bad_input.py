"""One bad line per rule of contract section 1: exactly one dead letter with its reason, and
the boards end up as if the line had never been there."""

from __future__ import annotations

import io
import json

import pytest

from streams.apps.replay import replay
from streams.engine.config import BoardsConfig

GOOD_1 = b'{"event_id":"g1","board":"arena","user":"ada","score":5,"ts":"2026-11-27T10:00:00Z"}'
GOOD_2 = b'{"event_id":"g2","board":"arena","user":"bob","score":7,"ts":1795780800000}'
NOW = 1_795_800_000_000  # 2026-11-27T15:20:00Z


def run(*lines: bytes) -> tuple[bytes, list[dict[str, object]]]:
    out, dlq = io.BytesIO(), io.BytesIO()
    replay(io.BytesIO(b"\n".join(lines) + b"\n"), out, dlq, BoardsConfig(), lambda: NOW)
    return out.getvalue(), [json.loads(x) for x in dlq.getvalue().splitlines()]


def event(**fields: object) -> bytes:
    base: dict[str, object] = {
        "event_id": "x",
        "board": "arena",
        "user": "eve",
        "score": 100,
        "ts": 1795780800000,
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"User Score Update", "bad_json"),
        (b"\xff\xfe not utf-8", "not_utf8"),
        (b"[1, 2]", "not_object"),
        (
            b'{"event_id":"x","board":"arena","user":"eve","score":NaN,"ts":1795780800000}',
            "invalid_field",
        ),
        (b" " * (64 * 1024 + 1), None),  # whitespace only: a blank line, skipped
        (event(payload="y" * 70_000), "too_large"),
        (event(event_id=...), "missing_field"),
        (event(event_id=""), "invalid_field"),
        (event(event_id="e" * 201), "invalid_field"),
        (event(board="bad board"), "invalid_field"),
        (event(board="x" * 129), "invalid_field"),
        (event(user=""), "invalid_field"),
        (event(user="u" * 129), "invalid_field"),
        (event(user="a\u0007b"), "invalid_field"),
        (event(user="a\u007fb"), "invalid_field"),
        (event(score=True), "invalid_field"),
        (event(score=1.0), "invalid_field"),
        (event(score="10"), "invalid_field"),
        (event(score=2**53), "invalid_field"),
        (event(ts="2026-11-27T10:00:00"), "invalid_field"),
        (event(ts=1.5e12), "invalid_field"),
        (event(ts=NOW + 601_000), "future"),
        (event(score=...), "missing_field"),
    ],
)
def test_bad_line_gives_one_dead_letter_and_leaves_boards_alone(
    line: bytes, reason: str | None
) -> None:
    clean, _ = run(GOOD_1, GOOD_2)
    mixed, dead = run(GOOD_1, line, GOOD_2)
    assert mixed == clean
    if reason is None:
        assert dead == []
    else:
        assert len(dead) == 1 and dead[0]["reason"] == reason and dead[0]["line"] == 2
        assert dead[0]["detail"]


def test_duplicate_is_dropped_silently_not_dead_lettered() -> None:
    clean, _ = run(GOOD_1, GOOD_2)
    mixed, dead = run(GOOD_1, GOOD_1, GOOD_2)
    assert (mixed, dead) == (clean, [])

"""Inputs and expectations shared by the bridge tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from streams.edge.fold import Folded
from streams.engine.config import load_boards

from ..unit.reference import Top, WindowId
from .amqp_io import Got
from .kafka_io import reference_tops

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "bench" / "boards.toml"
DAY_MS = 86_400_000


def generate(
    events: int, seed: int, *, invalid: bool = False, users: int = 30
) -> tuple[int, list[tuple[str, bytes]]]:
    """(now, [(kind, line)]) of a stream over the last 9 days, 10 boards."""
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=events,
        users=users,
        boards=10,
        seed=seed,
        mix_invalid=invalid,
        invalid_rate=0.08,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
    )
    return now, [(kind, line) for kind, line, _ in iter_lines(cfg)]


def is_invalid(kind: str) -> bool:
    return kind in INVALID_KINDS


def expected_tops(now: int, lines: list[bytes]) -> dict[WindowId, Top]:
    return reference_tops(load_boards(BOARDS), now, lines)


def fold_mismatches(records: list[Any], expected: dict[WindowId, Top]) -> list[WindowId]:
    folded = Folded().extend(records)
    return [wid for wid, top in expected.items() if folded.standings(wid) != top]


def got_records(got: list[Got]) -> list[Any]:
    return [g.json() for g in got]

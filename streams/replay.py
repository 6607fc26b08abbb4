"""`rankstream replay`: the stream job's engine over a JSONL file (contract section 4).

Validation happens here, at the edge, with the same intake the stream job uses; the engine
then runs on an in-memory store with the wall clock pinned by ``--now`` so that the same
input and the same ``--now`` always give byte-identical output.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from .engine.config import BoardsConfig
from .engine.core import Engine, Outcome
from .engine.events import dumps
from .engine.storage import MemoryStore
from .intake import Rejection, dead_letter_for_line, decode_event


@dataclass(slots=True)
class ReplayStats:
    lines: int = 0
    events: int = 0
    records: int = 0
    dead_letters: int = 0
    outcomes: Counter[str] | None = None

    def summary(self) -> str:
        counts = self.outcomes or Counter()
        return (
            f"replay: {self.lines} lines, {self.events} valid events "
            f"({counts['applied']} applied, {counts['duplicate']} duplicates, "
            f"{counts['late']} late for some window), {self.dead_letters} dead letters, "
            f"{self.records} records out"
        )


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def replay(
    source: BinaryIO,
    sink: BinaryIO,
    dead_letters: BinaryIO | None,
    config: BoardsConfig,
    clock: Callable[[], int] = wall_clock_ms,
) -> ReplayStats:
    engine = Engine(config, MemoryStore(), clock, ranks=False)  # nobody queries a replay
    stats = ReplayStats(outcomes=Counter())
    outcomes = stats.outcomes
    assert outcomes is not None
    write = sink.write
    for number, line in enumerate(source, 1):
        stats.lines = number
        body = line.rstrip(b"\r\n")
        if not body.strip():
            continue
        event = decode_event(body)
        if isinstance(event, Rejection):
            _dead_letter(dead_letters, stats, event, body, number)
            continue
        result = engine.apply(event)
        if result.outcome is Outcome.FUTURE:
            reason = Rejection(
                "future", f"ts is more than {config.max_future_seconds}s ahead of the wall clock"
            )
            _dead_letter(dead_letters, stats, reason, body, number)
            continue
        stats.events += 1
        outcomes[result.outcome.value] += 1
        if result.late:
            outcomes["late"] += 1
        if result.records:
            stats.records += len(result.records)
            write("".join(record.to_json() + "\n" for record in result.records).encode())
    return stats


def _dead_letter(
    sink: BinaryIO | None, stats: ReplayStats, rejection: Rejection, body: bytes, line: int
) -> None:
    stats.dead_letters += 1
    if sink is not None:
        record = dead_letter_for_line(rejection, body, line)
        sink.write(dumps(record).encode() + b"\n")

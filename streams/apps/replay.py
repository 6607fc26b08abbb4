"""`rankstream replay`: the stream job's engine over a JSONL file (contract section 4).

Validation happens here, at the edge, with the same intake the stream job uses; the engine
then runs on an in-memory store with the wall clock pinned by ``--now`` so that the same
input and the same ``--now`` always give byte-identical output. With ``--now`` the input's
end is also an idle close at that instant (contract section 2): every board's watermark
moves up to ``--now`` and the windows that are due by then close, in board name order.

:func:`replay` runs in this process; :func:`streams.apps.replay_jobs.replay_jobs` splits the
boards over processes and writes the same bytes. Both share :class:`ReplayStats` and the
dead-letter helpers below.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from schemas.timefmt import wall_clock_ms
from streams.edge.refusals import refusal
from streams.edge.validation import Rejection, dead_letter_for_line, decode_event
from streams.engine._core import render as render_records
from streams.engine.config import BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import Record, dumps
from streams.engine.storage import MemoryStore


@dataclass(slots=True)
class ReplayStats:
    lines: int = 0
    events: int = 0
    records: int = 0
    dead_letters: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        counts = self.outcomes
        return (
            f"replay: {self.lines} lines, {self.events} valid events "
            f"({counts['applied']} applied, {counts['duplicate']} duplicates, "
            f"{counts['late']} late for some window), {self.dead_letters} dead letters, "
            f"{self.records} records out"
        )


def render(records: Sequence[Record]) -> bytes:
    """The records as JSON lines (compiled: ``RankChange`` is written without a Python call)."""
    return render_records(records)


def replay(
    source: BinaryIO,
    sink: BinaryIO,
    dead_letters: BinaryIO | None,
    config: BoardsConfig,
    clock: Callable[[], int] = wall_clock_ms,
    idle_at: int | None = None,
) -> ReplayStats:
    """Replay ``source`` in this process; ``idle_at`` (``--now``): the idle close at the end."""
    engine = Engine(config, MemoryStore(), clock, ranks=False)  # nobody queries a replay
    stats = ReplayStats()
    outcomes = stats.outcomes
    write = sink.write
    for number, line in enumerate(source, 1):
        stats.lines = number
        body = line.rstrip(b"\r\n")
        if not body.strip():
            continue
        event = decode_event(body)
        if isinstance(event, Rejection):
            write_dead_letter(dead_letters, stats, event, body, number)
            continue
        result = engine.apply(event)
        refused = refusal(result.outcome, config, event.board)
        if refused is not None:
            write_dead_letter(dead_letters, stats, refused, body, number)
            continue
        stats.events += 1
        outcomes[result.outcome.value] += 1
        if result.late:
            outcomes["late"] += 1
        if result.records:
            stats.records += len(result.records)
            write(render(result.records))
    if idle_at is not None:
        closed = engine.close_idle(idle_at, budget=0)  # the state is dropped next anyway
        stats.records += len(closed)
        write(render(closed))
    return stats


def write_dead_letter(
    sink: BinaryIO | None, stats: ReplayStats, rejection: Rejection, body: bytes, line: int
) -> None:
    stats.dead_letters += 1
    if sink is not None:
        record = dead_letter_for_line(rejection, body, line)
        sink.write(dumps(record).encode() + b"\n")

"""Where replay's time per event goes, stage by stage, on the issue-A workload.

    python -m bench.stages [--events 200000 --users 100000 --boards 10 --seed 1]

Times each stage of ``rankstream replay`` separately, in this process, over the same
generated input (``bench.gen_events``), each stage on the previous stage's output held in
memory: ``json.loads`` alone (the floor), decoding and validation at the edge
(``streams.edge.validation.decode_event``: pydantic, timestamps), the engine
(``Engine.apply`` on a ``MemoryStore``, best of ``--repeat`` runs) twice - with rank trees,
as the stream job runs it (``engine``, issue I's measure), and without, as replay runs it
(``engine_replay``) - and formatting the records as JSONL. The sum is what a
replay costs without file I/O. It answers how much of a per-event budget is left for
ranking once the input is decoded and the output written (the profile of
``engine_bench --profile`` attributes the same time function by function, at twice the
cost).
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from bench.gen_events import GenConfig, write_events
from streams.edge.validation import Rejection, decode_event
from streams.engine.config import BoardsConfig, load_boards
from streams.engine.core import Engine
from streams.engine.events import Record, ScoreEvent
from streams.engine.storage import MemoryStore

BOARDS = Path(__file__).resolve().parent / "boards.toml"
T = TypeVar("T")


def timed(stage: Callable[[], T]) -> tuple[T, float]:
    """``stage()`` and its seconds. Garbage of earlier stages is collected first, so that
    no stage pays for another's; the stage's own collections are timed with it."""
    gc.collect()
    start = time.perf_counter()
    result = stage()
    return result, time.perf_counter() - start


def run_engine(
    boards: BoardsConfig, now_ms: int, events: list[ScoreEvent], ranks: bool, repeat: int
) -> tuple[list[tuple[Record, ...]], float]:
    """Every event through a new engine on a MemoryStore, ``repeat`` times: the records and
    the best seconds (the machine's noise is up to 2x; the best run is the engine's cost)."""
    best = float("inf")
    results: list[tuple[Record, ...]] = []
    for _ in range(max(1, repeat)):
        results = []  # the previous run's records are not this run's garbage
        engine = Engine(boards, MemoryStore(), lambda: now_ms, ranks=ranks)
        results, seconds = timed(partial(_apply_all, engine, events))
        best = min(best, seconds)
    return results, best


def _apply_all(engine: Engine, events: list[ScoreEvent]) -> list[tuple[Record, ...]]:
    return [engine.apply(e).records for e in events]


def measure(cfg: GenConfig, repeat: int = 3) -> dict[str, Any]:
    buffer = io.BytesIO()
    summary = write_events(cfg, buffer)
    lines = [line for line in buffer.getvalue().split(b"\n") if line.strip()]
    n = len(lines)
    floor = timed(lambda: [json.loads(line) for line in lines])[1]  # results dropped at once
    decoded, decode = timed(lambda: [decode_event(line) for line in lines])
    events = [e for e in decoded if not isinstance(e, Rejection)]
    boards = load_boards(BOARDS)
    apply_ranked = run_engine(boards, summary.now_ms, events, True, repeat)[1]  # state dropped
    results, apply = run_engine(boards, summary.now_ms, events, False, repeat)
    records: list[tuple[Record, ...]] = [r for r in results if r]
    _, fmt = timed(lambda: ["".join(r.to_json() + "\n" for r in rs).encode() for rs in records])
    count = sum(len(rs) for rs in records)

    def us(seconds: float) -> float:
        return round(1e6 * seconds / n, 2)

    return {
        "events": n,
        "valid": len(events),
        "records_per_event": round(count / n, 2),
        "us_per_event": {
            "json_loads_floor": us(floor),
            "decode_and_validate": us(decode),
            "engine": us(apply_ranked),
            "engine_replay": us(apply),
            "format_records": us(fmt),
            "total_without_io": us(decode + apply + fmt),
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--boards", type=int, default=10)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="engine runs per variant; the best counts")
    args = p.parse_args(argv)
    cfg = GenConfig(events=args.events, users=args.users, boards=args.boards, seed=args.seed)
    result = measure(cfg, args.repeat)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

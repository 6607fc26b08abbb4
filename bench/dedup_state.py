"""The dedup horizon's state bound (issue I): how many dedup keys and bytes the engine holds
after N events spread over D days of event time, sampled once per simulated day.

    python -m bench.dedup_state [--events 2000000] [--days 30] [--boards 1]

Events arrive in event-time order, evenly spread, each with a new ``event_id``, on boards
with the contract defaults except one daily window (the windows are not what is measured).
The engine runs on a :class:`~streams.engine.storage.MemoryStore`; "bytes" are what the
stream job's RocksStore would hold as keys and values (space + separator + key, value) for
the dedup spaces: ``D`` (id -> bucket), ``Q`` (bucket list), ``X`` (bucket members). With
``dedup_seconds = 0`` every id would stay: keys = events. With the default horizon the
keys stop growing after about ``dedup_seconds`` + one bucket of event time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine, bucket_ms_for
from streams.engine.events import ScoreEvent
from streams.engine.storage import MemoryStore

DAY_MS = 86_400_000
START_MS = 1_790_000_000_000  # 2026-09-21T13:33:20Z
TAGS = (b"D", b"Q", b"X")


def dedup_footprint(store: MemoryStore) -> dict[str, int]:
    """Keys and bytes (as RocksStore's physical keys + values) of the dedup spaces."""
    keys = size = 0
    for space in store.spaces():
        if space[:1] in TAGS:
            n, payload = store.footprint(space)
            keys += n
            size += payload + n * (len(space) + 1)
    return {"keys": keys, "bytes": size}


def measure_dedup_state(events: int, days: int = 30, boards: int = 1) -> dict[str, Any]:
    defaults = BoardConfig(windows=("daily",), top=10)
    config = BoardsConfig(defaults=defaults)
    end = START_MS + days * DAY_MS
    store = MemoryStore()
    engine = Engine(config, store, lambda: end, ranks=False)
    apply = engine.apply
    names = [f"b{n}" for n in range(boards)]
    samples: list[dict[str, int]] = []
    next_sample = START_MS + DAY_MS
    t0 = time.perf_counter()
    for n in range(events):
        ts = START_MS + n * (days * DAY_MS) // events
        if ts >= next_sample:
            samples.append({"day": len(samples) + 1, **dedup_footprint(store)})
            next_sample += DAY_MS
        apply(ScoreEvent(f"e{n:010d}", names[n % boards], f"u{n % 1000}", 1, ts))
    seconds = time.perf_counter() - t0
    final = dedup_footprint(store)
    horizon_ms = defaults.dedup_seconds * 1000
    per_ms = events / (days * DAY_MS)
    bound = int(per_ms * (horizon_ms + bucket_ms_for(horizon_ms))) + boards
    return {
        "events": events,
        "days": days,
        "boards": boards,
        "dedup_seconds": defaults.dedup_seconds,
        "bucket_seconds": bucket_ms_for(horizon_ms) // 1000,
        "seconds": round(seconds, 3),
        "us_per_event": round(seconds / max(events, 1) * 1e6, 3),
        "final": final,
        "max": {
            "keys": max([final["keys"], *(s["keys"] for s in samples)]),
            "bytes": max([final["bytes"], *(s["bytes"] for s in samples)]),
        },
        "ids_bound": bound,
        "ids_live": sum(store.footprint(s)[0] for s in store.spaces() if s[:1] == b"D"),
        "keys_without_horizon": events,
        "samples": samples,
    }


def render(result: dict[str, Any]) -> str:
    final, peak = result["final"], result["max"]
    return (
        f"dedup state after {result['events']:,} events over {result['days']} days "
        f"(dedup_seconds {result['dedup_seconds']:,}, buckets of {result['bucket_seconds']:,} s): "
        f"{final['keys']:,} keys, {final['bytes'] / 2**20:,.1f} MiB at the end; "
        f"max {peak['keys']:,} keys, {peak['bytes'] / 2**20:,.1f} MiB; "
        f"{result['ids_live']:,} live ids (bound {result['ids_bound']:,}); "
        f"without a horizon {result['keys_without_horizon']:,} ids "
        f"({result['us_per_event']} us/event)"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.dedup_state", description=__doc__)
    p.add_argument("--events", type=int, default=2_000_000)
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--boards", type=int, default=1)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if args.events < 1 or args.days < 1 or args.boards < 1:
        print("dedup_state: --events, --days and --boards must be >= 1", file=sys.stderr)
        return 2
    result = measure_dedup_state(args.events, args.days, args.boards)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

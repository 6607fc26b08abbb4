"""The engine's memory on RocksDB alone, without faust or Kafka: does it grow with users?

    python -m bench.engine_memory [--users 1000000] [--every 100000]
        [--block-cache-mb 64] [--write-buffer-mb 32] [--tree-cache-nodes 4096]

Leg 6a (``bench.state_bench``) measures the whole worker, whose RSS mixes the engine's
state with faust's, aiokafka's and the allocator's. This separates the engine's part: the
same workload (one board ``mem``, one ``all`` window, every event a new user) is applied
in-process to an :class:`~streams.engine.core.Engine` on a :class:`RocksStore` in a
scratch folder, flushed every ``--batch`` events as the worker does, and the process's RSS
is printed every ``--every`` users, beside RocksDB's own count of what it holds
(memtables, table readers, block cache): the RSS minus that is Python, the engine's caches
and the allocator. With the caches set small the curve shows what is left once they are
full; with the defaults, where the caches fill.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from bench import harness
from bench.state_bench import MEM_BOARDS
from streams.engine.config import parse_boards
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent
from streams.runtime.state import RocksStore, RocksTuning, rocksdb_memory

_MiB = 1 << 20


def rocksdb_mib(store: RocksStore) -> dict[str, float]:
    """RocksDB's own count of its RAM in MiB (``memtables_mib`` ...) and their sum as
    ``rocksdb_mib``, so that a row tells RocksDB's share of the RSS from the rest."""
    found = {f"{kind}_mib": round(n / _MiB, 1) for kind, n in rocksdb_memory([store.db]).items()}
    return {**found, "rocksdb_mib": round(sum(found.values()), 1)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    config = parse_boards(tomllib.loads(MEM_BOARDS))
    tuning = RocksTuning(
        block_cache_bytes=args.block_cache_mb * _MiB,
        write_buffer_bytes=args.write_buffer_mb * _MiB,
    )
    rows: list[dict[str, Any]] = []
    now = time.time_ns() // 1_000_000
    work = harness.ROOT / "bench" / "work"
    work.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        store = RocksStore(Path(scratch) / "db", tuning)
        engine = Engine(config, store, lambda: now, tree_cache_nodes=args.tree_cache_nodes)
        rng = random.Random(args.seed)
        n, hour = args.users, 3_600_000
        started = time.perf_counter()
        # The events of state_bench.unique_user_events, built one at a time here: its list
        # of a million JSON lines would sit in the very RSS this measures.
        for i in range(n):
            score = rng.randrange(1, 1_000_000)
            engine.apply(
                ScoreEvent(f"m{i}", "mem", f"user-{i:08d}", score, now - hour + i * hour // n)
            )
            if (i + 1) % args.batch == 0 or i + 1 == n:
                engine.sync()
                store.flush()
            if (i + 1) % args.every == 0 or i + 1 == n:
                gc.collect()
                rss, peak = harness.rss_kib(os.getpid())
                row = {
                    "users": i + 1,
                    "rss_mib": round(rss / 1024, 1),
                    "peak_rss_mib": round(peak / 1024, 1),
                    "seconds": round(time.perf_counter() - started, 1),
                    **rocksdb_mib(store),
                }
                rows.append(row)
                print(
                    f"engine_memory: {row['users']:>9,} users  RSS {row['rss_mib']:>6.1f} MiB"
                    f"  peak {row['peak_rss_mib']:>6.1f} MiB  {row['seconds']:>6.1f} s"
                    f"  rocksdb {row['rocksdb_mib']:>5.1f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
        keys = sum(1 for _ in store.db.keys())  # noqa: SIM118 - an Rdict: every key on disk
        store.close()
    return {
        "bench": "engine_memory",
        "machine": harness.machine(),
        "git": harness.git_commit(),
        "settings": {
            "block_cache_mb": args.block_cache_mb,
            "write_buffer_mb": args.write_buffer_mb,
            "max_write_buffer_number": tuning.max_write_buffer_number,
            "tree_cache_nodes": args.tree_cache_nodes,
            "batch": args.batch,
        },
        "rows": rows,
        "rocksdb_keys": keys,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="events per flush")
    parser.add_argument("--block-cache-mb", type=int, default=64)
    parser.add_argument("--write-buffer-mb", type=int, default=32)
    parser.add_argument("--tree-cache-nodes", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--json-out", type=Path, help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if args.users < 1 or args.every < 1 or args.batch < 1:
        parser.error("--users, --every and --batch must be positive")
    result = run(args)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

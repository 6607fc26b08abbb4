"""Latency of exact-rank and top-N queries on one big window in a real RocksDB.

    python -m bench.query_bench --users 1000000 --out bench/results/query.json
    python -m bench.query_bench --users 2000          # smoke (a unit test runs this)

Builds one ``all`` window of ``--users`` users through the engine (one event per user,
``sum`` of random scores; then ``--updates`` more events to existing users so the tree
has seen moves too), in a :class:`~streams.runtime.state.rocksdb.RocksStore` over a temporary
directory, flushing every ``--flush-every`` events as the worker does per batch. The store
is then closed and reopened with a fresh engine (cold caches: what a restarted worker
sees), and the bench measures, per query, the wall time of the same functions the HTTP
API calls (streams/engine/query.py):

* ``rank``: ``user_rank`` of a random user (exact rank among all users, and score);
* ``rank_around``: the same with ``around=5`` neighbours;
* ``page``: ``page`` of 100 entries at a random offset;
* ``top``: the first 100 entries.

It reports p50/p95/p99/max in milliseconds per query kind, and checks a sample of the
ranks against a sort of all users done in this process. That bookkeeping (a dict of every
user) is moved out of the garbage collector's sight (``gc.freeze``) before the timed part,
so collector pauses over it do not count as query time.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.engine import query
from streams.engine.config import BoardConfig, BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import ScoreEvent, WindowRef
from streams.runtime.state.rocksdb import RocksStore

BOARD = "bench"
ALL = WindowRef("all", None, None, None)
NOW = 1_800_000_000_000


def build(
    path: Path, users: int, updates: int, flush_every: int, seed: int
) -> tuple[float, dict[str, tuple[int, int]]]:
    """Fill the window; returns the build time and each user's (score, reached)."""
    config = _config()
    store = RocksStore(path)
    engine = Engine(config, store, lambda: NOW)
    rng = random.Random(seed)
    truth: dict[str, tuple[int, int]] = {}
    started = time.perf_counter()
    total = users + updates
    for n in range(total):
        user = f"user-{n if n < users else rng.randrange(users):07d}"
        score = rng.randrange(1_000_000)
        ts = NOW - 10 * 86_400_000 + n
        engine.apply(ScoreEvent(f"e{n}", BOARD, user, score, ts))
        old = truth.get(user)
        truth[user] = (score + (old[0] if old else 0), ts)
        if n % flush_every == flush_every - 1:
            engine.sync()
            store.flush()
        if n % 200_000 == 199_999:
            print(f"  {n + 1:,} / {total:,} events", file=sys.stderr)
    engine.sync()
    store.flush()
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, truth


def _config() -> BoardsConfig:
    return BoardsConfig(defaults=BoardConfig(windows=("all",), top=100))


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    return {
        "p50_ms": round(at(0.50), 4),
        "p95_ms": round(at(0.95), 4),
        "p99_ms": round(at(0.99), 4),
        "max_ms": round(max(ordered) * 1000, 4),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 4),
        "queries": len(ordered),
    }


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def measure(
    path: Path, truth: dict[str, tuple[int, int]], queries: int, seed: int
) -> dict[str, Any]:
    store = RocksStore(path)
    engine = Engine(_config(), store, lambda: NOW)
    rng = random.Random(seed + 1)
    names = sorted(truth)
    users = len(names)
    picks = [rng.choice(names) for _ in range(queries)]
    offsets = [rng.randrange(max(1, users - 100)) for _ in range(queries)]
    # The bench's own bookkeeping (a dict of every user) is not part of the system under
    # test; frozen, the garbage collector stops walking it during the timed queries.
    gc.collect()
    gc.freeze()
    it = iter(picks)
    rank = timed(lambda: query.user_rank(engine, BOARD, ALL, next(it)), queries)
    it = iter(picks)
    around = timed(lambda: query.user_rank(engine, BOARD, ALL, next(it), around=5), queries)
    off = iter(offsets)
    page = timed(lambda: query.page(engine, BOARD, ALL, next(off), 100), queries)
    top = timed(lambda: query.page(engine, BOARD, ALL, 0, 100), queries)
    # Exactness: a sample of ranks against a full sort (score desc, reached asc, user).
    order = sorted(names, key=lambda u: (-truth[u][0], truth[u][1], u))
    expected = {user: rank for rank, user in enumerate(order, 1)}
    for user in rng.sample(names, min(1000, users)):
        got = query.user_rank(engine, BOARD, ALL, user)
        assert got is not None and got.rank == expected[user], (user, got, expected[user])
        assert got.score == truth[user][0]
    first = query.page(engine, BOARD, ALL, 0, 3)
    assert [e.user for e in first] == order[:3]
    size = query.window_size(engine, BOARD, ALL)
    assert size == users, (size, users)
    depth = engine.tree_levels(BOARD, ALL) + 1  # counted levels plus the bucket level
    store.close()
    return {
        "rank": percentiles(rank),
        "rank_around_5": percentiles(around),
        "page_100_random_offset": percentiles(page),
        "top_100": percentiles(top),
        "tree_levels_including_buckets": depth,
        "checked_ranks": min(1000, users),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--updates", type=int, default=None, help="default: users / 10")
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--flush-every", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    args = parser.parse_args(argv)
    updates = args.users // 10 if args.updates is None else args.updates
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        path = Path(tmp) / "db"
        print(
            f"building a window of {args.users:,} users ({updates:,} updates) ...", file=sys.stderr
        )
        build_s, truth = build(path, args.users, updates, args.flush_every, args.seed)
        print("measuring ...", file=sys.stderr)
        results = measure(path, truth, args.queries, args.seed)
    report = {
        "bench": "query",
        "users": args.users,
        "events": args.users + updates,
        "build_s": round(build_s, 2),
        "build_events_per_s": round((args.users + updates) / build_s),
        **results,
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
    }
    print(f"query bench: one window of {args.users:,} users in RocksDB, cold start, ms per query")
    print(f"{'query':<26}{'p50':>9}{'p95':>9}{'p99':>9}{'max':>9}")
    for name in ("rank", "rank_around_5", "page_100_random_offset", "top_100"):
        row = report[name]
        print(
            f"{name:<26}{row['p50_ms']:>9.3f}{row['p95_ms']:>9.3f}"
            f"{row['p99_ms']:>9.3f}{row['max_ms']:>9.3f}"
        )
    print(
        f"build: {report['build_events_per_s']:,} events/s through the engine; "
        f"tree levels (with buckets): {report['tree_levels_including_buckets']}"
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Legs 5 and 6 of ``make bench``: recovery (cold and warm restart) and the worker's memory.

    python -m bench.state_bench [--sizes 250000,1000000] [--flat-events 45000] [--quick]

Memory per user and window (leg 6a), and recovery (leg 5), for each ``--sizes`` U:
a fresh worker (own topics and data folder) with one board ``mem`` and one window
(``all``) gets U events of U distinct users at full speed; the peak RSS (``VmHWM``) after
all are committed, minus nothing (the whole process), is the figure; two sizes give the
slope per user. The default sizes end at 1,000,000 users, so the figure per 1M users is
measured, not extrapolated: smaller sizes extrapolate linearly while the caches are still
filling, and 20k/60k users once gave 564 MiB where 1M users measured 300 MiB. The run
takes ~20 minutes (the sizes measured are in the result). Then the worker is stopped, the
engine keys in its RocksDB are counted (faust's own keys left out), and it is restarted
twice, each time timing from the process start to the first ``rank_change`` of a probe
event produced at that moment, read from the push topic:

* warm: data folder kept (only the offsets and the changelog tail to check);
* cold: data folder wiped, so the table is rebuilt from its changelog topic.

Cold recovery rate: ``keys / cold`` per size (start-up included), the marginal rate
between the two sizes (extra keys / extra seconds; the start-up cost cancels out only when
it does not vary, and it varies by a second or two), and the restore itself, read from the
worker's log (keys rebuilt / seconds of the slowest partition's restore), which the target
is judged on.

Flat memory across window rollovers (leg 6b): one worker, ``bench/boards.toml``
(daily/weekly windows, retain 3-8), ``--flat-events`` events over ``--flat-days`` days of
event time; RSS is sampled while it works and reported per quarter of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from rocksdict import Options, Rdict

from bench import harness
from bench.e2e_bench import cause_of, gen_lines
from bench.harness import BenchFailure, RssSampler, Worker
from bench.stream_job import run_id
from streams.runtime.state.layout import partition_paths
from streams.runtime.state.rocksdb import OFFSET_KEY

DEFAULT_JSON_OUT = harness.ROOT / "bench" / "results" / "state.json"
MEM_BOARDS = """max_future_seconds = 600

[defaults]
windows = ["all"]
top = 100

[boards.mem]
aggregate = "sum"
windows = ["all"]
top = 100
"""


def unique_user_events(
    n: int, now_ms: int, seed: int = 5, distinct: int | None = None
) -> list[bytes]:
    """``n`` events of ``n`` users, or of ``distinct`` users taking turns: the same events
    and state writes over fewer users tell growth per event from growth per user."""
    rng = random.Random(seed)
    return [
        json.dumps(
            {
                "event_id": f"m{i}",
                "board": "mem",
                "user": f"user-{i if distinct is None else i % distinct:08d}",
                "score": rng.randrange(1, 1_000_000),
                "ts": now_ms - 3_600_000 + i * 3_600_000 // n,
            }
        ).encode()
        for i in range(n)
    ]


def count_keys(data_dir: Path) -> int:
    total = 0
    for path in partition_paths(data_dir):
        db = Rdict(str(path), Options(raw_mode=True))
        try:
            keys = db.keys()  # raw mode: bytes
            total += sum(1 for key in keys if bytes(key) != OFFSET_KEY)
        finally:
            db.close()
    return total


async def probe(worker: Worker, tag: str, timeout: float) -> float:
    """Start the worker, send one event that must enter a top-K at once, and return the
    seconds from the process start to its rank_change on the push topic."""
    consumer = AIOKafkaConsumer(worker.changes, bootstrap_servers=worker.bootstrap)
    await consumer.start()
    await consumer.seek_to_end()
    producer = AIOKafkaProducer(bootstrap_servers=worker.bootstrap)
    await producer.start()
    eid = f"probe-{tag}-{time.time_ns()}"
    event = {
        "event_id": eid,
        "board": "probe",
        "user": f"probe-{tag}",
        "score": 10**12,
        "ts": time.time_ns() // 1_000_000,
    }
    try:
        worker.start()
        await producer.send_and_wait(worker.scores, json.dumps(event).encode(), key=b"probe")
        while True:
            batches = await consumer.getmany(timeout_ms=100)
            for msgs in batches.values():
                if any(cause_of(m.value or b"") == eid.encode() for m in msgs):
                    return time.monotonic() - worker.started_at
            worker.check_alive()
            if time.monotonic() - worker.started_at > timeout:
                raise BenchFailure(f"no rank_change for the {tag} probe after {timeout}s")
    finally:
        await producer.stop()
        await consumer.stop()


def rocksdb_kib(worker: Worker) -> dict[str, int]:
    """RocksDB's own count of its RAM in the loaded worker, by kind (its /metrics), so the
    peak RSS can be split into RocksDB's share and the rest."""
    prefix = 'rankstream_rocksdb_memory_bytes{kind="'
    return {
        name[len(prefix) : -2]: round(value / 1024)
        for name, value in worker.metrics().items()
        if name.startswith(prefix)
    }


def size_run(args: argparse.Namespace, users: int, tmp: Path) -> dict[str, Any]:
    boards = tmp / "mem-boards.toml"
    boards.write_text(MEM_BOARDS, encoding="utf-8")
    worker = Worker(
        args.bootstrap,
        tmp / f"size-{users}",
        boards,
        args.partitions,
        args.guarantee,
        app_id=run_id("bench-state"),
    )
    now_ms = time.time_ns() // 1_000_000
    lines = unique_user_events(users, now_ms, distinct=args.distinct_users)
    distinct = users if args.distinct_users is None else min(users, args.distinct_users)
    row: dict[str, Any] = {"users": distinct, "windows": 1, "events": users}
    try:
        worker.create_topics()
        worker.start()
        worker.wait_ready()
        assert worker.proc is not None
        rss = RssSampler(worker.proc.pid)
        row["rss_ready_kib"] = rss.sample()
        t0 = time.monotonic()
        asyncio.run(harness.produce_all(args.bootstrap, worker.scores, lines))
        worker.wait_committed(len(lines), args.timeout, rss)
        row["load_seconds"] = round(time.monotonic() - t0, 2)
        rss.sample()
        row["rss_after_kib"] = rss.samples[-1][1]
        row["peak_rss_kib"] = rss.peak_kib
        row["rocksdb_kib"] = rocksdb_kib(worker)
        worker.stop()
        row["table_keys"] = count_keys(worker.data_dir)
        row["warm_restart_s"] = round(asyncio.run(probe(worker, "warm", args.timeout)), 2)
        worker.stop()  # graceful: a killed member holds its partitions until its session expires
        worker.wipe_data()
        row["cold_restart_s"] = round(asyncio.run(probe(worker, "cold", args.timeout)), 2)
        worker.stop()
        row.update(restore_from_log(worker.log_path.read_text(errors="replace")))
        row["table_keys_after_cold"] = count_keys(worker.data_dir)
        if row.get("restore_s"):
            row["restore_keys_per_s"] = round(row["table_keys_after_cold"] / row["restore_s"])
    finally:
        worker.cleanup()
    # keys / cold restart time: the whole restart, start-up included (conservative). The
    # warm restart is no baseline to subtract: it is not a constant start-up cost (see
    # README: it re-reads the changelog too, so it grows with the keys).
    row["cold_keys_per_s_gross"] = round(row["table_keys"] / row["cold_restart_s"])
    return row


_RESTORED = re.compile(r"restored \S+\[\d+\]: (\d+) changelog records in ([\d.]+)s")


def restore_from_log(text: str) -> dict[str, Any]:
    """The restore itself, as the worker logged it (``streams/runtime/restore.py``): records summed
    over partitions, seconds of the slowest (they restore side by side). Unlike the restart
    times it excludes start-up and rebalancing, whose noise (a second or two) swamped the
    marginal rate between two sizes: 164,000, 47,600 and 66,700 keys/s in three runs."""
    found = [(int(n), float(s)) for n, s in _RESTORED.findall(text)]
    if not found:
        return {}
    records = sum(n for n, _ in found)
    seconds = max(s for _, s in found)
    rate = round(records / seconds) if seconds > 0 else None
    return {"restore_records": records, "restore_s": seconds, "restore_records_per_s": rate}


def flat_run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    boards = harness.ROOT / "bench" / "boards.toml"
    worker = Worker(
        args.bootstrap,
        tmp / "flat",
        boards,
        args.partitions,
        args.guarantee,
        app_id=run_id("bench-flat"),
    )
    now_ms = time.time_ns() // 1_000_000
    start = now_ms - int((args.flat_days + 0.1) * harness.DAY_MS)
    lines = gen_lines(args.flat_events, 10_000, 31, now_ms, start, args.flat_days * 24)
    try:
        worker.create_topics()
        worker.start()
        worker.wait_ready()
        assert worker.proc is not None
        rss = RssSampler(worker.proc.pid)
        progress: list[tuple[int, int]] = []  # (committed events, RSS KiB)
        asyncio.run(harness.produce_all(args.bootstrap, worker.scores, lines))
        deadline = time.monotonic() + args.timeout
        while (done := worker.committed()) < len(lines):
            progress.append((done, rss.sample()))
            worker.check_alive()
            if time.monotonic() > deadline:
                raise BenchFailure(f"flat run: {done} of {len(lines)} after {args.timeout}s")
            time.sleep(0.5)
        progress.append((len(lines), rss.sample()))
        counts = [line for line in worker.log_text().splitlines() if "rank: {" in line][-1:]
    finally:
        worker.cleanup()
    quarters = []
    for q in (1, 2, 3, 4):
        inside = [kib for done, kib in progress if (q - 1) / 4 <= done / len(lines) <= q / 4]
        quarters.append(max(inside) if inside else None)
    known = [q for q in quarters if q]
    return {
        "events": len(lines),
        "event_days": args.flat_days,
        "boards_toml": str(boards),
        "rss_max_kib_per_quarter": quarters,
        "growth_q2_to_q4": round(known[-1] / quarters[1], 3) if quarters[1] and known else None,
        "peak_rss_kib": rss.peak_kib,
        "samples": progress,
        "worker_counts": counts,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {
        "bench": "state",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": harness.machine(),
        "git": harness.git_commit(),
        "params": {
            "sizes": args.sizes,
            "flat_events": args.flat_events,
            "flat_days": args.flat_days,
            "partitions": args.partitions,
            "guarantee": args.guarantee,
        },
        "settings": {"worker": harness.worker_settings(args.guarantee, args.partitions)},
    }
    with tempfile.TemporaryDirectory(prefix="rankstream-state-") as tmp:
        rows = []
        for users in args.sizes:
            print(f"state: {users:,} users, then warm and cold restarts ...", file=sys.stderr)
            rows.append(size_run(args, users, Path(tmp)))
        result["sizes"] = rows
        if args.flat_events:
            print(f"state: flat run, {args.flat_days} days of event time ...", file=sys.stderr)
            result["flat"] = flat_run(args, Path(tmp))
    result["extrapolated"] = extrapolate(rows)
    return result


def extrapolate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per 1,000,000 users per window and per 1,000,000 keys, from the measured sizes."""
    million = 1_000_000
    first, last = rows[0], rows[-1]
    out: dict[str, Any] = {"measured_users": [r["users"] for r in rows], "method": "linear"}
    if len(rows) >= 2 and last["users"] > first["users"]:
        slope = (last["peak_rss_kib"] - first["peak_rss_kib"]) / (last["users"] - first["users"])
        out["rss_kib_per_user_window"] = round(slope, 4)
        out["rss_mib_at_1m_users_per_window"] = round(
            (last["peak_rss_kib"] + slope * (million - last["users"])) / 1024, 1
        )
        # The marginal restore rate: extra keys / extra cold-restart seconds between sizes
        # (the fixed start-up cost cancels out).
        dk = last["table_keys"] - first["table_keys"]
        dt = last["cold_restart_s"] - first["cold_restart_s"]
        out["cold_keys_per_s_marginal"] = round(dk / dt) if dt > 0 else None
        dw = last["warm_restart_s"] - first["warm_restart_s"]
        out["warm_seconds_per_1m_keys_marginal"] = round(dw / dk * million, 1) if dk else None
    restore_rates = [r["restore_keys_per_s"] for r in rows if r.get("restore_keys_per_s")]
    if restore_rates:
        out["restore_keys_per_s"] = min(restore_rates)  # keys rebuilt / restore seconds
    rate = out.get("cold_keys_per_s_marginal") or min(r["cold_keys_per_s_gross"] for r in rows)
    out["cold_keys_per_s"] = rate
    out["cold_seconds_per_1m_keys"] = round(million / rate, 1)
    out["keys_per_user_window"] = round(last["table_keys"] / last["users"], 2)
    return out


def render(result: dict[str, Any]) -> str:
    out = [
        "state: events  users  peak RSS  (RocksDB)  keys  warm s  cold s  keys/cold s"
        "  restore s  keys/restore s"
    ]
    for r in result["sizes"]:
        rocksdb = sum(r.get("rocksdb_kib", {}).values()) / 1024
        out.append(
            f"  {r['events']:>9,} {r['users']:>9,} {r['peak_rss_kib'] / 1024:>7.0f} MiB "
            f"({rocksdb:>4.0f} MiB) "
            f"{r['table_keys']:>9,} "
            f"{r['warm_restart_s']:>6.1f} {r['cold_restart_s']:>6.1f} "
            f"{r['cold_keys_per_s_gross']:>12,} {r.get('restore_s') or 0:>10.2f} "
            f"{r.get('restore_keys_per_s') or 0:>15,}"
        )
    e = result["extrapolated"]
    if "rss_mib_at_1m_users_per_window" in e:
        out.append(
            f"  extrapolated: {e['rss_mib_at_1m_users_per_window']:,} MiB RSS at 1M users in "
            f"one window ({e['rss_kib_per_user_window']} KiB per user-window)"
        )
    if "flat" in result:
        f = result["flat"]
        quarters = ", ".join(f"{q / 1024:.0f}" if q else "-" for q in f["rss_max_kib_per_quarter"])
        out.append(
            f"  flat run ({f['events']:,} events, {f['event_days']} days): max RSS per quarter "
            f"{quarters} MiB; Q4/Q2 = {f['growth_q2_to_q4']}"
        )
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.state_bench", description=__doc__)
    p.add_argument(
        "--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[250_000, 1_000_000]
    )
    p.add_argument(
        "--distinct-users",
        type=int,
        help="each size is that many events of at most this many users (default: all distinct)",
    )
    p.add_argument("--flat-events", type=int, default=45_000)
    p.add_argument("--flat-days", type=float, default=45.0)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--guarantee", choices=harness.GUARANTEES, default="exactly_once")
    bootstrap = os.environ.get("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092")
    p.add_argument("--bootstrap", default=bootstrap)
    p.add_argument("--timeout", type=float, default=1800, help="per size, in seconds")
    p.add_argument("--quick", action="store_true", help="smoke: 200 and 400 users, tiny flat run")
    p.add_argument("--json-out", default=str(DEFAULT_JSON_OUT))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.sizes, args.flat_events, args.flat_days = [200, 400], 300, 4.0
    try:
        result = run(args)
    except BenchFailure as exc:
        print(f"state_bench: {exc}", file=sys.stderr)
        return 1
    print(render(result))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Legs 2 and 3 of ``make bench``: one worker end to end against a raw passthrough, and the
event -> rank_change latency at fractions of the measured maximum rate.

    python -m bench.e2e_bench [--events 30000] [--guarantee exactly_once|at_least_once] [--quick]

In one run, on the shared broker, each with its own topics (4 partitions by default):

1. ceilings (``bench.ceilings``): ``bench.passthrough`` with the worker's topology (scores ->
   by-board -> push topic, same batch size, batch wait, linger and commit interval) while
   this process produces N events at full speed and consumes the output topic; then the
   same with ``bench.faust_passthrough``, the worker's two faust agents with no work in them;
2. the worker: ``rankstream worker`` on the same N events, same producer and consumer;
   events/s are those through both agents (the outcome counters of its /metrics, counted
   once committed), both overall (first send -> all committed) and sustained (between 10 %
   and 90 % committed);
3. latency, on the same worker: events sent at ``--loads`` x the sustained rate for
   ``--latency-seconds`` each; the latency of an event is from just before its send to the
   first ``rank_change`` with its ``cause`` read from the push topic (events that move
   nobody in a top-K have no sample). The first second of each load is warm-up, dropped.
4. the output-volume ceiling: the passthrough again, on fresh topics, its last stage sending
   each record as many times as the worker wrote records per event (push records plus
   changelog records, measured in step 2), through the worker's own output path and
   without transactions (``bench.passthrough --fanout``): what a Python process on aiokafka
   reaches when it only has to write what the worker writes.

Result: ``--json-out`` (default ``bench/results/e2e.json``) and a table on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import ceilings, harness
from bench.e2e_legs import cause_of, gen_lines, latency, throughput
from bench.harness import BenchFailure, Worker
from bench.stream_job import run_id

# cause_of and gen_lines moved to e2e_legs.py; state_bench still imports them from here.
__all__ = [
    "DEFAULT_JSON_OUT",
    "cause_of",
    "gen_lines",
    "main",
    "parser",
    "render",
    "run",
    "start_py_spy",
    "stop_py_spy",
]

DEFAULT_JSON_OUT = harness.ROOT / "bench" / "results" / "e2e.json"


def run(args: argparse.Namespace) -> dict[str, Any]:
    boards = Path(args.boards).resolve()
    settings = harness.worker_settings(args.guarantee, args.partitions)
    overrides = dict(item.split("=", 1) for item in args.set)
    if args.intake_process:
        overrides["run_intake"] = "false"
    settings.update(overrides)
    isolation = "read_committed" if args.guarantee == "exactly_once" else "read_uncommitted"
    now_ms = time.time_ns() // 1_000_000
    # Throughput: 9 days of event time (windows roll over) ending 2 h ago; the latency
    # loads then follow in event time (the last hour), so their events land in open
    # windows and move top-Ks as live traffic does, instead of being late.
    hour = 3_600_000
    lines = gen_lines(
        args.events,
        args.users,
        21,
        now_ms,
        now_ms - 2 * hour - 9 * harness.DAY_MS,
        9 * 24,
        args.event_boards,
    )
    rid = run_id("bench")
    result: dict[str, Any] = {
        "bench": "e2e",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": harness.machine(),
        "git": harness.git_commit(),
        "params": {
            "events": len(lines),
            "users": args.users,
            "boards": args.event_boards,
            "boards_toml": str(boards),
            "partitions": args.partitions,
            "guarantee": args.guarantee,
            "loads": args.loads,
            "latency_seconds": args.latency_seconds,
            "intake_process": args.intake_process,
            "passthrough_repeat": args.passthrough_repeat,
            "run_id": rid,
        },
        "settings": {
            "worker": settings,
            "load_producer": harness.producer_settings(),
            "push_consumer_isolation": isolation,
            "passthrough": "bench.passthrough, worker topology, worker batch/linger/commit",
        },
    }
    bootstrap = args.bootstrap
    # The raw passthrough gets the same bytes several times over: at its speed the bench's
    # events alone last about a second, too short for a sustained rate (it does no work
    # per event, so repeating lines changes nothing else).
    long_lines = lines * args.passthrough_repeat
    print(f"e2e: passthrough ceiling, {len(long_lines):,} events ...", file=sys.stderr)

    def ceiling(
        prefix: str, command: ceilings.Command, events: list[bytes] = lines
    ) -> dict[str, Any]:
        return ceilings.measure(
            bootstrap, args.partitions, events, prefix, command, args.timeout, isolation
        )

    result["passthrough"] = ceiling(
        f"{rid}-pt", ceilings.raw_command(bootstrap, f"{rid}-pt", settings), long_lines
    )
    print(
        f"e2e: faust ceiling (its two agents, no work), {len(lines):,} events ...", file=sys.stderr
    )
    result["faust_passthrough"] = ceiling(
        f"{rid}-fp", ceilings.faust_command(bootstrap, f"{rid}-fp", settings, args.partitions)
    )
    with tempfile.TemporaryDirectory(prefix="rankstream-e2e-") as tmp:
        worker = Worker(
            bootstrap,
            Path(tmp),
            boards,
            args.partitions,
            args.guarantee,
            app_id=f"{rid}-w",
            extra_env={f"RANKSTREAM_{k.upper()}": v for k, v in overrides.items()},
        )
        try:
            worker.create_topics()
            worker.start()
            result["worker_ready_s"] = round(worker.wait_ready(), 2)
            assert worker.proc is not None
            pids = [worker.proc.pid]
            if args.intake_process:  # `rankstream intake` beside a worker without one
                pids.append(worker.start_worker(1, INTAKE_COMMAND).pid)
                worker.wait_log(INTAKE_ASSIGNED, worker=1)
            rss = harness.RssSampler(worker.proc.pid)
            rss.sample()
            print(f"e2e: worker, {len(lines):,} events ...", file=sys.stderr)
            profiler = start_py_spy(worker.proc.pid, args.py_spy) if args.py_spy else None
            cpu0 = cpu_of(pids)
            result["worker"] = asyncio.run(
                throughput(
                    bootstrap,
                    worker.scores,
                    worker.changes,
                    lines,
                    lambda: asyncio.to_thread(worker.committed),
                    worker.check_alive,
                    args.timeout,
                    isolation,
                )
            )
            # CPU seconds of the worker per wall second: ~1.0 means one core busy (the
            # worker is CPU-bound: one event loop plus faust's consumer thread).
            cpu = cpu_of(pids) - cpu0
            result["worker"]["cpu_seconds"] = round(cpu, 2)
            result["worker"]["cpu_utilisation"] = round(cpu / result["worker"]["seconds"], 3)
            result["worker"]["cpu_us_per_event"] = round(cpu / len(lines) * 1e6, 1)
            # Everything the worker wrote per event, its output volume: the push records
            # plus the changelog (end offsets: an upper bound by one marker per transaction).
            state_log = asyncio.run(harness.end_offsets_total(bootstrap, worker.state_log))
            result["worker"]["state_log_records"] = state_log
            result["worker"]["push_records_per_event"] = round(
                result["worker"]["output_records_consumed"] / len(lines), 2
            )
            result["worker"]["state_log_records_per_event"] = round(state_log / len(lines), 2)
            if profiler is not None:
                result["worker_profile"] = stop_py_spy(profiler, args.py_spy)
            rss.sample()
            result["worker"]["peak_rss_kib"] = rss.peak_kib
            best = result["worker"]["sustained_events_per_s"] or result["worker"]["events_per_s"]
            rows = []
            for n, load in enumerate(args.loads):
                rate = load * best
                count = int(rate * args.latency_seconds) + 10
                span = 1.0 / len(args.loads)  # hours of event time per load
                start = now_ms - hour + int(n * span * hour)
                more = gen_lines(count, args.users, 100 + n, now_ms, start, span, args.event_boards)
                print(f"e2e: latency at {load:.0%} = {rate:,.0f} events/s ...", file=sys.stderr)
                cpu_before = cpu_of(pids)
                row = asyncio.run(
                    latency(bootstrap, worker, more, rate, args.latency_seconds, isolation)
                )
                # CPU per event of live traffic against the backlog's (throughput leg):
                # what small batches cost (per-transaction and per-record overheads).
                live_cpu = cpu_of(pids) - cpu_before
                row["cpu_us_per_event"] = round(live_cpu / len(more) * 1e6, 1)
                rows.append({"load": load, **row})
            result["latency"] = rows
            result["worker_log_counts"] = [
                line for line in worker.log_text().splitlines() if "rank: {" in line
            ][-1:]
        finally:
            worker.cleanup()
    fanout = max(1, round(result["worker"]["push_records_per_event"]))
    log_records = round(result["worker"]["state_log_records_per_event"])
    print(
        f"e2e: output-volume ceiling, {fanout} push + {log_records} changelog records per event",
        file=sys.stderr,
    )
    result["output_ceiling"] = {
        "fanout": fanout,
        "changelog_records": log_records,
        **ceiling(
            f"{rid}-po",
            ceilings.raw_command(bootstrap, f"{rid}-po", settings, fanout, log_records),
        ),
    }
    if args.redis_port:
        result["redis"] = redis_leg(lines, args.redis_port)
    w, p = result["worker"], result["passthrough"]
    result["ratios"] = {
        "worker_vs_passthrough_overall": round(w["events_per_s"] / p["events_per_s"], 3),
        "worker_vs_passthrough_sustained": (
            round(w["sustained_events_per_s"] / p["sustained_events_per_s"], 3)
            if w["sustained_events_per_s"] and p["sustained_events_per_s"]
            else None
        ),
        "faust_passthrough_vs_passthrough_overall": round(
            result["faust_passthrough"]["events_per_s"] / p["events_per_s"], 3
        ),
        "worker_vs_output_ceiling_overall": round(
            w["events_per_s"] / result["output_ceiling"]["events_per_s"], 3
        ),
    }
    if "redis" in result:
        result["ratios"]["worker_vs_redis_overall"] = round(
            w["events_per_s"] / result["redis"]["events_per_s"], 3
        )
    return result


#: ``--intake-process``: the intake stage in its own process (contract section 5).
INTAKE_COMMAND = [sys.executable, "-m", "streams", "intake"]
INTAKE_ASSIGNED = "intake: assigned scores partitions ["


def cpu_of(pids: list[int]) -> float:
    """CPU seconds of the job's processes (the worker, and the intake when apart)."""
    return sum(harness.cpu_seconds(pid) for pid in pids)


def redis_leg(lines: list[bytes], port: int) -> dict[str, Any]:
    """The Redis sorted-set baseline (``bench.redis_rank``, pipelined batches of 500) on the
    same events, from a file, into a fresh database: events/s over the whole input."""
    from bench.engine_bench import redis_server

    print(f"e2e: Redis sorted-set baseline, {len(lines):,} events ...", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="rankstream-e2e-redis-") as tmp, redis_server(port):
        events = Path(tmp) / "events.jsonl"
        events.write_bytes(b"\n".join(lines) + b"\n")
        cmd = [sys.executable, "-m", "bench.redis_rank", "--port", str(port), "--flush"]
        started = time.perf_counter()
        with events.open("rb") as stdin:
            done = subprocess.run(
                cmd, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True
            )
        seconds = time.perf_counter() - started
    summary = json.loads(done.stderr.decode().strip().splitlines()[-1])
    return {
        "events_per_s": round(len(lines) / seconds, 1),
        "seconds": round(seconds, 3),
        "client_summary": summary,
        "command": cmd,
    }


def start_py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """Sample the worker with py-spy (raw collapsed stacks) while the throughput leg runs."""
    cmd = ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--output", out]
    cmd += ["--rate", "100", "--nonblocking"]
    venv = Path(sys.executable).parent / "py-spy"
    if venv.exists():
        cmd[0] = str(venv)
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_py_spy(proc: subprocess.Popen[bytes], out: str) -> dict[str, Any]:
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    from bench.profile_summary import summarise

    return summarise(Path(out), top=15)


def render(result: dict[str, Any]) -> str:
    p, w, o = result["passthrough"], result["worker"], result["output_ceiling"]
    f = result["faust_passthrough"]
    out = [
        f"e2e: {result['params']['events']:,} events, {result['params']['partitions']} "
        f"partitions, guarantee {result['params']['guarantee']}",
        f"{'':<28}{'events/s':>12}{'sustained':>12}{'seconds':>10}",
        f"{'raw passthrough (ceiling)':<28}{p['events_per_s']:>12,.0f}"
        f"{p['sustained_events_per_s'] or 0:>12,.0f}{p['seconds']:>10.1f}",
        f"{'faust agents, no work':<28}{f['events_per_s']:>12,.0f}"
        f"{f['sustained_events_per_s'] or 0:>12,.0f}{f['seconds']:>10.1f}",
        f"{'raw, writing ' + str(o['fanout'] + o['changelog_records']) + '/event':<28}"
        f"{o['events_per_s']:>12,.0f}"
        f"{o['sustained_events_per_s'] or 0:>12,.0f}{o['seconds']:>10.1f}",
        f"{'rankstream worker':<28}{w['events_per_s']:>12,.0f}"
        f"{w['sustained_events_per_s'] or 0:>12,.0f}{w['seconds']:>10.1f}",
        f"worker / passthrough: {result['ratios']['worker_vs_passthrough_overall']:.1%} overall, "
        f"{result['ratios']['worker_vs_passthrough_sustained'] or 0:.1%} sustained; "
        f"producer alone {p['producer_events_per_s']:,.0f} events/s; worker CPU "
        f"{w.get('cpu_utilisation', 0):.0%} of a core",
    ]
    if "redis" in result:
        out.append(
            f"Redis sorted sets, same events: {result['redis']['events_per_s']:,.0f} events/s; "
            f"worker / Redis = {result['ratios']['worker_vs_redis_overall']:.2f}x"
        )
    for row in result.get("latency", []):
        out.append(
            f"latency at {row['load']:.0%} ({row['achieved_events_per_s']:,.0f} ev/s): "
            f"p50 {row.get('p50_ms', '-')} ms, p95 {row.get('p95_ms', '-')} ms, "
            f"p99 {row.get('p99_ms', '-')} ms ({row['samples']} samples); CPU "
            f"{row.get('cpu_us_per_event', 0):.0f} us/event vs "
            f"{w.get('cpu_us_per_event', 0):.0f} from the backlog"
        )
    return "\n".join(out)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.e2e_bench", description=__doc__)
    p.add_argument("--events", type=int, default=30_000)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument(
        "--passthrough-repeat",
        type=int,
        default=4,
        help="the raw passthrough runs on the events this many times over (a longer run)",
    )
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--guarantee", choices=harness.GUARANTEES, default="exactly_once")
    p.add_argument(
        "--loads",
        type=lambda s: [float(x) for x in s.split(",")],
        default=[0.25, 0.5, 0.8],
        help="fractions of the measured sustained rate for the latency leg",
    )
    p.add_argument("--latency-seconds", type=float, default=15.0)
    p.add_argument("--boards", default=str(harness.ROOT / "bench" / "boards.toml"))
    p.add_argument(
        "--event-boards",
        type=int,
        default=10,
        help="boards the generated events use; 1 is the hot-board leg (one partition)",
    )
    p.add_argument(
        "--redis-port",
        type=int,
        default=None,
        help="also run the Redis sorted-set baseline on the same events (private Redis)",
    )
    bootstrap = os.environ.get("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092")
    p.add_argument("--bootstrap", default=bootstrap)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="worker setting override, e.g. batch_max_ms=10 (recorded; repeatable)",
    )
    p.add_argument(
        "--intake-process",
        action="store_true",
        help="run the intake as its own process (`rankstream intake`) beside a worker with "
        "RANKSTREAM_RUN_INTAKE=false; CPU figures are both processes' sum",
    )
    p.add_argument("--py-spy", default=None, help="record the worker with py-spy into this file")
    p.add_argument("--quick", action="store_true", help="smoke: 600 events, 2 s per load")
    p.add_argument("--json-out", default=str(DEFAULT_JSON_OUT))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.quick:
        args.events, args.users, args.latency_seconds = 600, 200, 2.5
        args.loads = [0.5]
    try:
        result = run(args)
    except BenchFailure as exc:
        print(f"e2e_bench: {exc}", file=sys.stderr)
        return 1
    print(render(result))
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

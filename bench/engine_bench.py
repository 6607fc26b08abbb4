"""Throughput of ``rankstream replay`` against a ``json.loads``-only floor.

    python -m bench.engine_bench [--events 200000 --users 100000 --boards 10] [--quick]
                                 [--json-out bench/results/engine.json] [--profile] [--sweep]

Generates the input once (``bench.gen_events``, into ``--workdir``, default ``bench/work/``,
git-ignored), then measures, best of ``--repeat`` (default 3) wall-clock runs each:

* ``floor_inproc``: a loop in this process that reads the file as bytes line by line and
  ``json.loads`` each non-blank line: the cost of decoding alone;
* ``floor_subprocess``: the same loop in a fresh ``python`` reading stdin, so that it pays
  the interpreter start like replay does;
* ``replay_startup``: ``rankstream replay`` on an empty input (interpreter, imports, config);
* ``replay``: ``rankstream replay --boards ... --now <after the last event> --jobs 1
  < input > output``;
* ``replay_jobs2``: the same with ``--jobs 2`` (``--jobs-ratio N`` sets the 2); the ratio
  ``jobs_vs_one`` = replay / replay_jobs2 (both wall clock), and the two outputs must be
  the same bytes;
* ``dedup_state`` (``bench.dedup_state``): dedup keys and bytes after ``--dedup-events``
  (default 2,000,000) events over 30 days of event time, bounded by the horizon;

and reports events/s and µs/event for each, ``ratio`` = replay / floor_subprocess (both
wall clock of a whole process) and ``ratio_net`` = (replay - replay_startup) / floor_inproc.
``--sweep`` additionally replays 10k, 100k and 1M users with every board on the contract
defaults (sum, top 100, daily + weekly + all), each with the ``json.loads`` floor of the
same input and, with ``--redis-port``, the Redis sorted-set implementation
(``bench.redis_rank``, leg 4) on the same input. ``--profile`` runs the replay once more
in-process under cProfile and prints the top functions by cumulative and by own time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.dedup_state import measure_dedup_state
from bench.dedup_state import render as render_dedup
from bench.engine_measures import (
    distinct_users,
    generate_input,
    measure_floor,
    measure_redis,
    measure_replay,
    measure_startup,
    profile_replay,
    replay_command,
)
from bench.gen_events import GenConfig
from bench.runinfo import git_info, machine_info
from bench.stages import measure as measure_stages
from bench.timing import REPO, BenchError

DEFAULT_BOARDS = REPO / "bench" / "boards.toml"
DEFAULT_WORKDIR = REPO / "bench" / "work"
DEFAULT_JSON_OUT = REPO / "bench" / "results" / "engine.json"
SWEEP_USERS: tuple[int, ...] = (10_000, 100_000, 1_000_000)


def _fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _fmt_us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def render_table(result: dict[str, Any]) -> str:
    p = result["params"]
    m = result["machine"]
    mem = m["memory_bytes"]
    lines = [
        f"rankstream engine bench: {p['events']:,} events, {p['users']:,} users, "
        f"{p['boards']} boards, seed {p['seed']}, mix_invalid={p['mix_invalid']}, "
        f"best of {p['repeat']}",
        f"machine: {m['cores']} cores, "
        f"{'?' if mem is None else f'{mem / 2**30:.1f} GiB'}, Python {m['python']}, "
        f"{m['cpu'] or m['platform']}",
        "",
        f"{'measure':<32}{'best s':>10}{'events/s':>14}{'us/event':>11}{'peak RSS':>12}",
    ]
    for key, label in (
        ("floor_inproc", "json.loads floor (in-process)"),
        ("floor_subprocess", "json.loads floor (subprocess)"),
        ("replay_startup", "replay startup (empty input)"),
        ("replay", "rankstream replay"),
        ("replay_jobs", "rankstream replay --jobs N"),
    ):
        t = result["timings"].get(key)
        if t is None:
            continue
        rss = "-" if t["max_rss_kib"] is None else f"{t['max_rss_kib'] / 1024:,.0f} MiB"
        lines.append(
            f"{label:<32}{t['seconds']:>10.3f}{_fmt_rate(t['events_per_s']):>14}"
            f"{_fmt_us(t['us_per_event']):>11}{rss:>12}"
        )
    ratios = result.get("ratios", {})
    if ratios:
        lines.append("")
        lines.append(
            f"ratio replay / floor (both whole processes): {ratios['replay_vs_floor']:.1f}x"
        )
        lines.append(
            "ratio (replay - startup) / in-process floor:  "
            f"{ratios['replay_net_vs_floor_inproc']:.1f}x"
        )
        lines.append(
            "rate ratio replay / floor (whole processes): "
            f"{1 / ratios['replay_vs_floor']:.3f} (issue I target >= 0.20)"
        )
    if "stages" in result:
        us = result["stages"]["us_per_event"]
        lines.append(
            f"engine us/event (bench.stages, same workload): {us['engine']:.2f} with rank trees "
            f"(issue I target <= 6), {us['engine_replay']:.2f} without (replay); "
            f"decode {us['decode_and_validate']:.2f}, format {us['format_records']:.2f}, "
            f"json.loads {us['json_loads_floor']:.2f}"
        )
    if "jobs_vs_one" in ratios:
        lines.append(
            f"ratio replay --jobs {result['params']['jobs']} / --jobs 1 (speed-up): "
            f"{ratios['jobs_vs_one']:.2f}x, same bytes: {result['jobs_same_bytes']}"
        )
    if "dedup_state" in result:
        lines.append(render_dedup(result["dedup_state"]))
    if "replay_output" in result:
        o = result["replay_output"]
        lines.append(
            f"replay output: {o['output_records']:,} records ({o['output_bytes']:,} bytes), "
            f"{o['dead_letters']:,} dead letters, --now {o['now']}"
        )
    for row in result.get("sweep", []):
        floor = row.get("floor", {})
        lines.append(
            f"sweep users={row['users']:>9,}: {row['seconds']:.3f} s, "
            f"{_fmt_rate(row['events_per_s'])} events/s, {_fmt_us(row['us_per_event'])} us/event, "
            f"{row['output_records']:,} records; floor {_fmt_rate(floor.get('events_per_s'))} "
            f"events/s"
        )
        if "redis" in row:
            r = row["redis"]
            lines.append(
                f"      on Redis: {_fmt_rate(r['events_per_s'])} events/s, "
                f"{r['output_records']:,} records; ours / Redis = {row['ratio_ours_vs_redis']:.2f}x"
            )
    return "\n".join(lines)


def sweep_boards_toml(workdir: Path) -> Path:
    """A config with only the contract ``[defaults]``: every board sum, 3 windows, top 100."""
    path = workdir / "boards-sweep.toml"
    path.write_text(
        "max_future_seconds = 600\n\n[defaults]\n"
        'aggregate = "sum"\norder = "desc"\nwindows = ["daily", "weekly", "all"]\n'
        'top = 100\ntimezone = "UTC"\nweek_start = "monday"\n'
        "grace_seconds = 300\nretain = 8\n",
        encoding="utf-8",
    )
    return path


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    boards = Path(args.boards).resolve()
    cfg = GenConfig(
        events=args.events,
        users=args.users,
        boards=args.board_count,
        seed=args.seed,
        mix_invalid=args.mix_invalid,
    )
    tag = f"{cfg.events}-{cfg.users}-{cfg.boards}-{cfg.seed}{'-mix' if cfg.mix_invalid else ''}"
    print(f"generating {cfg.events:,} events into {workdir} ...", file=sys.stderr)
    inputs = generate_input(cfg, workdir, tag)
    result: dict[str, Any] = {
        "bench": "engine",
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "git": git_info(),
        "params": {
            "events": cfg.events,
            "users": cfg.users,
            "boards": cfg.boards,
            "seed": cfg.seed,
            "mix_invalid": cfg.mix_invalid,
            "repeat": args.repeat,
            "jobs": args.jobs_ratio,
            "boards_toml": str(boards),
            "replay_command": replay_command(),
        },
        "input": {
            **inputs.summary.to_json(),
            "path": str(inputs.events_path),
            "gen_seconds": round(inputs.gen_seconds, 3),
        },
        "timings": {},
    }
    print("measuring the json.loads floor ...", file=sys.stderr)
    floor_in, floor_sub = measure_floor(inputs, workdir, args.repeat)
    result["timings"]["floor_inproc"] = floor_in.to_json()
    result["timings"]["floor_subprocess"] = floor_sub.to_json()
    print("measuring rankstream replay ...", file=sys.stderr)
    startup = measure_startup(boards, workdir, args.repeat)
    replay, output = measure_replay(boards, inputs, workdir, args.repeat, tag)
    result["timings"]["replay_startup"] = startup.to_json()
    result["timings"]["replay"] = replay.to_json()
    result["replay_output"] = output
    net = max(replay.seconds - startup.seconds, 1e-9)
    result["ratios"] = {
        "replay_vs_floor": round(replay.seconds / floor_sub.seconds, 3),
        "replay_net_vs_floor_inproc": round(net / floor_in.seconds, 3),
    }
    print("measuring the engine stage by stage (bench.stages) ...", file=sys.stderr)
    result["stages"] = measure_stages(cfg)
    if args.jobs_ratio > 1:
        print(f"measuring rankstream replay --jobs {args.jobs_ratio} ...", file=sys.stderr)
        jobs_tag = f"{tag}-jobs{args.jobs_ratio}"
        jobs, _ = measure_replay(boards, inputs, workdir, args.repeat, jobs_tag, args.jobs_ratio)
        result["timings"]["replay_jobs"] = jobs.to_json()
        result["ratios"]["jobs_vs_one"] = round(replay.seconds / jobs.seconds, 3)
        result["jobs_same_bytes"] = all(
            (workdir / f"{kind}-{tag}.jsonl").read_bytes()
            == (workdir / f"{kind}-{jobs_tag}.jsonl").read_bytes()
            for kind in ("changes", "dead")
        )
    if args.dedup_events:
        print(f"measuring the dedup state ({args.dedup_events:,} events) ...", file=sys.stderr)
        result["dedup_state"] = measure_dedup_state(args.dedup_events)
    if args.sweep:
        with redis_server(args.redis_port):
            result["sweep"] = sweep(args, cfg, workdir)
        result["sweep_boards"] = "contract [defaults] only: sum, desc, daily+weekly+all, top 100"
    if args.profile:
        print("profiling replay in-process ...", file=sys.stderr)
        report, rows = profile_replay(boards, inputs, workdir, args.profile_top)
        result["profile"] = {"top_by_tottime": rows}
        result["profile_report"] = report
    if not args.keep:  # inputs and outputs can be hundreds of MB; keep replay.prof
        for pattern in ("events-*.jsonl", "changes-*.jsonl", "dead-*.jsonl", "*-out.*"):
            for path in workdir.glob(pattern):
                path.unlink(missing_ok=True)
    return result


@contextlib.contextmanager
def redis_server(port: int | None) -> Iterator[None]:
    """Start the private Redis of leg 4 (deploy/redis/up.sh, idempotent) when ``port`` is
    set, and stop it afterwards if this run started it."""
    if port is None:
        yield
        return
    env = dict(os.environ, REDIS_PORT=str(port))
    script = REPO / "deploy" / "redis"
    was_up = (
        subprocess.run(
            ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, check=False
        ).stdout.strip()
        == "PONG"
        if shutil.which("redis-cli")
        else False
    )
    up = subprocess.run(["bash", str(script / "up.sh")], env=env, capture_output=True, text=True)
    if up.returncode != 0:
        raise BenchError(f"deploy/redis/up.sh failed:\n{up.stdout}{up.stderr}")
    try:
        yield
    finally:
        if not was_up:
            subprocess.run(["bash", str(script / "down.sh")], env=env, capture_output=True)


def sweep(args: argparse.Namespace, cfg: GenConfig, workdir: Path) -> list[dict[str, Any]]:
    sweep_toml = sweep_boards_toml(workdir)
    rows = []
    for users in args.sweep_users:
        scfg = GenConfig(events=cfg.events, users=users, boards=cfg.boards, seed=cfg.seed)
        stag = f"sweep-{scfg.events}-{users}-{scfg.boards}-{scfg.seed}"
        print(f"sweep: {users:,} users ...", file=sys.stderr)
        sinputs = generate_input(scfg, workdir, stag)
        timing, sout = measure_replay(sweep_toml, sinputs, workdir, args.repeat, stag)
        row = {"users": users, "distinct_users": distinct_users(sinputs.events_path)}
        row.update(timing.to_json(), **sout)
        _, floor = measure_floor(sinputs, workdir, args.repeat)
        row["floor"] = floor.to_json()
        row["ratio_vs_floor"] = round(timing.seconds / floor.seconds, 3)
        if args.redis_port:
            print(f"sweep: {users:,} users on Redis ...", file=sys.stderr)
            repeat = args.redis_repeat or args.repeat
            redis_row = measure_redis(sinputs, workdir, repeat, args.redis_port)
            row["redis"] = redis_row
            row["ratio_ours_vs_redis"] = round(
                redis_row["seconds"] / timing.seconds, 3
            )  # our events/s / Redis's events/s
        rows.append(row)
        if not args.keep:
            sinputs.events_path.unlink(missing_ok=True)
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.engine_bench", description=__doc__)
    p.add_argument("--events", type=int, default=None, help="lines of input (default 200000)")
    p.add_argument("--users", type=int, default=None, help="distinct users (default 100000)")
    p.add_argument("--boards", dest="board_count", type=int, default=10, help="boards in input")
    p.add_argument("--boards-toml", dest="boards", default=str(DEFAULT_BOARDS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--repeat", type=int, default=None, help="runs per measure (default 3)")
    p.add_argument("--mix-invalid", action="store_true", help="include dups/late/invalid lines")
    p.add_argument("--quick", action="store_true", help="smoke mode: 2000 events, 1 run each")
    p.add_argument("--sweep", action="store_true", help="also replay 10k/100k/1M users")
    p.add_argument(
        "--sweep-users",
        type=lambda s: [int(x) for x in s.split(",")],
        default=list(SWEEP_USERS),
        help="comma-separated user counts for --sweep",
    )
    p.add_argument(
        "--redis-port",
        type=int,
        default=None,
        help="with --sweep: also run bench.redis_rank on each input against this Redis",
    )
    p.add_argument(
        "--redis-repeat",
        type=int,
        default=None,
        help="runs per Redis measure (default: --repeat); it is the slowest part of a sweep",
    )
    p.add_argument(
        "--jobs-ratio",
        type=int,
        default=2,
        help="also time replay --jobs N against --jobs 1 (default 2; 1 skips it)",
    )
    p.add_argument(
        "--dedup-events",
        type=int,
        default=None,
        help="events of the dedup-state measure (default 2000000, --quick 20000; 0 skips it)",
    )
    p.add_argument("--profile", action="store_true", help="cProfile the replay in-process")
    p.add_argument("--profile-top", type=int, default=25)
    p.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    p.add_argument("--json-out", default=str(DEFAULT_JSON_OUT))
    p.add_argument("--keep", action="store_true", help="keep the inputs and replay outputs")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.quick:
        args.events = 2_000 if args.events is None else args.events
        args.users = 1_000 if args.users is None else args.users
        args.repeat = 1 if args.repeat is None else args.repeat
        args.dedup_events = 20_000 if args.dedup_events is None else args.dedup_events
    args.dedup_events = 2_000_000 if args.dedup_events is None else args.dedup_events
    args.events = 200_000 if args.events is None else args.events
    args.users = 100_000 if args.users is None else args.users
    args.repeat = 3 if args.repeat is None else args.repeat
    if args.events < 1 or args.users < 1 or args.repeat < 1:
        print("engine_bench: --events, --users and --repeat must be >= 1", file=sys.stderr)
        return 2
    try:
        result = run(args)
    except (BenchError, ImportError, OSError) as exc:
        print(f"engine_bench: {exc}", file=sys.stderr)
        return 1
    report = result.pop("profile_report", None)
    print(render_table(result))
    if report:
        print(report)
    out = Path(args.json_out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

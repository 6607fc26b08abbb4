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
* ``replay``: ``rankstream replay --boards ... --now <after the last event> < input > output``.

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
import cProfile
import io
import json
import os
import platform
import pstats
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gen_events import GenConfig, GenSummary, format_instant, write_events

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BOARDS = REPO / "bench" / "boards.toml"
DEFAULT_WORKDIR = REPO / "bench" / "work"
DEFAULT_JSON_OUT = REPO / "bench" / "results" / "engine.json"
SWEEP_USERS: tuple[int, ...] = (10_000, 100_000, 1_000_000)

#: The floor loop, run both in-process and as ``python -c`` on stdin.
FLOOR_SOURCE = """
import json, sys
def floor(fh):
    loads = json.loads
    n = 0
    for raw in fh:
        if raw.strip():
            try:
                loads(raw)
            except ValueError:
                pass
            n += 1
    return n
if __name__ == "__main__":
    print(floor(sys.stdin.buffer))
"""


def _floor(fh: io.BufferedReader) -> int:
    namespace: dict[str, Any] = {"__name__": "bench_floor"}
    exec(FLOOR_SOURCE, namespace)
    result: int = namespace["floor"](fh)
    return result


class BenchError(RuntimeError):
    """A measurement could not be taken (e.g. the replay CLI failed)."""


@dataclass
class Timing:
    """Best-of-N wall time of one measurement, and the peak RSS of its child if any."""

    name: str
    seconds: float
    runs: list[float]
    events: int
    max_rss_kib: int | None = None

    @property
    def events_per_s(self) -> float | None:
        return self.events / self.seconds if self.events and self.seconds > 0 else None

    @property
    def us_per_event(self) -> float | None:
        return self.seconds / self.events * 1e6 if self.events else None

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 6),
            "runs": [round(r, 6) for r in self.runs],
            "events": self.events,
            "events_per_s": None if self.events_per_s is None else round(self.events_per_s, 1),
            "us_per_event": None if self.us_per_event is None else round(self.us_per_event, 3),
            "max_rss_kib": self.max_rss_kib,
        }


def replay_command() -> list[str]:
    """The replay command: ``$RANKSTREAM_BENCH_REPLAY_CMD`` (split like a shell would) if
    set, else the ``rankstream`` console script next to this interpreter, else
    ``streams.cli:main`` run by this interpreter."""
    override = os.environ.get("RANKSTREAM_BENCH_REPLAY_CMD")
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "rankstream"
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'rankstream'; from streams.cli import main; sys.exit(main())",
    ]


def run_child(cmd: list[str], stdin_path: Path, stdout_path: Path) -> tuple[float, int, str]:
    """Run ``cmd < stdin_path > stdout_path``; return (wall seconds, peak RSS KiB, stderr)."""
    with open(stdin_path, "rb") as fin, open(stdout_path, "wb") as fout:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE, cwd=REPO)
        assert proc.stderr is not None
        stderr = proc.stderr.read()  # the child's stderr is small; read it before reaping
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
    if proc.returncode != 0:
        text = stderr.decode(errors="replace").strip()
        raise BenchError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{text[-2000:]}")
    return elapsed, int(usage.ru_maxrss), stderr.decode(errors="replace")


def best_of(
    name: str, repeat: int, events: int, fn: Callable[[], tuple[float, int | None]]
) -> Timing:
    runs: list[float] = []
    rss: list[int] = []
    for _ in range(repeat):
        seconds, max_rss = fn()
        runs.append(seconds)
        if max_rss is not None:
            rss.append(max_rss)
    return Timing(name, min(runs), runs, events, max(rss) if rss else None)


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu": None,
        "memory_bytes": None,
    }
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                info["memory_bytes"] = int(line.split()[1]) * 1024
                break
    return info


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    status = git("status", "--porcelain")
    return {"commit": git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


@dataclass
class Inputs:
    events_path: Path
    summary: GenSummary
    gen_seconds: float


def generate_input(cfg: GenConfig, workdir: Path, tag: str) -> Inputs:
    path = workdir / f"events-{tag}.jsonl"
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        summary = write_events(cfg, fh)
    return Inputs(path, summary, time.perf_counter() - t0)


def measure_replay(
    boards: Path, inputs: Inputs, workdir: Path, repeat: int, tag: str
) -> tuple[Timing, dict[str, Any]]:
    now = format_instant(inputs.summary.now_ms)
    out = workdir / f"changes-{tag}.jsonl"
    dlq = workdir / f"dead-{tag}.jsonl"
    cmd = [*replay_command(), "replay", "--boards", str(boards), "--now", now, "--dlq", str(dlq)]

    stderr: list[str] = []

    def once() -> tuple[float, int | None]:
        dlq.unlink(missing_ok=True)
        seconds, rss, err = run_child(cmd, inputs.events_path, out)
        stderr[:] = [err.strip()]
        return seconds, rss

    timing = best_of("replay", repeat, inputs.summary.lines, once)
    output = {
        "now": now,
        "output_records": count_lines(out),
        "output_bytes": out.stat().st_size,
        "dead_letters": count_lines(dlq) if dlq.exists() else 0,
        "stderr": stderr[0][-2000:] if stderr else "",
    }
    return timing, output


def measure_startup(boards: Path, workdir: Path, repeat: int) -> Timing:
    empty = workdir / "empty.jsonl"
    empty.write_bytes(b"")
    cmd = [*replay_command(), "replay", "--boards", str(boards)]

    def once() -> tuple[float, int | None]:
        seconds, rss, _ = run_child(cmd, empty, workdir / "empty-out.jsonl")
        return seconds, rss

    return best_of("replay_startup", repeat, 0, once)


def measure_floor(inputs: Inputs, workdir: Path, repeat: int) -> tuple[Timing, Timing]:
    events = inputs.summary.lines

    def inproc() -> tuple[float, int | None]:
        with open(inputs.events_path, "rb") as fh:
            t0 = time.perf_counter()
            _floor(fh)
            return time.perf_counter() - t0, None

    cmd = [sys.executable, "-c", FLOOR_SOURCE]

    def subproc() -> tuple[float, int | None]:
        seconds, rss, _ = run_child(cmd, inputs.events_path, workdir / "floor-out.txt")
        return seconds, rss

    return (
        best_of("floor_inproc", repeat, events, inproc),
        best_of("floor_subprocess", repeat, events, subproc),
    )


def distinct_users(path: Path) -> int:
    """Users actually present in the input (a Zipf draw of N events from a population of
    U users reaches far fewer than U when N is not much larger than U)."""
    with open(path, "rb") as fh:
        return len({json.loads(line)["user"] for line in fh if line.strip()})


def measure_redis(inputs: Inputs, workdir: Path, repeat: int, port: int) -> dict[str, Any]:
    """``bench.redis_rank`` (leg 4) on the same input, a fresh Redis database per run."""
    cmd = [sys.executable, "-m", "bench.redis_rank", "--port", str(port), "--flush"]
    out = workdir / "changes-redis.jsonl"
    summaries: list[dict[str, Any]] = []

    def once() -> tuple[float, int | None]:
        seconds, rss, err = run_child(cmd, inputs.events_path, out)
        summaries[:] = [json.loads(err.strip().splitlines()[-1])]
        return seconds, rss

    timing = best_of("redis", repeat, inputs.summary.lines, once)
    return {
        **timing.to_json(),
        "output_records": count_lines(out),
        "client_summary": summaries[0] if summaries else None,
        "command": cmd,
    }


@contextlib.contextmanager
def _patched_stdio(stdin_path: Path, stdout_path: Path) -> Iterator[None]:
    saved = sys.stdin, sys.stdout
    with (
        open(stdin_path, "rb") as raw_in,
        open(stdout_path, "wb") as raw_out,
        io.TextIOWrapper(raw_in, encoding="utf-8", errors="surrogateescape") as fin,
        io.TextIOWrapper(raw_out, encoding="utf-8", newline="\n") as fout,
    ):
        sys.stdin, sys.stdout = fin, fout
        try:
            yield
        finally:
            sys.stdin, sys.stdout = saved


def profile_replay(
    boards: Path, inputs: Inputs, workdir: Path, top: int = 25
) -> tuple[str, list[dict[str, Any]]]:
    """Run ``streams.cli.main`` in-process under cProfile; return the report and top rows."""
    from streams import cli  # imported late: the bench must run even before cli exists

    now = format_instant(inputs.summary.now_ms)
    argv = ["rankstream", "replay", "--boards", str(boards), "--now", now]
    argv += ["--dlq", str(workdir / "dead-profile.jsonl")]
    profiler = cProfile.Profile()
    saved_argv = sys.argv
    sys.argv = argv
    code: object = 0
    try:
        with _patched_stdio(inputs.events_path, workdir / "changes-profile.jsonl"):
            profiler.enable()
            try:
                code = cli.main()
            except SystemExit as exc:
                code = exc.code
            finally:
                profiler.disable()
    finally:
        sys.argv = saved_argv
    if code not in (0, None):
        raise BenchError(f"in-process replay exited with {code!r}")
    prof_path = workdir / "replay.prof"
    profiler.dump_stats(str(prof_path))
    report = io.StringIO()
    for key in ("cumulative", "tottime"):
        report.write(f"\n--- top {top} by {key} (stats in {prof_path}) ---\n")
        stats = pstats.Stats(profiler, stream=report)
        stats.strip_dirs().sort_stats(key).print_stats(top)
    rows: list[dict[str, Any]] = []
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
        raw.items(), key=lambda item: item[1][2], reverse=True
    )[:top]:
        rows.append(
            {
                "function": f"{Path(filename).name}:{line}({func})",
                "ncalls": ncalls,
                "tottime": round(tottime, 4),
                "cumtime": round(cumtime, 4),
            }
        )
    return report.getvalue(), rows


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

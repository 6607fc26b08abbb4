"""The engine bench's measures: ``rankstream replay``, its start-up, the ``json.loads`` floor,
the Redis implementation on the same input, and an in-process cProfile of the replay.

Separate from the bench's orchestration (engine_bench.py) so each measure can be read,
and reused, as the one definition of what its number means.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import shlex
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.gen_events import GenConfig, GenSummary, format_instant, write_events
from bench.timing import BenchError, Timing, best_of, count_lines, run_child

__all__ = [
    "FLOOR_SOURCE",
    "Inputs",
    "distinct_users",
    "generate_input",
    "measure_floor",
    "measure_redis",
    "measure_replay",
    "measure_startup",
    "profile_replay",
    "replay_command",
]

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


def replay_command() -> list[str]:
    """The replay command: ``$RANKSTREAM_BENCH_REPLAY_CMD`` (split like a shell would) if
    set, else the ``rankstream`` console script next to this interpreter, else
    ``streams.apps.cli:main`` run by this interpreter."""
    override = os.environ.get("RANKSTREAM_BENCH_REPLAY_CMD")
    if override:
        return shlex.split(override)
    script = Path(sys.executable).parent / "rankstream"
    if script.exists():
        return [str(script)]
    return [
        sys.executable,
        "-c",
        "import sys; sys.argv[0] = 'rankstream'; "
        "from streams.apps.cli import main; sys.exit(main())",
    ]


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
    boards: Path, inputs: Inputs, workdir: Path, repeat: int, tag: str, jobs: int = 1
) -> tuple[Timing, dict[str, Any]]:
    """``rankstream replay --jobs <jobs>`` (1 unless asked: one process, the engine's own
    speed) on ``inputs``; writes ``changes-<tag>.jsonl`` and ``dead-<tag>.jsonl``."""
    now = format_instant(inputs.summary.now_ms)
    out = workdir / f"changes-{tag}.jsonl"
    dlq = workdir / f"dead-{tag}.jsonl"
    cmd = [*replay_command(), "replay", "--boards", str(boards), "--now", now, "--dlq", str(dlq)]
    cmd += ["--jobs", str(jobs)]

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
    cmd = [*replay_command(), "replay", "--boards", str(boards), "--jobs", "1"]

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
    """Run ``streams.apps.cli.main`` in-process under cProfile; return the report and top rows."""
    from streams.apps import cli  # imported late: the bench must run even before cli exists

    now = format_instant(inputs.summary.now_ms)
    argv = ["rankstream", "replay", "--boards", str(boards), "--now", now, "--jobs", "1"]
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

"""The ceilings leg 2 compares the worker with, each a process of its own on fresh topics.

* ``raw``: ``bench.passthrough``, aiokafka consuming and producing the same bytes with the
  worker's topology and batching;
* ``output``: the same, its last hop writing the worker's push and changelog records per
  event through the worker's output code (``--fanout``, ``--changelog-records``);
* ``faust``: ``bench.faust_passthrough``, the worker's two faust agents with no work in them
  (or one agent, ``hops=1``: what faust costs on the scores topic alone).

Each is fed and timed by :func:`bench.e2e_legs.throughput`, exactly as the worker is. On its
own, ``python -m bench.ceilings {raw,faust} [--hops 1|2] [--events N]`` runs one of them.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from bench import harness
from bench.e2e_legs import gen_lines, throughput
from bench.harness import BenchFailure
from bench.stream_job import create_topics, delete_topics_with_prefix, run_id

READY_TIMEOUT_S = 120.0


class Command(NamedTuple):
    argv: list[str]
    group: str  # the consumer group of the last hop ...
    committed_topic: str  # ... and the topic whose committed offsets say an event is done


def _batching(settings: dict[str, Any]) -> list[str]:
    return [
        "--batch",
        str(settings["batch_max_events"]),
        "--batch-ms",
        str(settings["batch_max_ms"]),
        "--linger-ms",
        str(settings["producer_linger_ms"]),
        "--commit-interval",
        str(settings["commit_interval_s"]),
    ]


def _topics(prefix: str) -> list[str]:
    return ["--in", f"{prefix}-in", "--via", f"{prefix}-via", "--out", f"{prefix}-out"]


def raw_command(
    bootstrap: str,
    prefix: str,
    settings: dict[str, Any],
    fanout: int = 1,
    changelog_records: int = 0,
) -> Command:
    """``bench.passthrough``: two raw aiokafka hops."""
    cmd = [sys.executable, "-m", "bench.passthrough", "--bootstrap", bootstrap]
    cmd += [*_topics(prefix), "--group", f"{prefix}-group", *_batching(settings)]
    cmd += ["--fanout", str(fanout)]
    if changelog_records:
        cmd += ["--changelog", f"{prefix}-log", "--changelog-records", str(changelog_records)]
    return Command(cmd, f"{prefix}-group-1", f"{prefix}-via")


def faust_command(
    bootstrap: str, prefix: str, settings: dict[str, Any], partitions: int, hops: int = 2
) -> Command:
    """``bench.faust_passthrough`` (faust's consumer group is its app id)."""
    app_id = f"{prefix}-app"
    topics = _topics(prefix) if hops == 2 else ["--in", f"{prefix}-in", "--out", f"{prefix}-out"]
    cmd = [sys.executable, "-m", "bench.faust_passthrough", "--bootstrap", bootstrap, *topics]
    cmd += ["--app-id", app_id, "--partitions", str(partitions), *_batching(settings)]
    return Command(cmd, app_id, f"{prefix}-via" if hops == 2 else f"{prefix}-in")


def _is_ready(log: str) -> bool:
    """``bench.passthrough`` prints "ready"; faust logs "Worker ready"."""
    return "Worker ready" in log or any(line.strip() == "ready" for line in log.splitlines())


def measure(
    bootstrap: str,
    partitions: int,
    lines: list[bytes],
    prefix: str,
    command: Command,
    timeout: float,
    isolation: str,
) -> dict[str, Any]:
    """Run one ceiling on its own topics (``prefix``-in/via/out/log), deleted afterwards."""
    names = [f"{prefix}-{name}" for name in ("in", "via", "out", "log")]
    asyncio.run(create_topics(bootstrap, names, partitions))
    cmd, group, committed_topic = command
    with tempfile.TemporaryDirectory(prefix="rankstream-ceiling-") as tmp:
        log_path = Path(tmp) / "ceiling.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, cwd=harness.ROOT, stdout=log, stderr=subprocess.STDOUT)

        def alive() -> None:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise BenchFailure(f"{cmd[2]} exited with {proc.returncode}:\n{tail}")

        try:
            _wait(lambda: _is_ready(log_path.read_text(errors="replace")), alive)
            cpu0 = harness.cpu_seconds(proc.pid)
            result = asyncio.run(
                throughput(
                    bootstrap,
                    f"{prefix}-in",
                    f"{prefix}-out",
                    lines,
                    lambda: harness.committed_total(bootstrap, group, [committed_topic]),
                    alive,
                    timeout,
                    isolation,
                )
            )
            cpu = harness.cpu_seconds(proc.pid) - cpu0
            result["cpu_utilisation"] = round(cpu / result["seconds"], 3)  # 1.0: a core busy
            return result
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            asyncio.run(delete_topics_with_prefix(bootstrap, prefix))


def _wait(ready: Callable[[], bool], alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready():
        alive()
        if time.monotonic() > deadline:
            raise BenchFailure(f"not ready after {READY_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ceilings", description=__doc__)
    p.add_argument("kind", choices=["raw", "faust"])
    p.add_argument("--hops", type=int, choices=[1, 2], default=2, help="faust only")
    p.add_argument("--events", type=int, default=60_000)
    p.add_argument("--users", type=int, default=10_000)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument(
        "--bootstrap", default=os.environ.get("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092")
    )
    args = p.parse_args(argv)
    settings = harness.worker_settings("exactly_once", args.partitions)
    now_ms = time.time_ns() // 1_000_000
    start = now_ms - 2 * 3_600_000 - 9 * harness.DAY_MS
    lines = gen_lines(args.events, args.users, 21, now_ms, start, 9 * 24)  # as e2e_bench's
    prefix = run_id("ceiling")
    if args.kind == "raw":
        command = raw_command(args.bootstrap, prefix, settings)
    else:
        command = faust_command(args.bootstrap, prefix, settings, args.partitions, args.hops)
    result = measure(args.bootstrap, args.partitions, lines, prefix, command, 600, "read_committed")
    result.pop("committed_samples")
    print(json.dumps({"kind": args.kind, "hops": args.hops, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

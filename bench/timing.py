"""Best-of-N wall-clock timing for the engine bench, in-process or of a child process.

Children are reaped with ``wait4`` so that a measure's peak RSS is that of its own
process, not of this bench, which holds generated inputs and earlier results.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["REPO", "BenchError", "Timing", "best_of", "count_lines", "run_child"]

REPO = Path(__file__).resolve().parent.parent


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

"""Summarise a py-spy ``--format raw`` profile (collapsed stacks) into the functions that
take the time: own (leaf) share and inclusive share of all samples.

    python -m bench.profile_summary bench/work/worker.pyspy.txt [--top 20]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def summarise(path: Path, top: int = 20) -> dict[str, Any]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = engine = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f.strip() for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
        if any("streams/engine/" in frame for frame in frames):
            engine += count  # samples with the engine anywhere on the stack

    def rows(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "share": round(n / total, 4), "samples": n}
            for name, n in counter.most_common(top)
        ]

    parts: Counter[str] = Counter()
    for frame, n in own.items():
        parts[component(frame)] += n
    return {
        "samples": total,
        "by_component": {name: round(n / total, 4) for name, n in parts.most_common()},
        "engine_inclusive": round(engine / total, 4) if total else 0.0,
        "top_own": rows(own),
        "top_inclusive": rows(inclusive),
    }


#: (component, substrings of a frame's file path as py-spy prints it, relative to
#: site-packages or the repository), first match wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("engine (streams/engine)", ("streams/engine/",)),
    ("state store (streams/state, rocksdict)", ("streams/runtime/state/", "rocksdict")),
    ("our adapters (streams/*)", ("streams/",)),
    ("faust + mode", ("faust/", "mode/")),
    ("aiokafka (I/O, framing)", ("aiokafka/",)),
    ("asyncio loop, sockets", ("asyncio/", "selectors.py", "socket.py", "ssl.py")),
    ("json, pydantic", ("json/", "pydantic")),
)


def component(frame: str) -> str:
    for name, marks in COMPONENTS:
        if any(mark in frame for mark in marks):
            return name
    return "other"


def render(summary: dict[str, Any]) -> str:
    out = [f"{summary['samples']} samples; engine inclusive {summary['engine_inclusive']:.1%}"]
    out += [f"{share:>7.1%}  {name}" for name, share in summary["by_component"].items()]
    for key in ("top_own", "top_inclusive"):
        out.append(f"-- {key} --")
        out += [f"{r['share']:>7.1%}  {r['function']}" for r in summary[key]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile_summary", description=__doc__)
    p.add_argument("path")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)
    print(render(summarise(Path(args.path), args.top)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

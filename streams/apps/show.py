"""Print the boards a push-record JSONL file folds to: ``python -m streams.show FILE``."""

from __future__ import annotations

import json
import sys

from streams.edge.fold import Folded, WindowKey


def render(folded: Folded, limit: int = 10) -> str:
    lines: list[str] = []
    for (board, window), key in sorted(folded.latest().items()):
        lines.append(f"{board} / {window} {_period(key)}")
        for rank, user, score in folded.standings(key)[:limit]:
            lines.append(f"  {rank:>4}  {user:<24} {score:>12}")
    closed = len(folded.closed)
    lines.append(f"({closed} windows closed with final standings)")
    return "\n".join(lines)


def _period(key: WindowKey) -> str:
    return "" if key[2] is None else f"(period {key[2]})"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m streams.show CHANGES.jsonl", file=sys.stderr)
        return 2
    with open(args[0], "rb") as handle:
        folded = Folded().extend(json.loads(line) for line in handle if line.strip())
    print(render(folded))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write (or check) the JSON Schema files published next to the models.

The ``*.schema.json`` files are committed so that producers and consumers can read the
contract without running Python; ``--check`` (and the unit drift test) make sure a model
change cannot ship without its schema.

Usage: ``python -m schemas.export [--check]``
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel

from schemas.dead_letter import DeadLetterReplay, DeadLetterStream
from schemas.push import RankChangeOut, WindowClosedOut
from schemas.query import BoardPageOut, BoardsOut, ErrorOut, UserRankOut, UserRanksOut
from schemas.score_event import ScoreEventIn

SCHEMA_DIR: Final = Path(__file__).resolve().parent
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"

MODELS: Final[dict[str, type[BaseModel]]] = {
    "score_event.schema.json": ScoreEventIn,
    "rank_change.schema.json": RankChangeOut,
    "window_closed.schema.json": WindowClosedOut,
    "dead_letter_replay.schema.json": DeadLetterReplay,
    "dead_letter_stream.schema.json": DeadLetterStream,
    "query_board_page.schema.json": BoardPageOut,
    "query_user_rank.schema.json": UserRankOut,
    "query_user_ranks.schema.json": UserRanksOut,
    "query_boards.schema.json": BoardsOut,
    "query_error.schema.json": ErrorOut,
}


def render(model: type[BaseModel]) -> str:
    """Schema text in a stable form (sorted keys, trailing newline) so diffs are minimal."""
    schema = model.model_json_schema(mode="validation")
    schema["$schema"] = JSON_SCHEMA_DIALECT
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all(directory: Path = SCHEMA_DIR) -> dict[Path, str]:
    """Every schema file and the text it should hold now."""
    return {directory / name: render(model) for name, model in MODELS.items()}


def drifted(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Files that are missing or differ from what the models would export now."""
    stale = []
    for path, text in render_all(directory).items():
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(path)
    return stale


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    """(Re)write every schema file; return the paths written."""
    written = []
    for path, text in render_all(directory).items():
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; exit status 1 on ``--check`` drift so CI can gate on it."""
    parser = argparse.ArgumentParser(
        prog="python -m schemas.export", description="Export rankstream JSON Schemas."
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 listing the files that differ from the models",
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted()
        for path in stale:
            print(f"out of date: {path.name} (run: python -m schemas.export)", file=sys.stderr)
        return 1 if stale else 0
    for path in write_all():
        print(f"wrote {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

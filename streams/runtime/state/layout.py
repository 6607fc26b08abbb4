"""Where the stream job keeps each partition's RocksDB under the data folder.

One place, because the worker, the recovery tests and the state benchmark all need it;
the data folder may be deleted at any time, at the cost of a cold restore
(docs/design/state-layout.md, docs/design/exactly-once.md).
"""

from __future__ import annotations

from pathlib import Path


def partition_path(data_dir: Path, app_id: str, partition: int) -> Path:
    """``<data_dir>/<app_id>-state/p<partition>``: one database per by-board partition."""
    return data_dir / f"{app_id}-state" / f"p{partition}"


def partition_paths(data_dir: Path) -> list[Path]:
    """Every partition database under ``data_dir`` (any app id), sorted."""
    return sorted(p for p in data_dir.glob("*-state/p*") if p.is_dir())

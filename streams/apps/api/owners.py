"""Which worker answers for a board: the owner of the board's partition of the by-board
topic (murmur2 of the board name, like the producer that keyed it), found in faust's
partition assignment (the table's changelog partitions follow the same numbers)."""

from __future__ import annotations

from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from faust.types import TP

#: Set on a forwarded request: the receiver answers itself or fails, never forwards again
#: (two workers with different views of a rebalance would otherwise bounce it).
FORWARDED = "X-Rankstream-Forwarded"
#: On a forwarded answer: the base URL of the worker that answered.
ANSWERED_BY = "X-Rankstream-Answered-By"


class Owners:
    def __init__(self, app: faust.App, by_board: str, changelog: str, partitions: int) -> None:
        self._app = app
        self._by_board = by_board
        self._changelog = changelog
        self._all = list(range(partitions))
        self._partitioner = DefaultPartitioner()

    def partition(self, board: str) -> int:
        return int(self._partitioner(board.encode(), self._all, self._all))

    def owns(self, partition: int) -> bool:
        actives = self._app.assignor.assigned_actives()
        return TP(self._by_board, partition) in actives

    def own_url(self) -> str:
        return str(self._app.conf.canonical_url).rstrip("/")

    def owner_url(self, partition: int) -> str | None:
        """Base URL of the worker owning the partition, None when nobody does (yet)."""
        metadata: Any = self._app.router.table_metadata(self._table_name())
        for url, topics in metadata.items():
            if partition in topics.get(self._changelog, ()):
                return str(url).rstrip("/")
        return None

    def peers(self) -> list[str]:
        """Base URLs of the other workers of the group."""
        own = self.own_url()
        urls = {str(url).rstrip("/") for url in self._app.router.tables_metadata()}
        return sorted(url for url in urls if url != own)

    def _table_name(self) -> str:
        for name, table in self._app.tables.items():
            if table.changelog_topic.get_topic_name() == self._changelog:
                return str(name)
        raise KeyError(self._changelog)

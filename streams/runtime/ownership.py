"""Which worker answers for a board, from faust's partition assignment: the query API's
view of the group (the :class:`streams.apps.api.cluster.Cluster` interface).

Invariants:

* A board belongs to the partition its events are keyed to on the by-board topic
  (murmur2 of the board name over all partitions, as the intake's producer keys it).
* This worker answers for a board only when it owns the partition (faust's active
  assignment) and everything it was assigned is restored: faust's table recovery is over
  and the ranker restored every partition. Never earlier: an engine caches board metadata
  when it is created, and one built from a half-restored database would hand the agent
  stale watermarks.
* The owner's address comes from the routing table's changelog distribution, whose
  partition p goes with by-board partition p (:data:`~streams.runtime.faust_app.ROUTING_TABLE`).
"""

from __future__ import annotations

from typing import Any

import faust
from aiokafka.partitioner import DefaultPartitioner  # type: ignore[import-untyped]
from faust.types import TP

from streams.engine.core import Engine
from streams.runtime.faust_app import ROUTING_TABLE
from streams.runtime.ranker import Ranker


class FaustCluster:
    """The cluster as one faust worker sees it, with its ranker's engines."""

    def __init__(self, app: faust.App, ranker: Ranker, by_board: str, partitions: int) -> None:
        self._app = app
        self._ranker = ranker
        self._by_board = by_board
        self._all = list(range(partitions))
        self._partitioner = DefaultPartitioner()

    def _partition(self, board: str) -> int:
        return int(self._partitioner(board.encode(), self._all, self._all))

    def _owns(self, partition: int) -> bool:
        return TP(self._by_board, partition) in self._app.assignor.assigned_actives()

    def ready(self) -> bool:
        recovery = self._app.tables.recovery  # type: ignore[attr-defined]
        faust_ready = recovery.completed.is_set() and not recovery.in_recovery
        return bool(faust_ready and self._ranker.ready())

    def owns(self, board: str) -> bool:
        return self._owns(self._partition(board))

    def engine(self, board: str) -> Engine | None:
        partition = self._partition(board)
        if not self.ready() or not self._owns(partition):
            return None
        return self._ranker.engine_for(partition)

    def engines(self) -> list[Engine]:
        if not self.ready():
            return []
        found = (self._ranker.engine_for(p) for p in self._all if self._owns(p))
        return [engine for engine in found if engine is not None]

    def own_url(self) -> str:
        return str(self._app.conf.canonical_url).rstrip("/")

    def owner_url(self, board: str) -> str | None:
        partition = self._partition(board)
        table = self._app.tables[ROUTING_TABLE]
        changelog = table.changelog_topic.get_topic_name()
        metadata: Any = self._app.router.table_metadata(ROUTING_TABLE)
        for url, topics in metadata.items():
            if partition in topics.get(changelog, ()):
                return str(url).rstrip("/")
        return None

    def peers(self) -> list[str]:
        own = self.own_url()
        urls = {str(url).rstrip("/") for url in self._app.router.tables_metadata()}
        return sorted(url for url in urls if url != own)

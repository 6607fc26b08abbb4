"""What the query API asks of the worker it runs in: the narrow interface between the
HTTP handlers and the stream job (implemented on faust by
:class:`streams.runtime.ownership.FaustCluster`, by fakes in the tests).

The handlers think in boards: a board has one owner in the group at a time; the owner
answers from its engine, any other worker forwards to the owner's base URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from streams.engine.core import Engine
from streams.runtime.ranker import Counts


class Cluster(Protocol):
    def ready(self) -> bool:
        """This worker has restored everything it was assigned (``/healthz`` is 200)."""
        ...

    def owns(self, board: str) -> bool:
        """This worker owns the board's partition (it answers, or says it is busy)."""
        ...

    def engine(self, board: str) -> Engine | None:
        """The engine holding the board, when this worker owns it and is ready."""
        ...

    def engines(self) -> list[Engine]:
        """The engines of every partition this worker owns (none until it is ready)."""
        ...

    def own_url(self) -> str:
        """This worker's base URL (no trailing slash)."""
        ...

    def owner_url(self, board: str) -> str | None:
        """Base URL of the worker owning the board, None while nobody does."""
        ...

    def peers(self) -> list[str]:
        """Base URLs of the other workers of the group."""
        ...


class Stats(Protocol):
    """The counters ``/metrics`` reads (the ranker's)."""

    @property
    def counts(self) -> Counts: ...

    def rocksdb_memory(self) -> Mapping[str, int]: ...

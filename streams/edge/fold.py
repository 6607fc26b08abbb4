"""Fold a push-topic stream back into standings (contract section 3).

This is what a downstream consumer does with the stream, so the same code serves the
terminal view of ``make run``, the integration tests and anyone checking the guarantee that
folding the changes rebuilds each window's top-K.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

WindowKey = tuple[str, str, str | None]  # board, window, period


class Folded:
    def __init__(self) -> None:
        self.tops: dict[WindowKey, dict[str, tuple[int, int]]] = {}
        self.closed: dict[WindowKey, list[tuple[int, str, int]]] = {}

    def apply(self, record: Mapping[str, Any]) -> None:
        key = (record["board"], record["window"], record["period"])
        if record["type"] == "window_closed":
            self.closed[key] = [(s["rank"], s["user"], s["score"]) for s in record["standings"]]
            return
        top = self.tops.setdefault(key, {})
        if record["new_rank"] is None:
            top.pop(record["user"], None)
        else:
            top[record["user"]] = (record["new_rank"], record["score"])

    def extend(self, records: Iterable[Mapping[str, Any]]) -> Folded:
        for record in records:
            self.apply(record)
        return self

    def standings(self, key: WindowKey) -> list[tuple[int, str, int]]:
        """(rank, user, score) of a window's top-K, best first."""
        top = self.tops.get(key, {})
        return sorted((rank, user, score) for user, (rank, score) in top.items())

    def latest(self) -> dict[tuple[str, str], WindowKey]:
        """The newest period of each (board, window) seen so far."""
        newest: dict[tuple[str, str], WindowKey] = {}
        for key in self.tops:
            board, window, period = key
            current = newest.get((board, window))
            if current is None or (period or "") > (current[2] or ""):
                newest[(board, window)] = key
        return newest

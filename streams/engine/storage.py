"""The engine's whole view of state: a byte-keyed store split into named spaces.

The shape is chosen so that a RocksDB column family or key prefix implements it directly:
point reads and writes, an ordered scan within one space (the rank index), and dropping a
whole space (retention). Values stay small - one user in one window, one board's watermark -
so the stream job can keep every value in RocksDB and changelog it per key.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterator
from typing import Protocol


class Store(Protocol):
    """Ordered key-value state. Keys within a space compare bytewise."""

    def get(self, space: bytes, key: bytes) -> bytes | None: ...

    def put(self, space: bytes, key: bytes, value: bytes) -> None: ...

    def delete(self, space: bytes, key: bytes) -> None: ...

    def scan(self, space: bytes, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Items of ``space`` with key > ``after``, ascending.

        Callers take what they need and stop; they must not write to the space while the
        iterator is alive.
        """
        ...

    def drop(self, space: bytes) -> None: ...


class MemoryStore:
    """In-process store for replay and tests.

    A sorted key list is built for a space only when it is first scanned and kept up to date
    afterwards, so spaces that are only read by key (user states, dedup) pay nothing for
    ordering.
    """

    def __init__(self) -> None:
        self._data: dict[bytes, dict[bytes, bytes]] = {}
        self._sorted: dict[bytes, list[bytes]] = {}

    def get(self, space: bytes, key: bytes) -> bytes | None:
        items = self._data.get(space)
        return None if items is None else items.get(key)

    def put(self, space: bytes, key: bytes, value: bytes) -> None:
        items = self._data.get(space)
        if items is None:
            items = self._data[space] = {}
        if key not in items:
            ordered = self._sorted.get(space)
            if ordered is not None:
                insort(ordered, key)
        items[key] = value

    def delete(self, space: bytes, key: bytes) -> None:
        items = self._data.get(space)
        if items is None or items.pop(key, None) is None:
            return
        ordered = self._sorted.get(space)
        if ordered is not None:
            index = bisect_right(ordered, key) - 1
            del ordered[index]

    def scan(self, space: bytes, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        items = self._data.get(space)
        if not items:
            return
        ordered = self._sorted.get(space)
        if ordered is None:
            ordered = self._sorted[space] = sorted(items)
        start = 0 if after is None else bisect_right(ordered, after)
        for index in range(start, len(ordered)):
            key = ordered[index]
            yield key, items[key]

    def drop(self, space: bytes) -> None:
        self._data.pop(space, None)
        self._sorted.pop(space, None)

    def footprint(self, space: bytes) -> tuple[int, int]:
        """(keys, bytes of keys and values) of a space, without ordering it (benches)."""
        items = self._data.get(space) or {}
        return len(items), sum(len(k) + len(v) for k, v in items.items())

    def spaces(self) -> list[bytes]:
        """Non-empty spaces, for tests that check what retention left behind."""
        return sorted(space for space, items in self._data.items() if items)

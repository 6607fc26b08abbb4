"""The engine's whole view of state: a byte-keyed store split into named spaces.

The shape is chosen so that a RocksDB column family or key prefix implements it directly:
point reads and writes, an ordered scan within one space (the rank index), and dropping a
whole space (retention). Values stay small - one user in one window, one board's watermark -
so the stream job can keep every value in RocksDB and changelog it per key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from streams.engine import _core


class Store(Protocol):
    """Ordered key-value state. Keys within a space compare bytewise."""

    def get(self, space: bytes, key: bytes) -> bytes | None: ...

    def put(self, space: bytes, key: bytes, value: bytes) -> None: ...

    def delete(self, space: bytes, key: bytes) -> None: ...

    def scan(self, space: bytes, after: bytes | None = None) -> Iterable[tuple[bytes, bytes]]:
        """Items of ``space`` with key > ``after``, ascending.

        Callers take what they need and stop; they must not write to the space while the
        iterator is alive.
        """
        ...

    def drop(self, space: bytes) -> None: ...


MemoryStore = _core.MemoryStore
"""In-process store for replay and tests (compiled: one ordered map per space). Its ``scan``
returns a list; ``footprint(space)`` gives (keys, bytes) and ``spaces()`` the non-empty
spaces, for benches and tests. An engine over a ``MemoryStore`` reaches it without Python
calls; over any other ``Store`` (the stream job's RocksDB) it calls its methods."""

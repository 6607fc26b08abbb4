"""Which Kafka offsets the outbound path may commit (pure).

A record's offset may be committed only when it and every record before it in its
partition were confirmed by RabbitMQ (or skipped). Confirmations come back out of order
(publisher confirms with ``multiple``, skipped records confirm at once), so per partition
this keeps the offsets in the order they were read and lets the committable position
advance over the confirmed prefix only.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

__all__ = ["CommitTracker"]

P = TypeVar("P", bound=Hashable)


class _Partition:
    __slots__ = ("confirmed", "last", "pending")

    def __init__(self) -> None:
        self.pending: deque[int] = deque()
        self.confirmed: set[int] = set()
        self.last = -1


class CommitTracker(Generic[P]):
    """Offsets published but not yet confirmed, per partition, and what to commit."""

    def __init__(self) -> None:
        self._parts: dict[P, _Partition] = {}
        self._committed: dict[P, int] = {}
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        """Records added and not yet confirmed, over all partitions."""
        return self._in_flight

    def add(self, partition: P, offset: int) -> None:
        """A record was read (offsets of one partition must increase)."""
        part = self._parts.setdefault(partition, _Partition())
        if offset <= part.last:
            raise ValueError(f"offset {offset} after {part.last} in {partition!r}")
        part.last = offset
        part.pending.append(offset)
        self._in_flight += 1

    def confirm(self, partition: P, offset: int) -> None:
        """RabbitMQ confirmed the record (or it needs no publishing)."""
        part = self._parts.get(partition)
        if part is None or offset > part.last or offset in part.confirmed:
            raise ValueError(f"offset {offset} of {partition!r} is not in flight")
        if not part.pending or offset < part.pending[0]:
            raise ValueError(f"offset {offset} of {partition!r} is not in flight")
        part.confirmed.add(offset)
        self._in_flight -= 1
        while part.pending and part.pending[0] in part.confirmed:
            part.confirmed.discard(part.pending.popleft())

    def committable(self) -> dict[P, int]:
        """Per partition, the next offset to read (Kafka's commit convention), for the
        partitions whose committable position moved since :meth:`mark_committed`."""
        out: dict[P, int] = {}
        for partition, part in self._parts.items():
            position = part.pending[0] if part.pending else part.last + 1
            if position != self._committed.get(partition):
                out[partition] = position
        return out

    def mark_committed(self, offsets: dict[P, int]) -> None:
        self._committed.update(offsets)

    def in_flight_of(self, partitions: Iterable[P]) -> int:
        return sum(len(self._parts[p].pending) for p in partitions if p in self._parts)

    def forget(self, partitions: Iterable[P]) -> None:
        """Drop partitions this reader no longer owns (after a rebalance)."""
        for partition in partitions:
            part = self._parts.pop(partition, None)
            if part is not None:
                self._in_flight -= len(part.pending)
            self._committed.pop(partition, None)

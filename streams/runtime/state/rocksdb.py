"""The engine's :class:`~streams.engine.storage.Store` on one RocksDB (via rocksdict), with
write-back batching so that the stream job does one RocksDB write and sends one changelog
record per changed key per batch, however many events touched the key. Design record (the
spaces, the byte layouts, what bounds RAM): docs/design/state-layout.md.

Key layout
----------
All spaces share one key space (one RocksDB per Kafka partition, no column families).
The physical key is ``space + b"\\x01" + key``:

* A space's keys are exactly the physical keys that start with ``space + b"\\x01"``; all
  strings with one prefix form one contiguous range in bytewise order, here
  ``[space + b"\\x01", space + b"\\x02")``. A point read, an ordered scan (seek to the lower
  end, stop at the upper end) and a range delete (:meth:`RocksStore.drop`) work on it
  directly. Within the range RocksDB's bytewise order of physical keys is the bytewise
  order of the keys, which is the order :meth:`~streams.engine.storage.Store.scan` promises.
* Space names never contain ``\\x01`` (they are ASCII tags, board names matching
  ``[A-Za-z0-9._-]``, window kinds and ISO dates joined with ``\\x00``), so the first
  ``\\x01`` of a physical key is always the separator and no two (space, key) pairs map to
  the same physical key. That is the one property the layout relies on, and it is checked
  (``ValueError``): with a ``\\x01`` in a space, space ``b"a"`` key ``b"b\\x01c"`` and space
  ``b"a\\x01b"`` key ``b"c"`` would collide. Keys may hold any bytes, ``\\x01`` included.
* Spaces that are byte prefixes of each other stay apart: ``b"D\\x00a"`` owns
  ``[b"D\\x00a\\x01", b"D\\x00a\\x02")`` while every key of ``b"D\\x00ab"`` starts with
  ``b"D\\x00ab"`` and ``b"b" > b"\\x02"``. A longer space that continues with ``\\x00``
  (``b"U\\x00x\\x00all\\x00"`` after ``b"U\\x00x\\x00all"``) sorts below ``\\x01`` and so
  before the range, never inside it. Because ``\\x01`` is below every byte a board, kind
  or period can contain, a space's range also sits directly after its own name, before
  any longer space name that extends it with a printable character.

Write-back batching
-------------------
Writes and deletes go to an in-RAM overlay (per space: key -> value, ``None`` for a
delete); reads and scans see the overlay first and merge it with the disk in key order
(the engine seeks in a rank index right after writing it). :meth:`RocksStore.flush`
writes the overlay in ONE ``WriteBatch`` and returns the ``(physical key, value or
None)`` changes, each key once with its final value, for the changelog topic. The overlay
is bounded by what the caller does between flushes; nothing else held in RAM grows with
users (RocksDB's index and filter blocks are charged to the bounded block cache, see
:class:`RocksTuning`).

Dropping a space marks it dropped in the overlay (O(overlay keys of that space), no disk
read). At :meth:`~RocksStore.flush` its on-disk keys are listed once - every one needs a
changelog tombstone - and removed with a single range delete in the same batch, before
the puts that came after the drop. That flush's change list is therefore as long as the
dropped window (one entry per user): the one place where a flush's RAM follows users.
"""

from __future__ import annotations

import os
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from rocksdict import Rdict, ReadOptions, WriteBatch

from streams.runtime.state.tuning import RocksTuning, rocksdb_options

__all__ = ["OFFSET_KEY", "RocksStore", "split_key"]

SEP: Final = b"\x01"
_END: Final = b"\x02"  # SEP + 1: the exclusive upper end of a space's range
#: Where the changelog position is kept: no ``\x01``, and no space name starts with NUL.
OFFSET_KEY: Final = b"\x00rankstream\x00changelog-offset"


def split_key(physical: bytes) -> tuple[bytes, bytes]:
    """(space, key) of a physical key returned by :meth:`RocksStore.flush`."""
    space, _, key = physical.partition(SEP)
    return space, key


def _prefix(space: bytes) -> bytes:
    if SEP in space:
        raise ValueError(f"store space names must not contain \\x01: {space!r}")
    return space + SEP


class _Overlay:
    """Unflushed changes of one space."""

    __slots__ = ("dropped", "order", "prefix", "values")

    def __init__(self, space: bytes) -> None:
        self.prefix = _prefix(space)
        self.values: dict[bytes, bytes | None] = {}  # None: deleted
        self.order: list[bytes] | None = None  # sorted keys of values, once scanned
        self.dropped = False  # the space's on-disk keys are all deleted


class RocksStore:
    """:class:`~streams.engine.storage.Store` on one raw-mode ``rocksdict.Rdict`` with a
    write-back overlay; see the module docstring.

    ``db`` is an open raw-mode ``Rdict`` (left open by :meth:`close`, its owner closes it)
    or a directory path, opened with :func:`rocksdb_options` of ``tuning`` and closed by
    :meth:`close`. Not thread-safe; one store per partition and task.
    """

    def __init__(
        self, db: Rdict | str | os.PathLike[str], tuning: RocksTuning | None = None
    ) -> None:
        if isinstance(db, Rdict):
            self._db = db
            self._owned = False
        else:
            self._db = Rdict(os.fspath(db), rocksdb_options(tuning))
            self._owned = True
        self._overlay: dict[bytes, _Overlay] = {}

    @property
    def db(self) -> Rdict:
        return self._db

    # -- the Store protocol ------------------------------------------------------------

    def get(self, space: bytes, key: bytes) -> bytes | None:
        overlay = self._overlay.get(space)
        if overlay is not None:
            values = overlay.values
            if key in values:
                return values[key]
            if overlay.dropped:
                return None
            physical = overlay.prefix + key
        else:
            physical = _prefix(space) + key
        return self._db.get(physical)

    def put(self, space: bytes, key: bytes, value: bytes) -> None:
        self._pend(space, key, value)

    def delete(self, space: bytes, key: bytes) -> None:
        self._pend(space, key, None)

    def _pend(self, space: bytes, key: bytes, value: bytes | None) -> None:
        """Record a write (None: delete) in the space's overlay until the next flush."""
        overlay = self._overlay.get(space)
        if overlay is None:
            overlay = self._overlay[space] = _Overlay(space)
        values = overlay.values
        if overlay.order is not None and key not in values:
            insort(overlay.order, key)
        values[key] = value

    def scan(self, space: bytes, after: bytes | None = None) -> Iterator[tuple[bytes, bytes]]:
        """Items of ``space`` with key > ``after``, ascending: the overlay merged with the
        disk. The disk side is a RocksDB iterator (an implicit snapshot taken at the first
        ``next()``); like every Store scan it must not outlive writes to the space."""
        overlay = self._overlay.get(space)
        if overlay is None:
            return self._scan_disk(_prefix(space), after)
        if overlay.order is None:
            overlay.order = sorted(overlay.values)
        return self._scan_merged(overlay, after)

    def drop(self, space: bytes) -> None:
        overlay = self._overlay.get(space)
        if overlay is None:
            overlay = self._overlay[space] = _Overlay(space)
        overlay.dropped = True
        values = overlay.values
        for key in values:
            values[key] = None

    # -- batching ----------------------------------------------------------------------

    def flush(self) -> list[tuple[bytes, bytes | None]]:
        """Write every unflushed change in one RocksDB write batch and return them as
        ``(physical key, value or None)``, each changed key once with its final value
        (``None``: delete; the changelog's tombstone). Dropped spaces contribute a
        tombstone for each key they held on disk. Nothing is written for an empty batch."""
        changes, commit = self.stage()
        commit(None)
        return changes

    def stage(self) -> tuple[list[tuple[bytes, bytes | None]], Callable[[int | None], None]]:
        """The changes :meth:`flush` would write, and a function that writes them.

        The stream job sends the changes to the changelog and waits for the broker before
        it writes RocksDB, so the changelog (what a cold restart rebuilds from) is never
        behind the local database. Nothing may be written to the store in between. The
        commit function takes the changelog offset of the last change (or None) and saves
        it in the same write batch, so a warm restart replays the changelog from there.
        """
        if not self._overlay:

            def nothing(offset: int | None) -> None:
                if offset is not None:
                    self._db.put(OFFSET_KEY, str(offset).encode())

            return [], nothing
        changes: list[tuple[bytes, bytes | None]] = []
        batch = WriteBatch(raw_mode=True)
        for overlay in self._overlay.values():
            prefix, values = overlay.prefix, overlay.values
            if overlay.dropped:
                end = prefix[:-1] + _END
                cut = len(prefix)
                for physical, _ in self._disk_items(prefix, end):
                    if physical[cut:] not in values:
                        changes.append((physical, None))
                batch.delete_range(prefix, end)  # first: later puts in the batch survive it
                for key, value in values.items():
                    physical = prefix + key
                    if value is not None:
                        batch.put(physical, value)
                    changes.append((physical, value))
            else:
                for key, value in values.items():
                    physical = prefix + key
                    if value is None:
                        batch.delete(physical)
                    else:
                        batch.put(physical, value)
                    changes.append((physical, value))

        def commit(offset: int | None = None) -> None:
            if offset is not None:
                batch.put(OFFSET_KEY, str(offset).encode())
            self._db.write(batch)
            self._overlay.clear()

        return changes, commit

    # -- the changelog position ----------------------------------------------------------

    @property
    def changelog_offset(self) -> int | None:
        """Offset of the last changelog record this database reflects (None: none yet)."""
        raw = self._db.get(OFFSET_KEY)
        return None if raw is None else int(raw)

    def apply_changelog(self, items: Iterable[tuple[bytes, bytes | None]], offset: int) -> None:
        """Write changelog records (physical key, value or None) read back from Kafka, and
        their position, in one write batch; the overlay must be empty (a restore runs
        before the partition's engine exists)."""
        if self._overlay:
            raise RuntimeError("apply_changelog with unflushed changes")
        batch = WriteBatch(raw_mode=True)
        for physical, value in items:
            if value is None:
                batch.delete(physical)
            else:
                batch.put(physical, value)
        batch.put(OFFSET_KEY, str(offset).encode())
        self._db.write(batch)

    def discard(self) -> None:
        """Forget unflushed changes (e.g. on a rebalance, when their input offsets will
        be consumed again)."""
        self._overlay.clear()

    @property
    def pending(self) -> int:
        """Number of keys with unflushed changes (dropped spaces' disk keys not counted)."""
        return sum(len(overlay.values) for overlay in self._overlay.values())

    def close(self) -> None:
        """Discard unflushed changes (call :meth:`flush` first to keep them) and close the
        database if this store opened it. Scans still suspended keep rocksdict's database
        open (and its directory locked) until they are closed or collected."""
        self._overlay.clear()
        if self._owned:
            self._db.close()

    # -- internals ---------------------------------------------------------------------

    def _disk_items(self, start: bytes, end: bytes, cut: int = 0) -> Iterator[tuple[bytes, bytes]]:
        """(physical key[cut:], value) on disk with start <= physical key < end."""
        options = ReadOptions()
        options.set_iterate_upper_bound(end)  # RocksDB stops at the range end by itself
        it = self._db.iter(options)
        it.seek(start)
        while it.valid():
            yield it.key()[cut:], it.value()
            it.next()

    def _scan_disk(self, prefix: bytes, after: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        # after + b"\x00" is the smallest byte string greater than ``after``.
        start = prefix if after is None else prefix + after + b"\x00"
        return self._disk_items(start, prefix[:-1] + _END, len(prefix))

    def _scan_merged(self, overlay: _Overlay, after: bytes | None) -> Iterator[tuple[bytes, bytes]]:
        order = overlay.order
        assert order is not None
        values = overlay.values
        index = 0 if after is None else bisect_right(order, after)
        count = len(order)
        if overlay.dropped:
            for key in order[index:]:
                value = values[key]
                if value is not None:
                    yield key, value
            return
        disk = self._scan_disk(overlay.prefix, after)
        item = next(disk, None)
        while index < count:
            key = order[index]
            while item is not None and item[0] < key:
                yield item
                item = next(disk, None)
            if item is not None and item[0] == key:
                item = next(disk, None)  # the overlay shadows the disk
            value = values[key]
            if value is not None:
                yield key, value
            index += 1
        while item is not None:
            yield item
            item = next(disk, None)

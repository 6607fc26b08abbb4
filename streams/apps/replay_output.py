"""How `rankstream replay --jobs N` gets its workers' answers into stdout and ``--dlq`` in
line order: through the parent, or written by the workers themselves.

A worker answers each chunk with, per line that produced something, where the answer goes
(stdout or ``--dlq``) and its bytes, packed (:class:`Packer`: one pickle of four bytes
objects rather than a tuple per line). The parent merges the workers' answers by line
number. Then either

* **through the parent** (:func:`write_through`): the bytes came with the answers and the
  parent writes them, or
* **positional** (:class:`Positions`): when stdout and ``--dlq`` are regular files (not in
  append mode) and the workers were forked (they share the file descriptors), a worker
  sends only the lengths and keeps the bytes; the parent turns the merged lengths into file
  offsets and sends each worker its offsets, and the worker writes with ``os.pwrite``.

Both give the same bytes at the same places; positional spares the parent reading and
writing every output byte, which on two cores was most of what kept ``--jobs 2`` from
running twice as fast as ``--jobs 1`` (bench/README.md, 2026-12-06).
"""

from __future__ import annotations

import fcntl
import heapq
import io
import os
import stat
from array import array
from collections.abc import Sequence
from itertools import count, repeat
from typing import BinaryIO

from streams.engine._core import merge_offsets

RECORDS, DEAD = 0, 1  # where a line's answer goes: stdout or --dlq

#: A worker's answers for one chunk: the line numbers (array "q"), where each line's answer
#: goes (one byte per line), the end offset of each answer in the blob (array "q"), the blob
#: (empty when the worker keeps it for :meth:`Positions.offsets`).
Packed = tuple[bytes, bytes, bytes, bytes]


class Packer:
    """Collects one chunk's answers of a worker, in line order."""

    def __init__(self) -> None:
        self.numbers = array("q")
        self.wheres = bytearray()
        self.ends = array("q")
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, number: int, where: int, payload: bytes) -> None:
        self.numbers.append(number)
        self.wheres.append(where)
        self.size += len(payload)
        self.ends.append(self.size)
        self.parts.append(payload)

    def packed(self, keep: bool) -> tuple[Packed, Kept | None]:
        """The answers to send, and (``keep``: positional) what the worker keeps to write
        once it gets its offsets."""
        blob = b"".join(self.parts)
        wheres, ends = bytes(self.wheres), self.ends.tobytes()
        if keep:
            return (self.numbers.tobytes(), wheres, ends, b""), Kept(wheres, self.ends, blob)
        return (self.numbers.tobytes(), wheres, ends, blob), None


class Kept:
    """A worker's answers of one chunk waiting for their file offsets."""

    __slots__ = ("blob", "ends", "wheres")

    def __init__(self, wheres: bytes, ends: array[int], blob: bytes) -> None:
        self.wheres, self.ends, self.blob = wheres, ends, blob

    def write(self, offsets: bytes, fds: tuple[int, int | None]) -> None:
        """Write answer ``i`` at ``offsets[i]`` of stdout or --dlq; runs of answers that
        are adjacent in both the blob and the file go out in one call."""
        at = _longs(offsets)
        wheres, ends, blob = self.wheres, self.ends, memoryview(self.blob)
        n, i = len(at), 0
        while i < n:
            j, start = i + 1, ends[i - 1] if i else 0
            while j < n and wheres[j] == wheres[i] and at[j] == at[i] + ends[j - 1] - start:
                j += 1
            fd = fds[wheres[i]]
            if fd is not None:
                _pwrite_all(fd, blob[start : ends[j - 1]], at[i])
            i = j


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        done = os.pwrite(fd, data, offset)
        data, offset = data[done:], offset + done


class Positions:
    """The parent's side of positional output: the next free offset of stdout and --dlq."""

    def __init__(self, sink: BinaryIO, dead_letters: BinaryIO | None) -> None:
        self._sink, self._dead = sink, dead_letters
        self.fds = (sink.fileno(), None if dead_letters is None else dead_letters.fileno())
        self._at = [sink.tell(), 0 if dead_letters is None else dead_letters.tell()]

    @staticmethod
    def possible(sink: BinaryIO, dead_letters: BinaryIO | None) -> bool:
        """Whether both streams are regular files the workers may write at offsets (flushed
        here, so that their buffered bytes come first)."""
        return all(_positional(s) for s in (sink, dead_letters) if s is not None)

    def offsets(self, answers: Sequence[Packed]) -> list[bytes]:
        """Each worker's file offsets (array "q") for its answers of one chunk: the answers
        laid out in line order, from the cursors on (compiled: rust/src/replay_io.rs)."""
        triples = [(numbers, wheres, ends) for numbers, wheres, ends, _blob in answers]
        out, (records, dead) = merge_offsets(triples, (self._at[RECORDS], self._at[DEAD]))
        self._at = [records, dead]
        return out

    def finish(self) -> None:
        """Put both streams' positions after what the workers wrote, for what follows."""
        self._sink.seek(self._at[RECORDS])
        if self._dead is not None:
            self._dead.seek(self._at[DEAD])


def write_through(answers: Sequence[Packed], sink: BinaryIO, dead_letters: BinaryIO | None) -> None:
    """Write one chunk's answers, which came with their bytes, in line order."""
    blobs = [memoryview(blob) for *_rest, blob in answers]
    ends = [[0, *_longs(packed[2])] for packed in answers]
    out: list[memoryview] = []
    dead: list[memoryview] = []
    for w, i, where, _size in _merged(answers):
        (out if where == RECORDS else dead).append(blobs[w][ends[w][i] : ends[w][i + 1]])
    sink.write(b"".join(out))
    if dead_letters is not None and dead:
        dead_letters.write(b"".join(dead))


def _merged(answers: Sequence[Packed]) -> list[tuple[int, int, int, int]]:
    """(worker, answer index, where, size) of every answer of a chunk, in line order."""
    lines = []
    for w, (numbers, wheres, ends, _blob) in enumerate(answers):
        sizes = _sizes(ends)
        lines.append(zip(_longs(numbers), repeat(w), count(), wheres, sizes, strict=False))
    return [(w, i, where, size) for _n, w, i, where, size in heapq.merge(*lines)]


def _sizes(ends: bytes) -> list[int]:
    bounds = _longs(ends)
    return [end - start for start, end in zip([0, *bounds], bounds, strict=False)]


def _longs(raw: bytes) -> list[int]:
    values = array("q")
    values.frombytes(raw)
    return values.tolist()


def _positional(stream: BinaryIO) -> bool:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False
    if not stat.S_ISREG(os.fstat(fd).st_mode) or fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND:
        return False
    stream.flush()
    return True

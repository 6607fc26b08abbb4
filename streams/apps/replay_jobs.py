"""`rankstream replay --jobs N`: the boards split over N processes, the bytes of ``--jobs 1``.

Boards are independent (own watermark, windows and dedup set, contract section 2), so a
board's events can be replayed by any one process as long as that process sees all of
them in file order. This process reads the input in chunks of lines and routes each line
to the worker that owns its board (:func:`board_of`); the workers validate (the same
:func:`~streams.edge.validation.decode_event` as ``--jobs 1``), run their own engine and return,
per line that produced something, the rendered records or the rendered dead letter.
Chunks come back in order and their lines are merged by line number, so stdout and
``--dlq`` hold exactly what ``--jobs 1`` writes, in the same order. An invalid line
touches no state, so it may be validated by any worker; only a valid event must reach
its board's owner, which :func:`board_of` guarantees (and the worker checks).

A board gets its owner when it first appears: the boards new in a chunk, busiest first,
each go to the worker with the least work so far (boards' traffic is usually skewed; a
hash split of ten boards put 77 % of a bench file on one of two workers). Memory stays
bounded by ``DEPTH`` chunks in flight, whatever the input's size. Workers are forked (no
re-import) where the platform allows; queues carry plain tuples and bytes.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import queue
import re
import traceback
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from itertools import count, repeat
from multiprocessing.process import BaseProcess
from typing import Any, BinaryIO

from schemas.timefmt import wall_clock_ms
from streams.apps.replay import ReplayStats, render
from streams.edge.refusals import refusal
from streams.edge.validation import Rejection, dead_letter_for_line, decode_event
from streams.engine.config import BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import dumps
from streams.engine.storage import MemoryStore

#: Lines read and dispatched at a time, and chunks in flight before the oldest is written.
CHUNK_LINES = 4096
DEPTH = 4
_BLOCK = 1 << 20  # bytes read at a time
_RECORDS, _DEAD = 0, 1  # where a line's answer goes: stdout or --dlq

#: A worker's answers for one chunk, packed for the queue (one pickle of four bytes objects
#: instead of a tuple per line): the line numbers (array "q"), where each line's answer goes
#: (one byte per line), the end offset of each answer in the blob (array "q"), the blob.
Packed = tuple[bytes, bytes, bytes, bytes]
#: (boards newly owned by the worker, its lines of the chunk as (line number, body))
Share = tuple[list[bytes], list[tuple[int, bytes]]]

_BOARD_TOKEN = b'"board"'
_BOARD_VALUE = re.compile(rb'"board"[ \t\r\n]*:[ \t\r\n]*"([^"]*)"')


class ReplayWorkerError(RuntimeError):
    """A worker process failed; the replay's output is incomplete."""


def board_of(body: bytes) -> bytes | None:
    """The board to route a line by: for a valid event exactly its board (UTF-8), for an
    invalid line anything (None: no board found; it touches no state anyway).

    The fast path reads the bytes: in a valid event without a backslash every string
    token is written literally, so when ``"board"`` occurs exactly once it is the
    top-level key, and the string after the colon is the board. Anything else (escapes,
    two ``"board"`` tokens, a nested object that has one) is decoded in full.
    """
    at = body.find(_BOARD_TOKEN)
    if at >= 0 and body.find(_BOARD_TOKEN, at + 7) < 0 and b"\\" not in body:
        found = _BOARD_VALUE.match(body, at)
        if found is not None:
            return found.group(1)
    event = decode_event(body)
    return None if isinstance(event, Rejection) else event.board.encode()


def replay_jobs(
    source: BinaryIO,
    sink: BinaryIO,
    dead_letters: BinaryIO | None,
    config: BoardsConfig,
    now: int | None,
    jobs: int,
) -> ReplayStats:
    """Replay ``source`` over ``jobs`` worker processes; ``now`` pins the wall clock (and
    is the idle close at the end), None: each worker reads the real one."""
    context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    inboxes = [context.Queue() for _ in range(jobs)]
    outboxes = [context.Queue() for _ in range(jobs)]
    workers = [
        context.Process(
            target=_work, args=(config, now, inboxes[n], outboxes[n]), daemon=True, name=f"w{n}"
        )
        for n in range(jobs)
    ]
    for worker in workers:
        worker.start()
    stats = ReplayStats()
    owners = _Owners(jobs, config)
    in_flight = 0
    try:
        for lines in _chunks(source, stats):
            boards = [board_of(body) for _number, body in lines]
            new = owners.assign([board for board in boards if board is not None])
            shares: list[Share] = [(new[w], []) for w in range(jobs)]
            parts = [part for _new, part in shares]
            owner = owners.owner
            for line, board in zip(lines, boards, strict=True):
                # No board: invalid, so any worker may dead-letter it; spread by line.
                parts[line[0] % jobs if board is None else owner[board]].append(line)
            for inbox, share in zip(inboxes, shares, strict=True):
                inbox.put(share)
            in_flight += 1
            if in_flight > DEPTH:
                _write(outboxes, workers, sink, dead_letters, stats)
                in_flight -= 1
        for _ in range(in_flight):
            _write(outboxes, workers, sink, dead_letters, stats)
        for inbox in inboxes:
            inbox.put(None)  # end of input: each worker's idle close (or nothing), then exit
        closed = [
            _receive(outbox, worker) for outbox, worker in zip(outboxes, workers, strict=True)
        ]
        # --jobs 1 closes idle boards in name order; each worker answered its own in order.
        for _board, payload in heapq.merge(*closed, key=_first):
            stats.records += 1
            sink.write(payload)
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.kill()
    return stats


class _Owners:
    """Which worker replays which board: fixed at the board's first chunk, greedily (the
    busiest new board to the least-loaded worker), from the input alone, so deterministic."""

    def __init__(self, jobs: int, config: BoardsConfig) -> None:
        self.owner: dict[bytes, int] = {}
        self.load = [0] * jobs
        self._config = config

    def assign(self, boards: list[bytes]) -> list[list[bytes]]:
        """Count a chunk's lines per board; returns each worker's newly owned boards.

        A line weighs its estimated cost (:meth:`_weight`), not one: balanced by lines
        alone, two workers on the bench file took 2.9 s and 4.7 s of CPU."""
        counts = Counter(boards)
        for board in counts:
            counts[board] *= self._weight(board)
        owner, load = self.owner, self.load
        new: list[list[bytes]] = [[] for _ in load]
        unowned = []
        for board, n in counts.items():
            if board in owner:
                load[owner[board]] += n
            else:
                unowned.append(board)
        for board in sorted(unowned, key=lambda b: (-counts[b], b)):
            worker_no = owner[board] = min(range(len(load)), key=load.__getitem__)
            load[worker_no] += counts[board]
            new[worker_no].append(board)
        return new

    def _weight(self, board: bytes) -> int:
        """Cost of one line of ``board`` in tenths: validation and dedup are the same on
        every board; each window costs about as much again, more with a larger top-K
        (more rank changes per event). Per-board costs measured on the bench file ran
        from 18 to 60 us per event and follow this within about 30 %."""
        config = self._config.for_board(board.decode("utf-8", "replace"))
        return 10 + len(config.windows) * (10 + config.top // 10)


def _chunks(source: BinaryIO, stats: ReplayStats) -> Iterator[list[tuple[int, bytes]]]:
    """Non-blank lines (line number, body without the line end), CHUNK_LINES at a time;
    counts every line read, blank ones too, as --jobs 1 does. Reads blocks and splits them
    in C: a loop over the file's lines was a third of this process's time."""
    number = 0
    rest = b""
    while True:
        block = source.read(_BLOCK)
        if block:
            data = rest + block
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            lines, rest = data[: cut - 1].split(b"\n"), data[cut:]
        elif rest:
            lines, rest = [rest], b""
        else:
            return
        for start in range(0, len(lines), CHUNK_LINES):
            kept = []
            for line in lines[start : start + CHUNK_LINES]:
                number += 1
                body = line.rstrip(b"\r\n")
                if body.strip():
                    kept.append((number, body))
            stats.lines = number
            yield kept


def _write(
    outboxes: Sequence[Any],
    workers: Sequence[BaseProcess],
    sink: BinaryIO,
    dead_letters: BinaryIO | None,
    stats: ReplayStats,
) -> None:
    """Merge the workers' answers for the oldest chunk in flight, in line order."""
    unpacked: list[tuple[list[int], bytes, list[int], memoryview]] = []
    for outbox, worker in zip(outboxes, workers, strict=True):
        packed, counts = _receive(outbox, worker)
        numbers, wheres, ends, blob = packed
        unpacked.append((_longs(numbers), wheres, [0, *_longs(ends)], memoryview(blob)))
        stats.records += counts.pop("records", 0)
        stats.dead_letters += counts.pop("dead_letters", 0)
        stats.outcomes.update(counts)
        stats.events += counts["applied"] + counts["duplicate"]
    out: list[memoryview] = []
    dead: list[memoryview] = []
    lines = [zip(numbers, repeat(w), count()) for w, (numbers, *_rest) in enumerate(unpacked)]
    for _number, w, i in heapq.merge(*lines):
        _numbers, wheres, ends, blob = unpacked[w]
        (out if wheres[i] == _RECORDS else dead).append(blob[ends[i] : ends[i + 1]])
    sink.write(b"".join(out))
    if dead_letters is not None and dead:
        dead_letters.write(b"".join(dead))


def _longs(raw: bytes) -> list[int]:
    values = array("q")
    values.frombytes(raw)
    return values.tolist()


class _Packer:
    """Collects one chunk's answers of a worker in line order (see :data:`Packed`)."""

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

    def packed(self) -> Packed:
        blob = b"".join(self.parts)
        return self.numbers.tobytes(), bytes(self.wheres), self.ends.tobytes(), blob


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _receive(outbox: Any, worker: BaseProcess) -> Any:
    """The worker's next answer; raises if it failed or died instead of answering."""
    while True:
        try:
            answer = outbox.get(timeout=1.0)
        except queue.Empty:
            if not worker.is_alive():
                raise ReplayWorkerError(
                    f"replay worker {worker.name} exited with {worker.exitcode}"
                ) from None
            continue
        if isinstance(answer, ReplayWorkerError):
            raise answer
        return answer


def _clock(now: int | None) -> Callable[[], int]:
    if now is None:
        return wall_clock_ms
    pinned = now
    return lambda: pinned


def _work(config: BoardsConfig, now: int | None, inbox: Any, outbox: Any) -> None:
    """A worker: its boards' lines in; per chunk its answers and counts out; at the end
    of the input its idle close (with ``now``), per board in name order."""
    try:
        engine = Engine(config, MemoryStore(), _clock(now), ranks=False)
        apply = engine.apply
        mine: set[str] = set()
        while True:
            share: Share | None = inbox.get()
            if share is None:
                break
            new, lines = share
            mine.update(board.decode("utf-8", "replace") for board in new)
            answers = _Packer()
            counts: Counter[str] = Counter()
            for number, body in lines:
                event = decode_event(body)
                if isinstance(event, Rejection):
                    counts["dead_letters"] += 1
                    answers.add(number, _DEAD, _letter(event, body, number))
                    continue
                if event.board not in mine:
                    raise ReplayWorkerError(f"line {number}: board {event.board!r} misrouted")
                result = apply(event)
                refused = refusal(result.outcome, config, event.board)
                if refused is not None:
                    counts["dead_letters"] += 1
                    answers.add(number, _DEAD, _letter(refused, body, number))
                    continue
                counts[result.outcome.value] += 1
                if result.late:
                    counts["late"] += 1
                if result.records:
                    counts["records"] += len(result.records)
                    answers.add(number, _RECORDS, render(result.records))
            outbox.put((answers.packed(), counts))
        closed: list[tuple[str, bytes]] = []
        if now is not None:
            for record in engine.close_idle(now, budget=0):
                closed.append((record.board, render([record])))
        outbox.put(closed)
    except BaseException:
        outbox.put(ReplayWorkerError("replay worker failed:\n" + traceback.format_exc()))


def _letter(rejection: Rejection, body: bytes, number: int) -> bytes:
    return dumps(dead_letter_for_line(rejection, body, number)).encode() + b"\n"

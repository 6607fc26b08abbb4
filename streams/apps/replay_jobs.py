"""`rankstream replay --jobs N`: the boards split over N processes, the bytes of ``--jobs 1``.

Boards are independent (own watermark, windows and dedup set, contract section 2), so a
board's events can be replayed by any one process as long as that process sees all of
them in file order. This process reads the input in chunks of whole lines and routes each
line to the worker that owns its board (:func:`board_of`; splitting and reading boards are
compiled, ``ReplayBlock``); the workers validate (the same
:func:`~streams.edge.validation.decode_event` as ``--jobs 1``), run their own engine and
answer, per line that produced something, with the rendered records or dead letter. The
answers of a chunk are laid out by line number (replay_output.py): stdout and ``--dlq``
hold exactly what ``--jobs 1`` writes, in the same order. An invalid line
touches no state, so it may be validated by any worker; only a valid event must reach
its board's owner, which :func:`board_of` guarantees (and the worker checks).

A board gets its owner when it first appears: the boards new in a chunk, busiest first,
each go to the worker with the least work so far (boards' traffic is usually skewed; a
hash split of ten boards put 77 % of a bench file on one of two workers). Memory stays
bounded by ``DEPTH`` chunks in flight, whatever the input's size. Workers are forked (no
re-import) where the platform allows; queues carry a few bytes objects per chunk.
"""

from __future__ import annotations

import heapq
import multiprocessing as mp
import queue
import traceback
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.process import BaseProcess
from typing import Any, BinaryIO

from schemas.timefmt import wall_clock_ms
from streams.apps.replay import ReplayStats, render
from streams.apps.replay_output import DEAD, RECORDS, Kept, Packed, Packer, Positions, write_through
from streams.edge.refusals import refusal
from streams.edge.validation import Rejection, dead_letter_for_line, decode_event
from streams.engine._core import ReplayBlock
from streams.engine.config import BoardsConfig
from streams.engine.core import Engine
from streams.engine.events import dumps
from streams.engine.storage import MemoryStore

#: Input bytes read and dispatched at a time (whole lines), and chunks in flight before the
#: oldest is written.
CHUNK_BYTES = 1 << 19
DEPTH = 4
#: (boards newly owned by the worker, its lines' numbers (array "q"), its lines joined by
#: b"\n" - lines hold none - so that a share pickles as a few bytes objects)
Share = tuple[list[bytes], bytes, bytes]


class ReplayWorkerError(RuntimeError):
    """A worker process failed; the replay's output is incomplete."""


def board_of(body: bytes) -> bytes | None:
    """The board to route a line by: for a valid event exactly its board (UTF-8), for an
    invalid line anything (None: no board found; it touches no state anyway). The bytes
    are read first (``ReplayBlock``, rust/src/replay_io.rs); a line they do not settle is
    decoded in full."""
    block = ReplayBlock(body, 1)
    if len(block) and not block.unknown():
        return block.counts()[0][0]
    return _decoded_board(body)


def _decoded_board(body: bytes) -> bytes | None:
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
    forked = "fork" in mp.get_all_start_methods()
    context = mp.get_context("fork" if forked else None)
    # Forked workers share the file descriptors: they can write their own answers.
    positions = (
        Positions(sink, dead_letters) if forked and Positions.possible(sink, dead_letters) else None
    )
    fds = None if positions is None else positions.fds
    inboxes = [context.Queue() for _ in range(jobs)]
    outboxes = [context.Queue() for _ in range(jobs)]
    workers = [
        context.Process(
            target=_work,
            args=(config, now, inboxes[n], outboxes[n], fds),
            daemon=True,
            name=f"w{n}",
        )
        for n in range(jobs)
    ]
    for worker in workers:
        worker.start()
    stats = ReplayStats()
    owners = _Owners(jobs, config)
    in_flight = 0
    try:
        for block in _chunks(source, stats):
            new = owners.assign(block.counts())
            # A line without a board is invalid: any worker may dead-letter it (by number).
            shares = block.shares(owners.owner, jobs)
            for inbox, boards, (numbers, joined) in zip(inboxes, new, shares, strict=True):
                inbox.put((boards, numbers, joined))
            in_flight += 1
            if in_flight > DEPTH:
                _write(outboxes, workers, inboxes, positions, sink, dead_letters, stats)
                in_flight -= 1
        for _ in range(in_flight):
            _write(outboxes, workers, inboxes, positions, sink, dead_letters, stats)
        for inbox in inboxes:
            inbox.put(None)  # end of input: each worker's idle close (or nothing), then exit
        # A worker takes its inbox in order: its writes are done when it answers this.
        closed = [
            _receive(outbox, worker) for outbox, worker in zip(outboxes, workers, strict=True)
        ]
        if positions is not None:
            positions.finish()
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

    def assign(self, lines: list[tuple[bytes, int]]) -> list[list[bytes]]:
        """Take a chunk's (board, lines), first seen first; returns each worker's newly
        owned boards.

        A line weighs its estimated cost (:meth:`_weight`), not one: balanced by lines
        alone, two workers on the bench file took 2.9 s and 4.7 s of CPU."""
        counts = {board: n * self._weight(board) for board, n in lines}
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
        """Cost of one line of ``board`` in tenths of a microsecond, from what a line of
        each bench board cost ``replay --jobs 1`` with the compiled engine (6.6 to 11.6 us,
        2026-12-06; followed within about 15 %): validating, applying and writing any line
        costs the same on every board; each window adds a little, a larger top-K more
        (more rank changes per event)."""
        config = self._config.for_board(board.decode("utf-8", "replace"))
        return 55 + 12 * len(config.windows) + config.top // 4


def _chunks(source: BinaryIO, stats: ReplayStats) -> Iterator[ReplayBlock]:
    """The input in blocks of about CHUNK_BYTES of whole lines, each line with its board
    (the lines the bytes do not settle decoded here); counts every line read, blank ones
    too, as --jobs 1 does. Splitting and reading boards are compiled: a loop over the lines
    here was most of this process's time."""
    number = 1
    rest = b""
    while True:
        data = source.read(CHUNK_BYTES)
        if data:
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            data, rest = data[:cut], data[cut:]
        elif rest:
            data, rest = rest, b""
        else:
            return
        block = ReplayBlock(data, number)
        number += block.counted
        stats.lines = number - 1
        for line in block.unknown():
            block.set_board(line, _decoded_board(block.body(line)))
        yield block


def _write(
    outboxes: Sequence[Any],
    workers: Sequence[BaseProcess],
    inboxes: Sequence[Any],
    positions: Positions | None,
    sink: BinaryIO,
    dead_letters: BinaryIO | None,
    stats: ReplayStats,
) -> None:
    """The workers' answers for the oldest chunk in flight, written in line order: by the
    parent, or (``positions``) by the workers at the offsets sent to them."""
    answers: list[Packed] = []
    for outbox, worker in zip(outboxes, workers, strict=True):
        packed, counts = _receive(outbox, worker)
        answers.append(packed)
        stats.records += counts.pop("records", 0)
        stats.dead_letters += counts.pop("dead_letters", 0)
        stats.outcomes.update(counts)
        stats.events += counts["applied"] + counts["duplicate"]
    if positions is None:
        write_through(answers, sink, dead_letters)
        return
    for inbox, offsets in zip(inboxes, positions.offsets(answers), strict=True):
        inbox.put(offsets)


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


def _work(
    config: BoardsConfig,
    now: int | None,
    inbox: Any,
    outbox: Any,
    fds: tuple[int, int | None] | None,
) -> None:
    """A worker: its boards' lines in; per chunk its answers and counts out; at the end
    of the input its idle close (with ``now``), per board in name order. With ``fds``
    (positional output) it keeps each chunk's bytes until the parent sends their offsets."""
    try:
        engine = Engine(config, MemoryStore(), _clock(now), ranks=False)
        apply = engine.apply
        mine: set[str] = set()
        kept: deque[Kept] = deque()
        while True:
            share: Share | bytes | None = inbox.get()
            if share is None:
                break
            if isinstance(share, bytes):  # offsets of the oldest kept chunk
                assert fds is not None
                kept.popleft().write(share, fds)
                continue
            new, numbers_raw, joined = share
            numbers = array("q")
            numbers.frombytes(numbers_raw)
            lines = zip(numbers, joined.split(b"\n") if numbers else [], strict=True)
            mine.update(board.decode("utf-8", "replace") for board in new)
            answers = Packer()
            counts: Counter[str] = Counter()
            for number, body in lines:
                event = decode_event(body)
                if isinstance(event, Rejection):
                    counts["dead_letters"] += 1
                    answers.add(number, DEAD, _letter(event, body, number))
                    continue
                if event.board not in mine:
                    raise ReplayWorkerError(f"line {number}: board {event.board!r} misrouted")
                result = apply(event)
                refused = refusal(result.outcome, config, event.board)
                if refused is not None:
                    counts["dead_letters"] += 1
                    answers.add(number, DEAD, _letter(refused, body, number))
                    continue
                counts[result.outcome.value] += 1
                if result.late:
                    counts["late"] += 1
                if result.records:
                    counts["records"] += len(result.records)
                    answers.add(number, RECORDS, render(result.records))
            packed, keep = answers.packed(keep=fds is not None)
            if keep is not None:
                kept.append(keep)
            outbox.put((packed, counts))
        closed: list[tuple[str, bytes]] = []
        if now is not None:
            for record in engine.close_idle(now, budget=0):
                closed.append((record.board, render([record])))
        outbox.put(closed)
    except BaseException:
        outbox.put(ReplayWorkerError("replay worker failed:\n" + traceback.format_exc()))


def _letter(rejection: Rejection, body: bytes, number: int) -> bytes:
    return dumps(dead_letter_for_line(rejection, body, number)).encode() + b"\n"

"""``rankstream demo``: a live feed of realistic score events for the scores topic.

It writes score events (contract section 1) to Kafka at a steady rate, with event time =
the wall clock, until stopped (Ctrl-C) or for ``--duration`` seconds::

    rankstream demo                          # 50 events/s to $RANKSTREAM_SCORES_TOPIC
    rankstream demo --rate 500 --users 2000 --duration 60 --invalid-every 100

Boards (no boards file is needed: they work with the built-in ``[defaults]``, and a boards
file may refine them, e.g. ``[boards.speedrun] aggregate = "min"`` / ``order = "asc"``):

* ``arena`` -- points per match, aggregate ``sum`` (~6 % of the events are penalties,
  negative scores, so ranks also get worse); about half of the traffic;
* ``speedrun`` -- lap times in milliseconds, meant for ``aggregate = "min"``,
  ``order = "asc"`` (each user has a skill level; their laps scatter around it);
* ``likes`` -- 1 to 3 likes per event, aggregate ``sum``.

Users have human-looking names (``ada``, ``grace``, ``linus``, ... then ``ada2``,
``grace2``, ...) and Zipf-like activity: the i-th most active user sends about ``1/i`` as
many events as the most active one; which names are the busy ones depends on ``--seed``.

Every event has a unique ``event_id`` ``demo-<start ms, base 36>-<seed token>-<n>``, so
re-running the demo never produces ids the job deduplicates; the message key is the board
name (UTF-8), so a board's events stay in order on one partition. ``ts`` is mixed on
purpose, as real producers are: integer epoch milliseconds, RFC 3339 with ``Z``, or RFC 3339
with a UTC offset; about one event in ten is stamped up to 3 s in the past (out of order,
well within any grace period).

``--invalid-every N`` replaces every N-th message with the plain text ``User Score Update``
(no key), which the job must send to the dead-letter topic without stopping.

The event stream itself is a pure generator (:func:`iter_messages`, in demofeed.py) driven
by an injected clock and ``random.Random``, so it is tested without a broker; :func:`produce`
is the thin asyncio/aiokafka loop around it. Topics missing on the broker are created with
``RANKSTREAM_PARTITIONS`` / ``RANKSTREAM_REPLICATION_FACTOR`` rather than left to broker
auto-creation.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from schemas.timefmt import wall_clock_ms
from streams.apps import cliargs
from streams.apps.demofeed import BOARDS, DemoConfig, Message, iter_messages

if TYPE_CHECKING:
    from streams.runtime.settings import Settings

__all__ = ["DemoStats", "Pacer", "add_parser", "ensure_topic", "produce"]


class Pacer:
    """Steady-rate pacing: message ``i`` (0-based) is due ``i / rate`` seconds after start.

    Pacing against the start time, not the previous send, keeps the long-run rate exact
    even when a send or a sleep takes longer than planned (the loop then catches up).
    """

    def __init__(self, rate: float) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        self.rate = rate

    def due(self, index: int) -> float:
        """Seconds after start at which message ``index`` is due."""
        return index / self.rate

    def delay(self, index: int, elapsed: float) -> float:
        """How long to wait, ``elapsed`` seconds after start, before sending ``index``."""
        return max(0.0, self.due(index) - elapsed)

    def count_by(self, seconds: float) -> int:
        """How many messages are due within the first ``seconds`` (a ``--duration``)."""
        if seconds <= 0:
            return 0
        # Message i is sent when due(i) < seconds; guard float error at exact multiples.
        n = int(seconds * self.rate)
        while n > 0 and self.due(n - 1) >= seconds:
            n -= 1
        while self.due(n) < seconds:
            n += 1
        return n


@dataclass
class DemoStats:
    sent: int = 0
    invalid: int = 0
    seconds: float = 0.0

    def summary(self, topic: str) -> str:
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        return (
            f"demo: sent {self.sent} messages ({self.invalid} invalid) to {topic!r} "
            f"in {self.seconds:.1f} s ({rate:.1f}/s)"
        )


async def ensure_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    replication: int,
    options: Mapping[str, Any] | None = None,
) -> bool:
    """Create ``topic`` unless it exists; True when this call created it. ``options``: the
    connection's security (:func:`streams.runtime.kafka_clients.kafka_options`)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped]

    admin = AIOKafkaAdminClient(**{**(options or {}), "bootstrap_servers": bootstrap})
    try:
        await admin.start()
        response = await admin.create_topics([NewTopic(topic, partitions, replication)])
    finally:
        await admin.close()
    # aiokafka reports per-topic errors in the response instead of raising them.
    for _name, code, message in (error[:3] for error in response.topic_errors):
        if code == 36:  # TOPIC_ALREADY_EXISTS
            return False
        if code != 0:
            raise RuntimeError(f"cannot create topic {topic!r}: error {code}: {message}")
    return True


async def produce(
    *,
    bootstrap: str,
    topic: str,
    messages: Iterator[Message],
    rate: float,
    duration: float | None = None,
    linger_ms: int = 5,
    partitions: int = 4,
    replication: int = 1,
    on_progress: Callable[[DemoStats], None] | None = None,
    stats: DemoStats | None = None,
    options: Mapping[str, Any] | None = None,
) -> DemoStats:
    """Send ``messages`` to ``topic`` at ``rate`` per second, for ``duration`` s or forever.

    Sends are pipelined (not awaited one by one) so high rates are reachable; delivery
    errors surface at the next pause, and everything sent is flushed before returning,
    also when cancelled (Ctrl-C).
    """
    from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped]

    await ensure_topic(bootstrap, topic, partitions, replication, options)
    pacer = Pacer(rate)
    limit = None if duration is None else pacer.count_by(duration)
    producer = AIOKafkaProducer(
        **{**(options or {}), "bootstrap_servers": bootstrap},
        linger_ms=linger_ms,
        acks="all",
        enable_idempotence=True,
    )
    stats = DemoStats() if stats is None else stats
    pending: list[asyncio.Future[Any]] = []
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    start = time.monotonic()
    last_progress = start
    try:
        for index, message in enumerate(messages):
            if limit is not None and index >= limit:
                break
            wait = pacer.delay(index, time.monotonic() - start)
            if wait > 0:
                await _settle(pending)
                await asyncio.sleep(wait)
            pending.append(await producer.send(topic, message.value, key=message.key))
            stats.sent += 1
            stats.invalid += not message.valid
            if len(pending) >= 10_000:
                await _settle(pending)
            now = time.monotonic()
            if on_progress is not None and now - last_progress >= 5.0:
                last_progress = now
                stats.seconds = now - start
                on_progress(stats)
    finally:
        try:
            await producer.flush()
            await _settle(pending)
        finally:
            await producer.stop()
            stats.seconds = time.monotonic() - start
    return stats


async def _settle(pending: list[asyncio.Future[Any]]) -> None:
    """Wait for the delivery of everything sent so far; raise the first delivery error."""
    if pending:
        futures = pending[:]
        pending.clear()
        await asyncio.gather(*futures)


# --- command line ----------------------------------------------------------------------


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    settings: Settings | None = None,
) -> argparse.ArgumentParser:
    """Register ``rankstream demo``; ``--bootstrap`` and ``--topic`` left out default from
    ``settings``, else from the settings read when it runs."""
    parser = cliargs.add_kafka_command(
        subparsers,
        "demo",
        settings,
        "scores_topic",
        help="produce a live feed of realistic score events to Kafka",
        description="Writes score events (boards arena, speedrun, likes; Zipf-skewed users; "
        "event time = now) to the scores topic at a steady rate until Ctrl-C.",
        topic_help="topic to write to (default: $RANKSTREAM_SCORES_TOPIC or scores)",
    )
    parser.add_argument(
        "--rate", type=cliargs.positive_float, default=50.0, help="events per second (default: 50)"
    )
    parser.add_argument(
        "--users", type=cliargs.positive_int, default=200, help="distinct users (default: 200)"
    )
    parser.add_argument(
        "--duration",
        type=cliargs.positive_float,
        default=None,
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (default: a fresh one each run)"
    )
    parser.add_argument(
        "--invalid-every",
        type=cliargs.positive_int,
        default=None,
        metavar="N",
        help="make every N-th message the invalid line 'User Score Update' (for the DLQ)",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress lines on stderr, only the summary"
    )
    parser.set_defaults(run=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    """Exit 1 for a bad setting or a Kafka error; 0 at the end or on Ctrl-C."""
    return cliargs.run_command(args, lambda settings: _demo(args, settings), status=1)


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from streams.runtime.kafka_clients import kafka_options

    options = kafka_options(settings)
    bootstrap, topic = cliargs.kafka_target(args, settings)
    rng = random.Random(args.seed)
    messages = iter_messages(
        DemoConfig(users=args.users, invalid_every=args.invalid_every), wall_clock_ms, rng
    )
    duration = "until Ctrl-C" if args.duration is None else f"for {args.duration:g} s"
    print(
        f"demo: {args.rate:g} events/s to {topic!r} on {bootstrap} {duration} "
        f"(boards: {', '.join(board.name for board in BOARDS)})",
        file=sys.stderr,
    )

    def progress(stats: DemoStats) -> None:
        if not args.quiet:
            print(stats.summary(topic), file=sys.stderr)

    stats = DemoStats()

    async def feed() -> None:
        await produce(
            bootstrap=bootstrap,
            topic=topic,
            messages=messages,
            rate=args.rate,
            duration=args.duration,
            linger_ms=settings.producer_linger_ms,
            partitions=settings.partitions,
            replication=settings.replication_factor,
            on_progress=progress,
            stats=stats,
            options=options,
        )
        print(stats.summary(topic), file=sys.stderr)

    return cliargs.run_until_stopped(
        feed(),
        f"cannot produce to {topic!r} on {bootstrap}",
        on_stop=lambda: print(stats.summary(topic) + " (stopped)", file=sys.stderr),
    )

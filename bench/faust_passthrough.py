"""The faust ceiling of leg 2: the worker's two faust agents with no work in them.

    python -m bench.faust_passthrough --in TOPIC --via TOPIC --out TOPIC --app-id ID

Two agents as the worker's intake and ranking agents: each takes ``take_events`` batches
of up to ``--batch`` events waiting up to ``--batch-ms`` (the worker's ``batch_max_events``
and ``batch_max_ms``) and re-sends each record's key and value through the worker's own
output code (``streams.runtime.publish.Outputs``, 1000 KiB record batches per partition): in ->
via, via -> out (or one agent, in -> out, without ``--via``). No validation, ranking,
state or transactions; faust commits the offsets (at-least-once) every
``--commit-interval`` seconds. Between the raw aiokafka passthrough
(``bench.passthrough``) and the worker, it shows what faust's per-message path costs by
itself. Logs "Worker ready" like the worker, once faust has started.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from streams.runtime.publish import Outputs, Unit


def create_app(args: argparse.Namespace) -> faust.App:
    app = faust.App(
        args.app_id,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        processing_guarantee="at_least_once",
        topic_partitions=args.partitions,
        producer_linger_ms=args.linger_ms,
        broker_commit_interval=args.commit_interval,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
    )
    outputs = Outputs(changelog_topic=args.out_topic)

    def topic(name: str) -> faust.TopicT:
        return app.topic(
            name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
        )

    def forward(dst: str) -> Callable[[faust.StreamT[bytes]], Awaitable[None]]:
        async def agent(stream: faust.StreamT[bytes]) -> None:
            within = args.batch_ms / 1000
            async for batch in stream.take_events(args.batch, within):  # type: ignore[attr-defined]
                by_partition: dict[int, Unit] = {}
                for event in batch:
                    message = event.message
                    unit = by_partition.get(message.partition)
                    if unit is None:
                        unit = by_partition[message.partition] = Unit(
                            message.topic, message.partition, 0
                        )
                    unit.records.append((dst, message.key or b"", message.value or b""))
                producer: Any = app.producer._ensure_producer()  # type: ignore[attr-defined]
                for unit in by_partition.values():
                    await outputs.send(producer, unit, transactional=False)

        agent.__name__ = f"forward_to_{dst.replace('-', '_')}"
        return agent

    if args.via_topic:
        app.agent(topic(args.in_topic), name="hop1")(forward(args.via_topic))
        app.agent(topic(args.via_topic), name="hop2")(forward(args.out_topic))
    else:  # one hop: what faust costs on the scores topic alone
        app.agent(topic(args.in_topic), name="hop1")(forward(args.out_topic))
    return app


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faust_passthrough", description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--in", dest="in_topic", required=True)
    p.add_argument("--via", dest="via_topic", default=None, help="omit for one agent: in -> out")
    p.add_argument("--out", dest="out_topic", required=True)
    p.add_argument("--app-id", required=True)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--batch-ms", type=int, default=100)
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--commit-interval", type=float, default=1.0)
    args = p.parse_args(argv)
    app = create_app(args)
    faust.Worker(app, loglevel="info", quiet=True).execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ceiling of leg 2: a raw aiokafka consume -> produce of the same bytes, no work.

    python -m bench.passthrough --in TOPIC [--via TOPIC] --out TOPIC --group GROUP

Batching as the worker's: ``getmany`` of up to ``--batch`` (the worker's
``batch_max_events``) records waiting up to ``--batch-ms``, each record re-sent with its
key and value to the same partition number of ``--out``, the batch awaited (acked), and
the offsets committed every ``--commit-interval`` seconds (the worker's
``commit_interval_s``), with producer ``linger_ms`` as the worker's. Runs until SIGTERM;
prints ``ready`` on stdout once it has its partitions. Stage ``n`` commits as
consumer group ``<group>-<n>``. With ``--via`` it
makes the worker's two hops (intake: scores -> by-board; ranking: by-board -> push topic),
both stages in one process and event loop sharing one producer, as the faust worker does.

With ``--fanout N`` the last stage sends each record N times instead, and with
``--changelog TOPIC --changelog-records M`` also M copies per record into one changelog
batch per input partition and batch, all through the worker's own output path
(``streams.runtime.publish.Outputs``: record batches per partition, keys partitioned as faust
does), without transactions: the worker's output volume (push records and changelog
records per event) with none of its work, the ceiling of any Python worker on aiokafka
that has to write that much.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from streams.runtime.publish import Outputs, Unit


async def stage(
    args: argparse.Namespace,
    src: str,
    dst: str,
    group: str,
    producer: AIOKafkaProducer,
    stop: asyncio.Event,
    ready: asyncio.Event,
    fanout: int = 1,
    changelog_records: int = 0,
) -> None:
    """Consume ``src`` and re-send each record's bytes to the same partition of ``dst``
    (``fanout`` times, plus ``changelog_records`` copies into the changelog, through the
    worker's output path, when either is set)."""
    consumer = AIOKafkaConsumer(
        src,
        bootstrap_servers=args.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    outputs = Outputs(changelog_topic=args.changelog or dst)
    last_commit, dirty = time.monotonic(), False
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=args.batch_ms, max_records=args.batch)
            if consumer.assignment():
                ready.set()
            if fanout > 1 or changelog_records:
                for tp, messages in batches.items():
                    unit = Unit(src, tp.partition, 0)
                    for msg in messages:
                        unit.records.extend([(dst, msg.key or b"", msg.value)] * fanout)
                        unit.changelog.extend([(msg.key or b"", msg.value)] * changelog_records)
                    await outputs.send(producer, unit, transactional=False)
            else:
                sent = []
                for tp, messages in batches.items():
                    for msg in messages:
                        fut = await producer.send(
                            dst, msg.value, key=msg.key, partition=tp.partition
                        )
                        sent.append(fut)
                await asyncio.gather(*sent)
            dirty = dirty or bool(batches)
            if dirty and time.monotonic() - last_commit >= args.commit_interval:
                await consumer.commit()
                last_commit, dirty = time.monotonic(), False
        await consumer.commit()
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace) -> None:
    topics = [args.in_topic, *args.via, args.out_topic]
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, linger_ms=args.linger_ms)
    await producer.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    readies = [asyncio.Event() for _ in topics[:-1]]
    last = len(topics) - 2
    tasks = [
        asyncio.create_task(
            stage(
                args,
                src,
                dst,
                f"{args.group}-{n}",
                producer,
                stop,
                ready,
                args.fanout if n == last else 1,
                args.changelog_records if n == last else 0,
            )
        )
        for n, (src, dst, ready) in enumerate(zip(topics, topics[1:], readies, strict=False))
    ]
    try:
        await asyncio.gather(*(r.wait() for r in readies))
        print("ready", flush=True)
        await asyncio.gather(*tasks)
    finally:
        stop.set()
        await producer.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.passthrough", description=__doc__)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--in", dest="in_topic", required=True)
    p.add_argument("--out", dest="out_topic", required=True)
    p.add_argument("--group", required=True)
    p.add_argument(
        "--via",
        action="append",
        default=[],
        help="intermediate topic (repeatable): in -> via -> out, like the worker's "
        "scores -> scores-by-board -> push topic",
    )
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--batch-ms", type=int, default=100)
    p.add_argument("--linger-ms", type=int, default=5)
    p.add_argument("--commit-interval", type=float, default=1.0)
    p.add_argument(
        "--fanout",
        type=int,
        default=1,
        help="records the last stage sends per record consumed (the worker's push records)",
    )
    p.add_argument("--changelog", default=None, help="changelog topic of --changelog-records")
    p.add_argument(
        "--changelog-records",
        type=int,
        default=0,
        help="changelog records the last stage writes per record consumed",
    )
    asyncio.run(run(p.parse_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Where an event's latency goes: one worker, events sent at a fixed rate, each timed at
every point Kafka lets us see from outside.

    python -m bench.hops [--rate 5000] [--seconds 10] [--set NAME=VALUE ...]

Per event: sent (this process, just before ``send``) -> appended by the intake (the
by-board record's timestamp, set when the intake builds its batch) -> visible on the
by-board topic (a ``read_committed`` consumer here) -> appended by the rank stage (the
first rank_change's timestamp) -> visible on the push topic. The clocks are the same
machine's wall clock. A record's timestamp is when its stage built it, so "appended ->
visible" is that stage's transaction plus one fetch, and "visible -> appended" is how long
the next stage took to pick it up (its fetch, its wait for the batch in flight, its work).
Events of the first second are left out (start-up). Design record: docs/design/latency.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench import harness
from bench.e2e_legs import cause_of, gen_lines, percentile
from bench.harness import Worker
from bench.stream_job import run_id

#: (name, from, to) over the points of the module doc
SPANS = [
    ("sent -> intake appended", "sent", "intake"),
    ("intake appended -> by-board visible", "intake", "by_board"),
    ("by-board visible -> rank appended", "by_board", "rank"),
    ("rank appended -> push visible", "rank", "push"),
    ("sent -> push visible (total)", "sent", "push"),
]


async def measure(
    worker: Worker, bootstrap: str, lines: list[bytes], rate: float, seconds: float
) -> dict[str, Any]:
    points: dict[str, dict[bytes, float]] = {
        name: {} for name in ("sent", "intake", "by_board", "rank", "push")
    }
    topics = {"by_board": f"{worker.app_id}-scores-by-board", "push": worker.changes}
    consumers = {}
    for name, topic in topics.items():
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, isolation_level="read_committed"
        )
        await consumer.start()
        await consumer.seek_to_end()
        consumers[name] = consumer
    stop = asyncio.Event()

    async def follow(name: str, consumer: AIOKafkaConsumer) -> None:
        seen, built = points[name], points["intake" if name == "by_board" else "rank"]
        while not stop.is_set():
            fetched = await consumer.getmany(timeout_ms=100, max_records=5000)
            now = time.time()
            for records in fetched.values():
                for record in records:
                    if name == "by_board":
                        data = json.loads(record.value)
                        runs = data if data and isinstance(data[0], list) else [data]
                        ids = [fields[0].encode() for fields in runs]
                    else:
                        cause = cause_of(record.value or b"")
                        ids = [] if cause is None else [cause]
                    for event_id in ids:
                        seen.setdefault(event_id, now)
                        built.setdefault(event_id, record.timestamp / 1000)

    tasks = [asyncio.create_task(follow(n, c)) for n, c in consumers.items()]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **harness.producer_settings())
    await producer.start()
    started = time.time()
    sent = 0
    warm: set[bytes] = set()
    try:
        while (elapsed := time.time() - started) < seconds and sent < len(lines):
            while sent < min(len(lines), int(rate * elapsed)):
                line = lines[sent]
                event_id = json.loads(line)["event_id"].encode()
                if elapsed < 1.0:
                    warm.add(event_id)
                points["sent"][event_id] = time.time()
                await producer.send(worker.scores, line, key=harness.board_key(line))
                sent += 1
            worker.check_alive()
            await asyncio.sleep(0.002)
        await producer.flush()
        achieved = sent / (time.time() - started)
        await asyncio.sleep(3.0)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await producer.stop()
        for consumer in consumers.values():
            await consumer.stop()
    result: dict[str, Any] = {"rate": rate, "achieved": round(achieved, 1), "spans": {}}
    for label, start, end in SPANS:
        a, b = points[start], points[end]
        values = [(b[e] - a[e]) * 1000 for e in b if e in a and e not in warm]
        if values:
            result["spans"][label] = {
                "samples": len(values),
                **{f"p{q}": round(percentile(values, q / 100), 1) for q in (50, 95, 99)},
            }
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hops", description=__doc__)
    p.add_argument("--rate", type=float, default=5000)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(argv)
    overrides = dict(item.split("=", 1) for item in args.set)
    now_ms = time.time_ns() // 1_000_000
    lines = gen_lines(int(args.rate * args.seconds) + 10, 10_000, 5, now_ms, now_ms - 3_600_000, 1)
    with tempfile.TemporaryDirectory(prefix="rankstream-hops-") as tmp:
        worker = Worker(
            args.bootstrap,
            Path(tmp),
            harness.ROOT / "bench" / "boards.toml",
            4,
            "exactly_once",
            app_id=run_id("hops"),
            extra_env={f"RANKSTREAM_{k.upper()}": v for k, v in overrides.items()},
        )
        try:
            worker.create_topics()
            worker.start()
            worker.wait_ready()
            assert worker.proc is not None
            cpu0, t0 = harness.cpu_seconds(worker.proc.pid), time.time()
            result = asyncio.run(measure(worker, args.bootstrap, lines, args.rate, args.seconds))
            result["worker_cpu_per_s"] = round(
                (harness.cpu_seconds(worker.proc.pid) - cpu0) / (time.time() - t0), 3
            )
        finally:
            worker.cleanup()
    print(f"{result['achieved']:,.0f} events/s sent; worker CPU {result['worker_cpu_per_s']:.0%}")
    for label, row in result["spans"].items():
        print(
            f"  {label:38s} p50 {row['p50']:6.1f}  p95 {row['p95']:6.1f}  "
            f"p99 {row['p99']:6.1f} ms  ({row['samples']} events)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

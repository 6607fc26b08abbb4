"""Messages/s of `rankstream bridge` in each direction, measured in one run.

Pre-loads, on the local brokers and under a fresh app id: the input queue (durable,
persistent messages) with N valid score events, and the push topic (4 partitions, keyed
by board) with M push records, with a queue bound to the exchange with ``#``. Then starts
one bridge and reads its Prometheus counters every 50 ms until both directions are done:

- in: queue -> Kafka acknowledged -> AMQP ack (``rankstream_bridge_messages_in_total``);
- out: push topic -> published persistent, confirmed by RabbitMQ, offsets committed
  (``rankstream_bridge_messages_out_total``).

Both directions run at the same time, as in production. Each rate is taken between the
first sample where its counter moved and the sample where it reached the total, so the
bridge's start-up is left out. For scale, the pre-load rates of the same messages by a
plain client (aio-pika with confirms; aiokafka) are measured in the same run: the ratio
says what the bridge costs over one hop. Run: ``python -m bench.bridge_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import aio_pika
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.gen_events import GenConfig, board_names, iter_lines

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def push_records(count: int) -> list[tuple[bytes, bytes]]:
    """(key, value) of realistic rank_change records over 10 boards."""
    boards = board_names(10)
    out = []
    for i in range(count):
        board = boards[i % len(boards)]
        record = {
            "type": "rank_change",
            "board": board,
            "window": ("daily", "weekly", "all")[i % 3],
            "period": "2026-11-27",
            "window_start": "2026-11-27T00:00:00Z",
            "window_end": "2026-11-28T00:00:00Z",
            "user": f"u{i % 10_000:07d}",
            "old_rank": (i % 100) + 2,
            "new_rank": (i % 100) + 1,
            "score": 1000 + i,
            "cause": f"e-{i}",
        }
        out.append((board.encode(), json.dumps(record, separators=(",", ":")).encode()))
    return out


async def preload_queue(url: str, queue: str, bodies: list[bytes]) -> float:
    """Publish persistent with confirms, 1,000 in flight; returns seconds."""
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue, durable=True)
        t0 = time.perf_counter()
        for start in range(0, len(bodies), 1000):
            await asyncio.gather(
                *(
                    channel.default_exchange.publish(
                        aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                        routing_key=queue,
                    )
                    for body in bodies[start : start + 1000]
                )
            )
        return time.perf_counter() - t0
    finally:
        await connection.close()


async def bind_sink(url: str, exchange: str, queue: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        ex = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        q = await channel.declare_queue(queue, durable=True)
        await q.bind(ex, "#")
    finally:
        await connection.close()


async def cleanup(url: str, queues: list[str], exchange: str) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        for queue in queues:
            await channel.queue_delete(queue)
        await channel.exchange_delete(exchange)
    finally:
        await connection.close()


async def preload_topic(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], partitions: int
) -> float:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
        return time.perf_counter() - t0
    finally:
        await producer.stop()


def counters(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


class Rate:
    """Messages/s between the first sample where the counter moved and the last one."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.first: tuple[float, float] | None = None
        self.last: tuple[float, float] | None = None

    def sample(self, now: float, value: float) -> None:
        if value > 0 and self.first is None:
            self.first = (now, value)
        if value >= self.total and self.last is None:
            self.last = (now, value)

    @property
    def done(self) -> bool:
        return self.last is not None

    def per_s(self) -> float:
        assert self.first is not None and self.last is not None
        return (self.last[1] - self.first[1]) / max(1e-9, self.last[0] - self.first[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--in-messages", type=int, default=20_000)
    parser.add_argument("--out-records", type=int, default=50_000)
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--rabbitmq-url", default="amqp://guest:guest@localhost:5672/")
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--json-out", default=str(ROOT / "bench" / "results" / "bridge.json"))
    args = parser.parse_args()

    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=args.in_messages,
        users=10_000,
        boards=10,
        seed=3,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
    )
    bodies = [line for kind, line, _ in iter_lines(cfg) if kind == "valid"]
    records = push_records(args.out_records)
    app_id = f"bench-bridge-{uuid.uuid4().hex[:8]}"
    queue, exchange, sink = f"{app_id}.rank_update", f"{app_id}.rank_changes", f"{app_id}.sink"
    changes = f"{app_id}-changes"
    port = free_port()

    in_preload = asyncio.run(preload_queue(args.rabbitmq_url, queue, bodies))
    asyncio.run(bind_sink(args.rabbitmq_url, exchange, sink))
    out_preload = asyncio.run(preload_topic(args.bootstrap, changes, records, 4))

    env = dict(
        os.environ,
        RANKSTREAM_KAFKA_BOOTSTRAP=args.bootstrap,
        RANKSTREAM_RABBITMQ_URL=args.rabbitmq_url,
        RANKSTREAM_APP_ID=app_id,
        RANKSTREAM_SCORES_TOPIC=f"{app_id}-scores",
        RANKSTREAM_CHANGES_TOPIC=changes,
        RANKSTREAM_DLQ_TOPIC=f"{app_id}-dlq",
        RANKSTREAM_BRIDGE_QUEUE=queue,
        RANKSTREAM_BRIDGE_DLQ=f"{queue}.dlq",
        RANKSTREAM_BRIDGE_EXCHANGE=exchange,
        RANKSTREAM_BRIDGE_METRICS_PORT=str(port),
    )
    rate_in, rate_out = Rate(len(bodies)), Rate(len(records))
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "bridge.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams", "bridge"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + args.timeout
                while not (rate_in.done and rate_out.done):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print(log_path.read_text(errors="replace")[-4000:])
                        print("bridge_bench: the bridge exited or timed out")
                        return 1
                    values = counters(port)
                    t = time.monotonic()
                    rate_in.sample(t, values.get("rankstream_bridge_messages_in_total", 0))
                    rate_out.sample(t, values.get("rankstream_bridge_messages_out_total", 0))
                    time.sleep(0.05)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    asyncio.run(cleanup(args.rabbitmq_url, [queue, f"{queue}.dlq", sink], exchange))

    result = {
        "in_messages": len(bodies),
        "out_records": len(records),
        "in_messages_per_s": round(rate_in.per_s()),
        "out_messages_per_s": round(rate_out.per_s()),
        "plain_publish_to_queue_per_s": round(len(bodies) / in_preload),
        "plain_produce_to_topic_per_s": round(len(records) / out_preload),
        "in_vs_plain_publish": round(rate_in.per_s() / (len(bodies) / in_preload), 2),
        "out_vs_plain_produce": round(rate_out.per_s() / (len(records) / out_preload), 2),
        "both_directions_concurrently": True,
        "cores": os.cpu_count(),
        "settings": {"bridge_prefetch": 500, "bridge_max_in_flight": 2000, "queue_mode": "durable"},
    }
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"bridge in:  {result['in_messages_per_s']:,} messages/s (queue -> Kafka, acked); "
        f"plain confirmed publish {result['plain_publish_to_queue_per_s']:,}/s\n"
        f"bridge out: {result['out_messages_per_s']:,} messages/s (push topic -> exchange, "
        f"confirmed); plain Kafka produce {result['plain_produce_to_topic_per_s']:,}/s\n"
        f"(both directions at once, one bridge process, {os.cpu_count()} cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

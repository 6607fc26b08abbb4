"""End-to-end events/s of one worker on the local broker (a first leg of issue E).

Pre-loads a fresh scores topic with N valid events (10 boards, Zipf users), starts one
worker with its own app id, and times from "Worker ready" until the consumer group has
committed every input offset of both agents (so every event was ranked, its records sent
and its state flushed). Run: ``python -m bench.worker_bench [--events 20000]``.
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
import uuid
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.gen_events import GenConfig, iter_lines

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000


async def preload(bootstrap: str, topic: str, lines: list[bytes], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, partitions, 1)])
    await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    for line in lines:
        await producer.send(topic, line, key=json.loads(line)["board"].encode())
    await producer.flush()
    await producer.stop()


async def committed_total(bootstrap: str, group: str, topics: list[str]) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(m.offset for tp, m in offsets.items() if tp.topic in topics and m.offset > 0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this many s")
    parser.add_argument("--json-out", default=str(ROOT / "bench" / "results" / "worker.json"))
    args = parser.parse_args()
    now = time.time_ns() // 1_000_000
    cfg = GenConfig(
        events=args.events,
        users=args.users,
        boards=10,
        seed=9,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
    )
    lines = [line for kind, line, _ in iter_lines(cfg) if kind == "valid"]
    app_id = f"bench-{uuid.uuid4().hex[:8]}"
    scores, partitions = f"{app_id}-scores", 4
    asyncio.run(preload(args.bootstrap, scores, lines, partitions))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            RANKSTREAM_KAFKA_BOOTSTRAP=args.bootstrap,
            RANKSTREAM_APP_ID=app_id,
            RANKSTREAM_SCORES_TOPIC=scores,
            RANKSTREAM_CHANGES_TOPIC=f"{app_id}-changes",
            RANKSTREAM_DLQ_TOPIC=f"{app_id}-dlq",
            RANKSTREAM_DATA_DIR=f"{tmp}/data",
            RANKSTREAM_WEB_PORT=str(free_port()),
            RANKSTREAM_BOARDS=str(ROOT / "bench" / "boards.toml"),
            RANKSTREAM_PROCESSING_GUARANTEE="at_least_once",
        )
        log_path = Path(tmp) / "worker.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker"],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            try:
                while "Worker ready" not in log_path.read_text(errors="replace"):
                    if proc.poll() is not None:
                        print(log_path.read_text()[-3000:])
                        return 1
                    time.sleep(0.05)
                ready = time.monotonic()
                topics = [scores, f"{app_id}-scores-by-board"]
                target = 2 * len(lines)
                deadline = ready + args.timeout
                while asyncio.run(committed_total(args.bootstrap, app_id, topics)) < target:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        print(log_path.read_text(errors="replace")[-4000:])
                        print("worker_bench: the worker exited or timed out before finishing")
                        return 1
                    time.sleep(0.2)
                elapsed = time.monotonic() - ready
            finally:
                proc.terminate()
                proc.wait(timeout=30)
                log_text = log_path.read_text(errors="replace")
                if os.environ.get("KEEP_LOG"):
                    Path(os.environ["KEEP_LOG"]).write_bytes(log_path.read_bytes())
    rate = len(lines) / elapsed
    counts = [line for line in log_text.splitlines() if "rank: {" in line]
    stats = counts[-1].split("rank: ", 1)[1].strip() if counts else "n/a"
    result = {
        "events": len(lines),
        "users": args.users,
        "boards": 10,
        "seconds": round(elapsed, 2),
        "events_per_s": round(rate),
        "cores": os.cpu_count(),
        "worker_counts": stats,
        "settings": {
            "batch_max_events": 500,
            "batch_max_ms": 100,
            "producer_linger_ms": 5,
            "partitions": partitions,
            "processing_guarantee": "at_least_once",
        },
    }
    Path(args.json_out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"worker: {len(lines)} events in {elapsed:.2f} s after ready = {rate:,.0f} events/s "
        f"(one worker, intake + ranking, committed)\nworker counts: {stats}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

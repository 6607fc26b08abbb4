"""Shared plumbing of the Kafka legs (``e2e_bench``, ``state_bench``, ``restart_time``): the
bench's worker (a :class:`bench.stream_job.StreamJob`, the harness the integration tests use
too), its RSS and CPU, committed offsets, the load producer, and the settings a result must
record.

Every run gets its own app id and topics (``bench-<hex>-...``) on the shared broker and
deletes them at the end; nothing here stops, resets or reconfigures the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from bench.stream_job import StreamJob

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000
GUARANTEES = ("at_least_once", "exactly_once")


#: Outcomes that end an event's way through the worker ("late" counts besides "applied").
DONE_OUTCOMES = ("applied", "duplicate", "invalid")


def scrape_metrics(url: str) -> dict[str, float]:
    """A Prometheus endpoint's samples as ``{'name{label="v"}': value}``, the way the
    exposition text spells them (labels in their order there)."""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


async def committed_total(bootstrap: str, group: str, topics: Iterable[str]) -> int:
    """Sum of the group's committed offsets on ``topics`` (0 before the first commit)."""
    wanted = set(topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(m.offset for tp, m in offsets.items() if tp.topic in wanted and m.offset > 0)


async def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Records ever written to ``topic`` (plus transaction markers): its end offsets summed."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        return sum((await consumer.end_offsets(tps)).values()) if tps else 0
    finally:
        await consumer.stop()


def board_key(line: bytes) -> bytes:
    """The producer key: the event's board, as producers of the scores topic do."""
    return str(json.loads(line)["board"]).encode()


def producer_settings() -> dict[str, Any]:
    """The load producer's settings (recorded in each result)."""
    return {"linger_ms": 5, "max_batch_size": 256 * 1024, "acks": 1}


async def produce_all(bootstrap: str, topic: str, lines: list[bytes]) -> float:
    """Send every line as fast as the client goes; returns the seconds until all acked."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **producer_settings())
    await producer.start()
    try:
        t0 = time.monotonic()
        futures = [await producer.send(topic, line, key=board_key(line)) for line in lines]
        await asyncio.gather(*futures)
        return time.monotonic() - t0
    finally:
        await producer.stop()


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of ``pid`` in KiB, from /proc (0, 0 when it is gone)."""
    current = peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    return current, peak


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads) so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_settings(guarantee: str, partitions: int) -> dict[str, Any]:
    """The worker settings that matter for the figures: the Settings defaults (read, not
    copied, so they follow the code) with this run's overrides."""
    from streams.runtime.settings import Settings

    fields = (
        "batch_max_events",
        "batch_max_ms",
        "producer_linger_ms",
        "commit_interval_s",
        "rocksdb_block_cache_mb",
        "rocksdb_write_buffer_mb",
        "replication_factor",
    )
    defaults = {name: Settings.model_fields[name].default for name in fields}
    return {**defaults, "partitions": partitions, "processing_guarantee": guarantee}


class BenchFailure(RuntimeError):
    """A leg could not be measured (the worker died, a timeout passed, ...)."""


@dataclass
class Worker(StreamJob):
    """A leg's stream job, run by one worker process (worker 0) at a time: its data folder
    stays across restarts, each start gets a new web port and log. The job's own fields are
    StreamJob's; a dead worker or a missed wait raises :class:`BenchFailure`."""

    failure: ClassVar[type[Exception]] = BenchFailure

    @property
    def proc(self) -> subprocess.Popen[bytes] | None:
        return self.current.get(0)

    @property
    def started_at(self) -> float:
        return self.start_times.get(0, 0.0)

    @property
    def web_port(self) -> int:
        """The HTTP API of the current start."""
        return self.web_ports.get(0, 0)

    @property
    def data_dir(self) -> Path:
        return self.data_dir_of(0)

    @property
    def log_path(self) -> Path:
        return self.log_path_of(0)

    def start(self) -> None:
        self.start_worker(0)

    def metrics(self) -> dict[str, float]:
        """The worker's /metrics, see :func:`scrape_metrics`."""
        return scrape_metrics(f"http://127.0.0.1:{self.web_port}/metrics")

    def committed(self) -> int:
        """Events through both agents (intake and ranking) and committed, by this process:
        the outcome counters of its /metrics, which count a unit once it is committed. (Not
        the by-board topic's offsets: a message there holds a run of events, streams.edge.wire.)"""
        try:
            found = self.metrics()
        except OSError:  # not serving yet
            return 0
        names = (f'rankstream_events_total{{outcome="{o}"}}' for o in DONE_OUTCOMES)
        return int(sum(found.get(name, 0) for name in names))

    def wait_committed(self, target: int, timeout: float, rss: RssSampler | None = None) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if rss is not None:
                rss.sample()
            if self.committed() >= target:
                return
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchFailure(
                    f"worker committed {self.committed()} < {target} after {timeout}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)

    def wipe_data(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def cleanup(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            self.delete_topics()


@dataclass
class RssSampler:
    """Samples a process's RSS; keeps (seconds since start, RSS KiB) and the peak (VmHWM)."""

    pid: int
    t0: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, int]] = field(default_factory=list)
    peak_kib: int = 0

    def sample(self) -> int:
        current, peak = rss_kib(self.pid)
        if current:
            self.samples.append((round(time.monotonic() - self.t0, 2), current))
            self.peak_kib = max(self.peak_kib, peak)
        return current


def git_commit() -> dict[str, Any]:
    from bench.runinfo import git_info

    return git_info()


def machine() -> dict[str, Any]:
    """Cores, memory and the versions that matter (Python, Kafka client, broker, Redis)."""
    import importlib.metadata as md

    from bench.runinfo import machine_info

    info = machine_info()
    versions: dict[str, str | None] = {}
    for dist in ("faust-streaming", "aiokafka", "rocksdict", "redis", "pydantic"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    jars = sorted((ROOT / "deploy" / "kafka" / "lib").glob("kafka_*.jar"))
    versions["kafka_broker_jar"] = jars[0].name if jars else None
    redis_server = shutil.which("redis-server")
    if redis_server:
        out = subprocess.run([redis_server, "--version"], capture_output=True, text=True)
        versions["redis_server"] = out.stdout.strip()
    info["versions"] = versions
    info["load_avg_at_start"] = os.getloadavg()
    return info

"""Shared plumbing of the Kafka legs (``e2e_bench``, ``state_bench``): topics per run, one
worker process, its RSS, committed offsets, and the settings a result must record.

Every run gets its own app id and topics (``bench-<hex>-...``) on the shared broker and
deletes them at the end; nothing here stops, resets or reconfigures the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000
GUARANTEES = ("at_least_once", "exactly_once")


#: Outcomes that end an event's way through the worker ("late" counts besides "applied").
DONE_OUTCOMES = ("applied", "duplicate", "invalid")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


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


def run_id(prefix: str = "bench") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Delete this run's topics (its own, and the worker's internal ones)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


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


@dataclass
class Worker:
    """One ``rankstream worker`` process with its own app id, topics and data folder."""

    bootstrap: str
    app_id: str
    workdir: Path
    boards: Path
    partitions: int = 4
    guarantee: str = "exactly_once"
    extra_env: dict[str, str] = field(default_factory=dict)
    #: the worker's command line; default ``python -m streams.apps.cli worker``
    command: list[str] | None = None
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0
    web_port: int = 0  # the HTTP API of the current start (a free port per start)

    @property
    def scores(self) -> str:
        return f"{self.app_id}-scores"

    @property
    def changes(self) -> str:
        return f"{self.app_id}-changes"

    @property
    def state_log(self) -> str:
        return f"{self.app_id}-state-log"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.starts}.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RANKSTREAM_KAFKA_BOOTSTRAP=self.bootstrap,
            RANKSTREAM_APP_ID=self.app_id,
            RANKSTREAM_SCORES_TOPIC=self.scores,
            RANKSTREAM_CHANGES_TOPIC=self.changes,
            RANKSTREAM_DLQ_TOPIC=f"{self.app_id}-dlq",
            RANKSTREAM_DATA_DIR=str(self.data_dir),
            RANKSTREAM_WEB_PORT=str(self.web_port),
            RANKSTREAM_BOARDS=str(self.boards),
            RANKSTREAM_PARTITIONS=str(self.partitions),
            RANKSTREAM_PROCESSING_GUARANTEE=self.guarantee,
            **self.extra_env,
        )
        return env

    def create_topics(self) -> None:
        names = [self.scores, self.changes, f"{self.app_id}-dlq"]
        asyncio.run(create_topics(self.bootstrap, names, self.partitions))

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        self.web_port = free_port()
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child owns it
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            self.command or [sys.executable, "-m", "streams", "worker"],
            env=self.env(),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def metrics(self) -> dict[str, float]:
        """The worker's /metrics, see :func:`scrape_metrics`."""
        return scrape_metrics(f"http://127.0.0.1:{self.web_port}/metrics")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            raise BenchFailure(f"the worker exited; log tail:\n{self.log_text()[-3000:]}")

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds from the start until the worker logged "Worker ready"."""
        deadline = time.monotonic() + timeout
        while "Worker ready" not in self.log_text():
            self.check_alive()
            if time.monotonic() > deadline:
                raise BenchFailure(f"worker not ready after {timeout}s:\n{self.log_text()[-3000:]}")
            time.sleep(0.05)
        return time.monotonic() - self.started_at

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
                    f"{self.log_text()[-3000:]}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 30) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, for a worker whose state is not needed any more."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def wipe_data(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def cleanup(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            asyncio.run(delete_topics_with_prefix(self.bootstrap, self.app_id))


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


class BenchFailure(RuntimeError):
    """A leg could not be measured (the worker died, a timeout passed, ...)."""


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

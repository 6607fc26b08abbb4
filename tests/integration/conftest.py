"""Integration fixtures: the real local broker (started by `make test`), and factories that
give every test its own topics, app id, data folder and web port.

The worker processes run on bench/stream_job.py, the harness the bench's Kafka legs use too;
:class:`Job` only adds what the tests want of it (see there)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pytest

from bench.harness import scrape_metrics
from bench.stream_job import (
    StreamJob,
    free_port,
    kill_process,
    start_process,
    stop_processes,
)

BOOTSTRAP = os.environ.get("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092")
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka() -> str:
    """The broker's address; fails (never skips) when no broker answers."""
    host, port = BOOTSTRAP.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(f"no Kafka broker at {BOOTSTRAP} ({exc}); start it with `make kafka-up`")
    return BOOTSTRAP


@dataclass
class Job(StreamJob):
    """One isolated stream job (:class:`bench.stream_job.StreamJob`) in a test's folder
    ``tmp``. A dead worker or a missed wait fails the test (AssertionError), and a SIGKILLed
    worker's partitions move soon (a 6 s session timeout)."""

    extra_env: dict[str, str] = field(default_factory=lambda: {"RANKSTREAM_SESSION_TIMEOUT_S": "6"})

    failure: ClassVar[type[Exception]] = AssertionError

    @property
    def tmp(self) -> Path:
        return self.workdir


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if call.when == "call":
        item.stash[_FAILED] = outcome.get_result().failed  # type: ignore[attr-defined]


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def job_factory(
    kafka: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Job]]:
    jobs: list[Job] = []

    def make(**kwargs: object) -> Job:
        job = Job(kafka, tmp_path, **kwargs)  # type: ignore[arg-type]
        job.create_topics()
        jobs.append(job)
        return job

    yield make
    for job in jobs:
        job.stop(timeout=20)
    if not request.node.stash.get(_FAILED, True):
        # A passed test's topics go: hundreds of runs' topics made the broker's start-up
        # outlast `make up`'s wait. A failed test's stay, to be read.
        for job in jobs:
            job.delete_topics()


# --- RabbitMQ and the bridge (issue C) ------------------------------------------------------

RABBITMQ_URL = os.environ.get("RANKSTREAM_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/")


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The AMQP URL; fails (never skips) when RabbitMQ does not answer."""
    import pika

    try:
        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except Exception as exc:
        pytest.fail(f"no RabbitMQ at {RABBITMQ_URL} ({exc!r}); start it with `make rabbitmq-up`")
    return RABBITMQ_URL


@dataclass
class Bridge:
    """One `rankstream bridge` process for a Job, with its own queue, DLQ and exchange."""

    job: Job
    url: str
    mode: str = "durable"
    queue: str = ""
    metrics_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.queue = self.queue or f"{self.job.app_id}.rank_update"

    @property
    def dlq(self) -> str:
        return f"{self.queue}.dlq"

    @property
    def exchange(self) -> str:
        return f"{self.job.app_id}.rank_changes"

    def env(self) -> dict[str, str]:
        env = self.job.env()
        env.update(
            RANKSTREAM_RABBITMQ_URL=self.url,
            RANKSTREAM_BRIDGE_QUEUE=self.queue,
            RANKSTREAM_BRIDGE_DLQ=self.dlq,
            RANKSTREAM_BRIDGE_EXCHANGE=self.exchange,
            RANKSTREAM_BRIDGE_QUEUE_MODE=self.mode,
            RANKSTREAM_BRIDGE_METRICS_PORT=str(self.metrics_port),
            RANKSTREAM_BRIDGE_RETRY_MAX_S="1",
        )
        return env

    def log_path(self, start: int | None = None) -> Path:
        n = len(self.procs) if start is None else start
        return self.job.tmp / f"bridge-{self.job.app_id}-{n}.log"

    def start(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "streams", "bridge"]
        proc = start_process(command, self.env(), self.log_path(len(self.procs) + 1))
        self.procs.append(proc)
        return proc

    def log_text(self) -> str:
        return "\n".join(
            self.log_path(n).read_text(errors="replace")
            for n in range(1, len(self.procs) + 1)
            if self.log_path(n).exists()
        )

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def metrics(self) -> dict[str, float]:
        """The bridge's counters (name{labels} -> value) read over its HTTP port."""
        return scrape_metrics(f"http://localhost:{self.metrics_port}/metrics")

    def kill(self) -> None:
        kill_process(self.procs[-1])

    def stop(self) -> None:
        stop_processes(self.procs, timeout=15)


@pytest.fixture
def bridge_factory(rabbitmq: str) -> Iterator[Callable[..., Bridge]]:
    """Bridges for Jobs; their queues and exchange are deleted afterwards."""
    bridges: list[Bridge] = []

    def make(job: Job, **kwargs: object) -> Bridge:
        bridge = Bridge(job, rabbitmq, **kwargs)  # type: ignore[arg-type]
        bridges.append(bridge)
        return bridge

    yield make
    import pika

    for bridge in bridges:
        bridge.stop()
    try:
        conn = pika.BlockingConnection(pika.URLParameters(rabbitmq))
    except Exception:
        return
    for bridge in bridges:
        channel = conn.channel()
        for queue in (bridge.queue, bridge.dlq):
            channel.queue_delete(queue)
        channel.exchange_delete(bridge.exchange)
    conn.close()


@dataclass
class PrivateKafka:
    """A Kafka broker of one test's own (deploy/kafka/up.sh on other ports and data dir),
    for tests that stop Kafka: the shared broker on :9092 must stay up."""

    var_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"localhost:{self.port}"

    def _run(self, script: str) -> None:
        env = dict(
            os.environ,
            KAFKA_PORT=str(self.port),
            KAFKA_CONTROLLER_PORT=str(self.controller_port),
            KAFKA_VAR_DIR=str(self.var_dir),
            KAFKA_HEAP_OPTS="-Xms128m -Xmx512m",
        )
        result = subprocess.run(
            ["bash", str(ROOT / "deploy" / "kafka" / script)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"

    def start(self) -> None:
        self._run("up.sh")

    def stop(self) -> None:
        self._run("down.sh")


@pytest.fixture
def private_kafka_factory(tmp_path: Path) -> Iterator[Callable[[], PrivateKafka]]:
    brokers: list[PrivateKafka] = []

    def make() -> PrivateKafka:
        broker = PrivateKafka(tmp_path / f"kafka-{len(brokers)}")
        brokers.append(broker)
        broker.start()
        return broker

    yield make
    for broker in brokers:
        broker.stop()

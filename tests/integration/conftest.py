"""Integration fixtures: the real local broker (started by `make test`), and factories that
give every test its own topics, app id, data folder and web port."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


async def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


@dataclass
class Job:
    """One isolated stream job: its own app id, topics and data folder."""

    bootstrap: str
    tmp: Path
    boards: Path | None = None
    partitions: int = 4
    guarantee: str = "exactly_once"  # the contract's default
    app_id: str = field(default_factory=lambda: f"rs-{uuid.uuid4().hex[:10]}")
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    starts: dict[int, int] = field(default_factory=dict)

    @property
    def scores(self) -> str:
        return f"{self.app_id}-scores"

    @property
    def changes(self) -> str:
        return f"{self.app_id}-changes"

    @property
    def dlq(self) -> str:
        return f"{self.app_id}-dlq"

    def env(self, worker: int = 0) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            RANKSTREAM_KAFKA_BOOTSTRAP=self.bootstrap,
            RANKSTREAM_APP_ID=self.app_id,
            RANKSTREAM_SCORES_TOPIC=self.scores,
            RANKSTREAM_CHANGES_TOPIC=self.changes,
            RANKSTREAM_DLQ_TOPIC=self.dlq,
            RANKSTREAM_DATA_DIR=str(self.tmp / f"data-{worker}"),
            RANKSTREAM_WEB_PORT=str(free_port()),
            RANKSTREAM_PARTITIONS=str(self.partitions),
            RANKSTREAM_PROCESSING_GUARANTEE=self.guarantee,
            RANKSTREAM_SESSION_TIMEOUT_S="6",  # a SIGKILLed worker's partitions move soon
        )
        if self.boards is not None:
            env["RANKSTREAM_BOARDS"] = str(self.boards)
        return env

    def create_topics(self) -> None:
        topics = [self.scores, self.changes, self.dlq]
        asyncio.run(create_topics(self.bootstrap, topics, self.partitions))

    def _log_path(self, worker: int) -> Path:
        """The log of the worker's latest start (each start gets its own file)."""
        return self.tmp / f"worker-{worker}-{self.starts.get(worker, 0)}.log"

    def start_worker(self, worker: int = 0) -> subprocess.Popen[bytes]:
        self.starts[worker] = self.starts.get(worker, 0) + 1
        log = open(self._log_path(worker), "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "streams.cli", "worker"],
            env=self.env(worker),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def log_tail(self, worker: int = 0, lines: int = 40) -> str:
        path = self._log_path(worker)
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def job_factory(kafka: str, tmp_path: Path) -> Iterator[Callable[..., Job]]:
    jobs: list[Job] = []

    def make(**kwargs: object) -> Job:
        job = Job(kafka, tmp_path, **kwargs)  # type: ignore[arg-type]
        job.create_topics()
        jobs.append(job)
        return job

    yield make
    for job in jobs:
        job.stop()

"""The one harness for running rankstream worker processes against a Kafka broker, used by
the bench's Kafka legs (``bench.harness.Worker``) and the integration tests
(``tests/integration/conftest.py::Job``): a job's own app id and topics, the worker's
``RANKSTREAM_*`` environment, ``python -m streams worker`` processes with a log file per start,
waiting for a log line, stop and kill, and the topic and port helpers they need.

It lives in bench/ because both sides already depend on bench (the tests import its event
generator and metrics scraper; bench imports nothing from tests), and because it is tooling
that drives the shipped package from outside, not part of it: it only sets environment
variables and starts ``python -m streams``, so it reads no Settings and imports no streams code.

Invariants: every job has its own app id, and every topic it creates or deletes starts with
``<app id>-``, so jobs on the shared broker never touch each other's topics and nothing here
stops, resets or reconfigures the broker. Each worker process runs in its own session, so a
stop or kill reaches the children it started too.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[1]
WORKER_COMMAND = (sys.executable, "-m", "streams", "worker")
#: what faust logs once the worker has joined its group and serves
READY_LINE = "Worker ready"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("localhost", 0))
        return int(sock.getsockname()[1])


def run_id(prefix: str) -> str:
    """A fresh id for one run's app id and topic names (fixed length, so no id prefixes
    another of the same prefix)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, partitions, 1) for n in names])
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> list[str]:
    """Delete the topics whose names start with ``prefix``; returns their names."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return names
    finally:
        await admin.close()


def start_process(
    command: Iterable[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """``command`` in the repository root, in a session of its own, stdout and stderr into
    ``log_path`` (truncated)."""
    with open(log_path, "wb") as log:  # the child holds its own copy of the descriptor
        return subprocess.Popen(
            list(command),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_processes(procs: Iterable[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM every live process's group, then wait for all; SIGKILL the groups of those
    still running ``timeout`` seconds after the SIGTERMs (one deadline for all)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            kill_process(proc)


def kill_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process's group (if it still runs) and reap it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class WorkerFailure(RuntimeError):
    """A worker process exited, or did not log what was awaited in time."""


@dataclass
class StreamJob:
    """One isolated stream job: its own app id, topics (``<app id>-scores``, ``-changes``,
    ``-dlq``) and folder. Its workers are numbered; worker ``n`` keeps its data in
    ``<workdir>/data-<n>`` across its starts, and each start gets a new process, a new web
    port and a new log file ``<workdir>/worker-<n>-<start>.log``."""

    bootstrap: str
    workdir: Path
    boards: Path | None = None
    partitions: int = 4
    guarantee: str = "exactly_once"  # the contract's default
    app_id: str = field(default_factory=lambda: run_id("rs"))
    #: variables every start gets on top of the job's own (a start's own come last)
    extra_env: dict[str, str] = field(default_factory=dict)
    #: the worker's command line; ``None``: ``python -m streams worker``
    command: list[str] | None = None
    #: every process started, in the order started
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list, init=False, repr=False)
    #: starts so far, per worker
    starts: dict[int, int] = field(default_factory=dict, init=False)
    #: per worker: its latest process, when it started (monotonic) and its web port
    current: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict, init=False)
    start_times: dict[int, float] = field(default_factory=dict, init=False, repr=False)
    web_ports: dict[int, int] = field(default_factory=dict, init=False, repr=False)

    #: what a failed wait or a dead worker raises (tests: an assertion)
    failure: ClassVar[type[Exception]] = WorkerFailure

    @property
    def scores(self) -> str:
        return f"{self.app_id}-scores"

    @property
    def changes(self) -> str:
        return f"{self.app_id}-changes"

    @property
    def dlq(self) -> str:
        return f"{self.app_id}-dlq"

    @property
    def state_log(self) -> str:
        return f"{self.app_id}-state-log"

    def create_topics(self) -> None:
        topics = [self.scores, self.changes, self.dlq]
        asyncio.run(create_topics(self.bootstrap, topics, self.partitions))

    def delete_topics(self) -> list[str]:
        """Delete this job's topics: its own and the ones its workers created."""
        return asyncio.run(delete_topics_with_prefix(self.bootstrap, f"{self.app_id}-"))

    def data_dir_of(self, worker: int) -> Path:
        return self.workdir / f"data-{worker}"

    def log_path_of(self, worker: int) -> Path:
        """The log of the worker's latest start."""
        return self.workdir / f"worker-{worker}-{self.starts.get(worker, 0)}.log"

    def env(self, worker: int = 0) -> dict[str, str]:
        """This process's environment with the job's settings for ``worker`` (a free web
        port per call), then ``extra_env``."""
        env = dict(os.environ)
        env.update(
            RANKSTREAM_KAFKA_BOOTSTRAP=self.bootstrap,
            RANKSTREAM_APP_ID=self.app_id,
            RANKSTREAM_SCORES_TOPIC=self.scores,
            RANKSTREAM_CHANGES_TOPIC=self.changes,
            RANKSTREAM_DLQ_TOPIC=self.dlq,
            RANKSTREAM_DATA_DIR=str(self.data_dir_of(worker)),
            RANKSTREAM_WEB_PORT=str(free_port()),
            RANKSTREAM_PARTITIONS=str(self.partitions),
            RANKSTREAM_PROCESSING_GUARANTEE=self.guarantee,
        )
        if self.boards is not None:
            env["RANKSTREAM_BOARDS"] = str(self.boards)
        env.update(self.extra_env)
        return env

    def start_worker(
        self, worker: int = 0, command: list[str] | None = None, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start ``worker`` again (same data folder): ``command`` replaces the job's command
        (a worker with a fault injected, the intake alone); ``env`` adds variables."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts[worker] = self.starts.get(worker, 0) + 1
        full_env = {**self.env(worker), **env}
        self.web_ports[worker] = int(full_env["RANKSTREAM_WEB_PORT"])
        self.start_times[worker] = time.monotonic()
        proc = start_process(
            command or self.command or WORKER_COMMAND, full_env, self.log_path_of(worker)
        )
        self.procs.append(proc)
        self.current[worker] = proc
        return proc

    def log_text(self, worker: int = 0) -> str:
        """The log of the worker's latest start ("" before its first)."""
        path = self.log_path_of(worker)
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, worker: int = 0, lines: int = 40) -> str:
        text = self.log_text(worker) or "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self, worker: int = 0) -> None:
        proc = self.current.get(worker)
        if proc is None or proc.poll() is not None:
            raise self.failure(f"worker {worker} exited; log tail:\n{self.log_tail(worker)}")

    def wait_log(self, text: str, worker: int = 0, timeout: float = 120) -> float:
        """Seconds from the worker's latest start until its log holds ``text``."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text(worker):
            self.check_alive(worker)
            if time.monotonic() > deadline:
                raise self.failure(
                    f"worker {worker}: no {text!r} after {timeout}s:\n{self.log_tail(worker)}"
                )
            time.sleep(0.1)
        return time.monotonic() - self.start_times[worker]

    def wait_ready(self, worker: int = 0, timeout: float = 120) -> float:
        """Seconds from the worker's latest start until it logged that it is ready."""
        return self.wait_log(READY_LINE, worker, timeout)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM every worker still running; SIGKILL those not gone after ``timeout``."""
        stop_processes(self.procs, timeout)

    def kill(self) -> None:
        """SIGKILL every worker still running (its state is not needed any more)."""
        for proc in self.procs:
            kill_process(proc)

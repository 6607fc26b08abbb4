"""Time from SIGKILL of a worker to it being ready again, with and without static
membership (``RANKSTREAM_GROUP_INSTANCE_ID``).

Two workers of one app id run on the local broker with a small feed; one of them is
SIGKILLed and started again at once (as a Kubernetes StatefulSet restarts a pod, with its
name and its volume). "Ready again" is the first moment when

* its ``/healthz`` answers 200, and
* both consumer groups of the job (faust's ``<app_id>`` and the intake stage's
  ``<app_id>-intake``) are Stable with two members that each hold partitions, i.e. the
  restarted worker has partitions again, and nothing waits for the dead member.

Without static membership the group only drops the dead member after the session timeout
(RANKSTREAM_SESSION_TIMEOUT_S, 30 s by default), and the rebalance that gives the new one
its partitions waits for that. With a group instance id the restarted worker takes the dead
member's place (and its partitions) as soon as it joins.

    .venv/bin/python -m bench.restart_time [--runs 3] [--session-timeout 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from aiokafka.coordinator.protocol import (  # type: ignore[import-untyped]
    ConsumerProtocolMemberAssignment,
)
from aiokafka.protocol.admin import (  # type: ignore[import-untyped]
    DescribeGroupsRequest,
    DescribeGroupsRequest_v2,
)

from bench.gen_events import GenConfig, iter_lines
from bench.harness import BenchFailure, Worker, produce_all
from bench.runinfo import machine_info
from bench.stream_job import free_port, run_id

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "bench" / "boards.toml"


@dataclass
class Pod(Worker):
    """A worker that keeps its web port across restarts, as a pod keeps its address.

    faust's assignor insists on it: a static member handed its old assignment under
    another web URL fails an assertion (faust/assignor/partition_assignor.py,
    ``on_assignment``) and its consumer stops."""

    port: int = field(default_factory=free_port)

    def __post_init__(self) -> None:
        self.extra_env["RANKSTREAM_WEB_PORT"] = str(self.port)


def healthy(worker: Pod) -> bool:
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{worker.port}/healthz", timeout=1
        ) as response:
            return int(response.status) == 200
    except (OSError, urllib.error.URLError):
        return False


class _DescribeGroupsV2(DescribeGroupsRequest):  # type: ignore[misc]
    """DescribeGroups at v2: aiokafka 0.14 decodes a v3 answer with the v2 schema, which
    fails on a group with members ("Buffer underrun")."""

    def prepare(self, versions: dict[int, tuple[int, int]]) -> Any:
        return DescribeGroupsRequest_v2(self._groups)


async def groups_settled(bootstrap: str, groups: list[str], members: int) -> bool:
    """Every group Stable with ``members`` members, each assigned at least one partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        responses = []
        for group_id in groups:
            node = await admin.find_coordinator(group_id)
            responses.append(await admin._send_request(_DescribeGroupsV2([group_id]), node))
    finally:
        await admin.close()
    for response in responses:
        for group in response.groups:
            _error, _name, state, _ptype, _protocol, found = group[:6]
            if state != "Stable" or len(found) != members:
                return False
            for member in found:
                assignment = ConsumerProtocolMemberAssignment.decode(member[-1])
                if not any(partitions for _topic, partitions in assignment.assignment):
                    return False
    return True


def wait_until_ready(workers: list[Pod], victim: Pod, timeout: float) -> float:
    """Seconds until the victim is healthy and both groups settled (see the module doc)."""
    start = time.monotonic()
    groups = [victim.app_id, f"{victim.app_id}-intake"]
    while True:
        for worker in workers:
            worker.check_alive()
        if healthy(victim) and asyncio.run(groups_settled(victim.bootstrap, groups, len(workers))):
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise BenchFailure(f"not ready after {timeout}s:\n{victim.log_text()[-3000:]}")
        time.sleep(0.1)


def measure(bootstrap: str, static: bool, session_timeout: float, workdir: Path) -> float:
    app_id = run_id("restart")
    workers = []
    for index in range(2):
        env = {"RANKSTREAM_SESSION_TIMEOUT_S": str(session_timeout)}
        if static:
            env["RANKSTREAM_GROUP_INSTANCE_ID"] = f"{app_id}-worker-{index}"
        workers.append(
            Pod(bootstrap, workdir / app_id / f"w{index}", BOARDS, app_id=app_id, extra_env=env)
        )
    try:
        workers[0].create_topics()
        for worker in workers:
            worker.start()
        wait_until_ready(workers, workers[0], 180)
        now = time.time_ns() // 1_000_000
        feed = GenConfig(
            events=2000,
            users=200,
            boards=10,
            seed=7,
            start_ms=now - 3_600_000,
            span_hours=1,
            now_ms=now,
        )
        lines = [line for kind, line, _ in iter_lines(feed) if kind != "blank"]
        asyncio.run(produce_all(bootstrap, workers[0].scores, lines))
        time.sleep(3)  # let the workers take it in: the victim restarts warm, with state
        victim = workers[0]
        victim.kill()
        victim.start()  # at once, same data folder and (static) the same instance id
        return wait_until_ready(workers, victim, 4 * session_timeout + 60)
    finally:
        for worker in workers:  # all gone first: a live one would recreate deleted topics
            worker.kill()
        for worker in workers:
            worker.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--runs", type=int, default=3, help="kills per mode (default: 3)")
    parser.add_argument(
        "--session-timeout", type=float, default=30.0, help="seconds (default: 30, the default)"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    workdir = ROOT / "var" / "bench-restart"
    results: dict[str, Any] = {"session_timeout_s": args.session_timeout, "runs": {}}
    for mode, static in (("dynamic", False), ("static", True)):
        seconds = []
        for run in range(args.runs):
            took = measure(args.bootstrap, static, args.session_timeout, workdir)
            print(f"{mode} membership, run {run + 1}: ready {took:.1f} s after SIGKILL")
            seconds.append(round(took, 2))
        results["runs"][mode] = seconds
        print(f"{mode}: median {statistics.median(seconds):.1f} s ({seconds})", flush=True)
    results["machine"] = machine_info()
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

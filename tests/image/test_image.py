"""The image for real: a worker container on the local broker until /healthz is ready, a
feed with invalid events folds to what `rankstream replay` (run here, from the checkout)
folds to; the same image runs `replay` too (one image for every command), stops cleanly
on SIGTERM, and Docker's HEALTHCHECK reports it healthy.

Containers use ``--network host`` (tests talk to loopback only; the daemon runs without a
bridge) and a named volume for the state directory, like a deployment would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.gen_events import INVALID_KINDS, GenConfig, iter_lines
from schemas.timefmt import format_ms
from streams.edge.fold import Folded, WindowKey
from tests.integration.conftest import Job
from tests.integration.kafka_io import consume_until, produce

from .conftest import DOCKER, ROOT, docker

BOARDS = ROOT / "bench" / "boards.toml"
IN_CONTAINER_BOARDS = "/etc/rankstream/boards.toml"
DAY_MS = 86_400_000


def feed(now: int) -> tuple[list[bytes], int]:
    """A few hundred lines over nine days of event time, ~8% invalid: (lines, invalid)."""
    cfg = GenConfig(
        events=600,
        users=40,
        boards=10,
        seed=23,
        mix_invalid=True,
        invalid_rate=0.08,
        start_ms=now - 10 * DAY_MS,
        span_hours=9 * 24,
        now_ms=now,
    )
    generated = [(kind, line) for kind, line, _ in iter_lines(cfg) if kind != "blank"]
    invalid = sum(1 for kind, _ in generated if kind in INVALID_KINDS)
    return [line for _, line in generated], invalid


def replay_here(lines: list[bytes], now: int, tmp: Path) -> tuple[bytes, int]:
    """`rankstream replay` from the checkout: (push records, number of dead letters)."""
    dlq = tmp / "replay-dlq.jsonl"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "streams", "replay", "--boards", str(BOARDS)),
            *("--now", format_ms(now), "--dlq", str(dlq)),
        ],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        check=True,
    )
    return result.stdout, len(dlq.read_bytes().splitlines())


def standings(folded: Folded) -> dict[WindowKey, list[tuple[int, str, int]]]:
    return {key: folded.standings(key) for key in folded.tops}


class Container:
    """One `docker run -d` of the image; removed (with its volume) by the fixture."""

    def __init__(self, image: str, name: str) -> None:
        self.image, self.name, self.volume = image, name, f"{name}-state"
        self.started = False

    def run(self, env: dict[str, str], *args: str) -> None:
        flags = [f"--env={k}={v}" for k, v in sorted(env.items())]
        docker(
            "run", "--detach", "--name", self.name, "--network", "host",
            # As in the Kubernetes manifests: read-only root, writable state and /tmp only.
            "--read-only", "--tmpfs", "/tmp",
            "--volume", f"{self.volume}:/var/lib/rankstream",
            "--volume", f"{BOARDS}:{IN_CONTAINER_BOARDS}:ro",
            *flags, self.image, *args,
        )  # fmt: skip
        self.started = True

    def state(self) -> dict[str, Any]:
        return dict(json.loads(docker("inspect", "--format", "{{json .State}}", self.name)))

    def logs(self, lines: int = 40) -> str:
        result = subprocess.run(
            [DOCKER, "logs", "--tail", str(lines), self.name],
            capture_output=True,
            text=True,
            timeout=30,
        )
        return result.stdout + result.stderr

    def running(self) -> bool:
        return bool(self.state()["Running"])

    def remove(self) -> None:
        docker("rm", "--force", "--volumes", self.name, check=False)
        docker("volume", "rm", "--force", self.volume, check=False)


@pytest.fixture
def container_factory(image: str) -> Iterator[Callable[[str], Container]]:
    made: list[Container] = []

    def make(name: str) -> Container:
        container = Container(image, name)
        made.append(container)
        return container

    yield make
    for container in made:
        container.remove()


def healthz(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://localhost:{port}/healthz", timeout=3) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0


def wait_until(what: str, ok: Callable[[], bool], container: Container, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert container.running(), f"container exited before {what}:\n{container.logs()}"
        assert time.monotonic() < deadline, f"no {what} after {timeout}s:\n{container.logs()}"
        time.sleep(0.5)


def test_worker_container_folds_to_replay_and_image_runs_replay(
    image: str, job_factory: Callable[..., Job], container_factory: Callable[[str], Container]
) -> None:
    job = job_factory(boards=BOARDS)
    env = {k: v for k, v in job.env().items() if k.startswith("RANKSTREAM_")}
    del env["RANKSTREAM_DATA_DIR"]  # the image's: /var/lib/rankstream, on the volume
    port = int(env["RANKSTREAM_WEB_PORT"])
    env.update(
        RANKSTREAM_BOARDS=IN_CONTAINER_BOARDS,
        # The image listens on 0.0.0.0; on the host network, loopback is enough here.
        RANKSTREAM_WEB_HOST="127.0.0.1",
    )
    worker = container_factory(job.app_id)
    worker.run(env)  # the image's default command: worker
    wait_until("/healthz 200", lambda: healthz(port) == 200, worker, timeout=180)

    now = time.time_ns() // 1_000_000
    lines, invalid = feed(now)
    assert 20 < invalid < len(lines) / 4
    produce(job.bootstrap, job.scores, lines)
    replayed, dead_letters = replay_here(lines, now, job.tmp)
    expected = standings(Folded().extend(json.loads(r) for r in replayed.splitlines()))
    # Replay dead-letters at least the generator's invalid lines (the engine may reject
    # more, e.g. events behind its dedup horizon): its count is the reference.
    assert dead_letters >= invalid and len(expected) > 10

    def folded(seen: dict[str, list[Any]]) -> Folded:
        return Folded().extend(record for *_, record in seen[job.changes])

    def done(seen: dict[str, list[Any]]) -> bool:
        assert worker.running(), f"worker container exited:\n{worker.logs()}"
        return len(seen[job.dlq]) >= dead_letters and standings(folded(seen)) == expected

    seen = consume_until(job.bootstrap, [job.changes, job.dlq], done, timeout=120)
    got = standings(folded(seen))
    differ = [key for key in expected if got.get(key) != expected[key]]
    assert not differ and got.keys() == expected.keys(), (
        f"{len(differ)} windows differ from replay, e.g. {differ[:3]}\n{worker.logs()}"
    )
    letters = [record for *_, record in seen[job.dlq]]
    assert len(letters) == dead_letters
    # Intake letters name the scores topic; the rank stage's (too_old) its by-board topic.
    assert all(letter["reason"] for letter in letters)
    assert all(letter["source"]["topic"].startswith(job.scores) for letter in letters)

    # Docker's own HEALTHCHECK (every 15 s) runs the image's probe against /healthz.
    wait_until(
        "HEALTHCHECK healthy",
        lambda: worker.state().get("Health", {}).get("Status") == "healthy",
        worker,
        timeout=60,
    )

    # The same image runs `replay` (stdin -> stdout, no network), byte for byte like here.
    in_image = subprocess.run(
        [
            *(DOCKER, "run", "--rm", "--interactive", "--network", "none", "--no-healthcheck"),
            *("--volume", f"{BOARDS}:{IN_CONTAINER_BOARDS}:ro", image),
            *("replay", "--boards", IN_CONTAINER_BOARDS, "--now", format_ms(now)),
        ],
        input=b"\n".join(lines) + b"\n",
        capture_output=True,
        timeout=120,
    )
    assert in_image.returncode == 0, in_image.stderr.decode(errors="replace")
    assert in_image.stdout == replayed

    # SIGTERM (docker stop) reaches the worker through tini: a graceful stop well within
    # the grace period, not the SIGKILL after it (exit status 137).
    t0 = time.monotonic()
    docker("stop", "--time", "45", worker.name, timeout=90)
    stopped_after = time.monotonic() - t0
    state = worker.state()
    assert state["ExitCode"] != 137 and stopped_after < 40, (
        f"exit {state['ExitCode']} after {stopped_after:.1f}s:\n{worker.logs()}"
    )

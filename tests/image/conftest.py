"""The container-image tier (`make test-image`): the image built from
deploy/container/Dockerfile, run with Debian's docker against the real local broker.

`make test` runs this folder through `make test-image` only: its main `pytest tests` run
passes ``--ignore=tests/image``, so these tests never run twice.

The broker fixtures and the per-test topics/app id come from tests/integration/conftest.py
(re-exported here: a conftest's fixtures only reach tests below it).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401  (fixtures and the report hook)
    job_factory,
    kafka,
    pytest_runtest_makereport,
)

ROOT = Path(__file__).resolve().parents[2]
#: Debian's docker.io CLI (BuildKit built in); another `docker` on PATH may lack it.
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
IMAGE = os.environ.get("RANKSTREAM_IMAGE", "rankstream:dev")


def docker(*args: str, timeout: float = 60, check: bool = True, **kwargs: object) -> str:
    """Run the docker CLI; its stdout. A failure shows the command and its stderr."""
    result = subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )  # type: ignore[call-overload]
    if check and result.returncode != 0:
        raise AssertionError(
            f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr[-3000:]}"
        )
    return str(result.stdout)


@pytest.fixture(scope="session")
def image() -> str:
    """The rankstream image, (re)built from the working tree (BuildKit layer cache: seconds
    when nothing changed). Fails, never skips, when no Docker daemon answers."""
    if not Path(DOCKER).exists():
        pytest.fail(f"{DOCKER} missing: `make docker-up` installs Debian's docker.io")
    try:
        subprocess.run([DOCKER, "info"], capture_output=True, timeout=15, check=True)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.fail(f"no Docker daemon answers ({exc!r}): start it with `make docker-up`")
    build = subprocess.run(
        ["bash", str(ROOT / "deploy" / "container" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "RANKSTREAM_IMAGE": IMAGE},
    )
    assert build.returncode == 0, f"image build failed:\n{build.stdout}\n{build.stderr}"
    return IMAGE

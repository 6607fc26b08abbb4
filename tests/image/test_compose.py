"""deploy/compose.yaml, validated by Debian's docker-compose (`config` resolves the anchors,
variables and paths without starting anything), then the wiring read from its output."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from streams.runtime.settings import ENV_PREFIX, Settings

from .conftest import ROOT

COMPOSE = ROOT / "deploy" / "compose.yaml"


def compose_config(**env: str) -> dict[str, Any]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose missing: `make docker-up` installs Debian's package")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return dict(yaml.safe_load(result.stdout))


def test_compose_file_is_valid_and_wired() -> None:
    services = compose_config()["services"]
    assert set(services) == {"kafka", "rabbitmq", "worker-1", "worker-2", "bridge", "demo"}
    assert all(s["network_mode"] == "host" for s in services.values())
    workers = [services["worker-1"], services["worker-2"]]
    ports = {w["environment"]["RANKSTREAM_WEB_PORT"] for w in workers}
    ids = {w["environment"]["RANKSTREAM_GROUP_INSTANCE_ID"] for w in workers}
    assert len(ports) == 2 and len(ids) == 2
    for name in ("worker-1", "worker-2", "bridge", "demo"):
        service = services[name]
        assert service["image"] == "rankstream:dev" and service["command"][0] in name
        env = service["environment"]
        assert env["RANKSTREAM_KAFKA_BOOTSTRAP"] == "localhost:9092"
        fields = {ENV_PREFIX + f.upper() for f in Settings.model_fields}
        assert {k for k in env if k.startswith(ENV_PREFIX)} <= fields, name
    for worker in workers:
        mounts = {m.split(":")[1]: m.split(":")[0] for m in worker["volumes"]}
        assert "/var/lib/rankstream" in mounts
        assert mounts[worker["environment"]["RANKSTREAM_BOARDS"]].endswith("examples/boards.toml")
        assert worker["depends_on"]["kafka"]["condition"] == "service_healthy"
    bridge = services["bridge"]["environment"]
    assert bridge["RANKSTREAM_RABBITMQ_URL"].endswith(":5672/")
    assert services["rabbitmq"]["environment"]["RABBITMQ_NODE_PORT"] in (5672, "5672")


def test_compose_ports_are_settable_to_run_beside_other_brokers() -> None:
    services = compose_config(KAFKA_PORT="19092", RABBITMQ_PORT="5772")["services"]
    assert services["worker-1"]["environment"]["RANKSTREAM_KAFKA_BOOTSTRAP"] == "localhost:19092"
    assert services["kafka"]["environment"]["KAFKA_PORT"] in (19092, "19092")
    assert services["bridge"]["environment"]["RANKSTREAM_RABBITMQ_URL"].endswith(":5772/")

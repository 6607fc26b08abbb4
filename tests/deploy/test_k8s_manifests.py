"""The Kubernetes manifests (deploy/k8s), rendered by `kubectl kustomize` and checked
without a cluster: every object against the Kubernetes schema in strict mode (an unknown
field fails), then the wiring a typo would silently break: the boards ConfigMap reaching
RANKSTREAM_BOARDS as a mounted file, the Kafka secret reaching the SASL password file, the
state volume at the data dir, the probes, static membership from the pod name, and every
RANKSTREAM_* variable being a real setting."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streams.engine.config import load_boards
from streams.runtime.settings import ENV_PREFIX, Settings
from streams.runtime.stage_setup import TRANSACTION_TIMEOUT_MS

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
EXAMPLE = K8S / "overlays" / "example"
INTAKE = K8S / "components" / "intake"
#: Checked against the newest schema kubernetes-validate ships and an older one still in
#: common use, so the manifests use no field newer than that.
VERSIONS = (kubernetes_validate.latest_version(), "1.29")
#: Measured peak RSS of one worker at 1,000,000 users in one window (bench/README.md).
MEASURED_PEAK_MIB = 195
#: Variables the manifests set that are not (yet) fields of Settings. Keep empty: a name
#: here is one the worker would silently ignore.
NOT_SETTINGS: set[str] = set()

Obj = dict[str, Any]


def kustomize(path: Path) -> list[Obj]:
    kubectl = shutil.which("kubectl") or "/usr/bin/kubectl"
    if not Path(kubectl).exists():
        pytest.fail("kubectl not found: it renders deploy/k8s (kubectl kustomize); install it")
    result = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def example() -> list[Obj]:
    return kustomize(EXAMPLE)


@pytest.fixture(scope="module")
def with_intake(tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    """The example overlay plus the optional intake component (a throwaway overlay: kustomize
    takes only relative paths)."""
    here = tmp_path_factory.mktemp("with-intake")
    (here / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(EXAMPLE, here)],
                "components": [os.path.relpath(INTAKE, here)],
            }
        )
    )
    return kustomize(here)


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, got {len(found)}"
    return found[0]


def named(objs: list[Obj], kind: str, prefix: str) -> Obj:
    """An object by the name before kustomize's content hash (rankstream-boards-<hash>)."""
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, f"expected one {kind} {prefix}*, got {len(found)}"
    return found[0]


def pod_spec(workload: Obj) -> Obj:
    return dict(workload["spec"]["template"]["spec"])


def container(workload: Obj) -> Obj:
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def env(c: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in c.get("env", [])}


def env_value(c: Obj, name: str) -> str:
    entry = env(c).get(name)
    assert entry is not None and "value" in entry, f"{c['name']}: {name} has no plain value"
    return str(entry["value"])


def mounted_file(workload: Obj, path: str) -> tuple[Obj, str]:
    """(the pod volume, the key within it) that a file path inside the container comes from."""
    file = PurePosixPath(path)
    for mount in container(workload).get("volumeMounts", []):
        base = PurePosixPath(mount["mountPath"])
        if file.parent == base:
            volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
            source = volume.get("configMap") or volume.get("secret") or {}
            items = {i["path"]: i["key"] for i in source.get("items", [])}
            return volume, items.get(file.name, file.name)
    raise AssertionError(f"no volume is mounted at {file.parent} (for {path})")


def workloads(objs: list[Obj]) -> Iterator[Obj]:
    return (o for o in objs if o["kind"] in ("StatefulSet", "Deployment"))


def mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return float(quantity[: -len(suffix)]) * factor
    return float(quantity) / 2**20


def test_every_rendered_object_passes_the_strict_kubernetes_schema(
    example: list[Obj], with_intake: list[Obj]
) -> None:
    kinds = {o["kind"] for o in example}
    assert {"StatefulSet", "Deployment", "Service", "ConfigMap", "PodDisruptionBudget"} <= kinds
    for obj in example + with_intake:
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_rejects_an_unknown_field(example: list[Obj]) -> None:
    sts = one(example, "StatefulSet", "rankstream-worker")
    broken = {**sts, "spec": {**sts["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


def test_boards_configmap_reaches_rankstream_boards_as_a_mounted_file(
    example: list[Obj], tmp_path: Path
) -> None:
    boards = named(example, "ConfigMap", "rankstream-boards-")
    overlay_text = (EXAMPLE / "boards.toml").read_text()
    assert boards["data"]["boards.toml"] == overlay_text  # the overlay replaced the base's
    copy = tmp_path / "boards.toml"
    copy.write_text(overlay_text)
    assert "arena" in load_boards(copy).boards
    for workload in workloads(example):
        c = container(workload)
        if workload["metadata"]["name"] == "rankstream-bridge":
            assert "RANKSTREAM_BOARDS" not in env(c)  # the bridge reads no boards
            continue
        volume, key = mounted_file(workload, env_value(c, "RANKSTREAM_BOARDS"))
        assert volume["configMap"]["name"] == boards["metadata"]["name"]
        assert key in boards["data"]


def test_kafka_secret_reaches_the_sasl_password_file_and_ca(example: list[Obj]) -> None:
    settings = named(example, "ConfigMap", "rankstream-settings-")["data"]
    assert settings["RANKSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert settings["RANKSTREAM_KAFKA_SASL_MECHANISM"] in ("SCRAM-SHA-256", "SCRAM-SHA-512")
    assert settings["RANKSTREAM_KAFKA_SASL_USERNAME"]
    for workload in workloads(example):
        c = container(workload)
        refs = [r["configMapRef"]["name"] for r in c.get("envFrom", [])]
        assert refs == [named(example, "ConfigMap", "rankstream-settings-")["metadata"]["name"]]
        for name, key in [
            ("RANKSTREAM_KAFKA_SASL_PASSWORD_FILE", "sasl-password"),
            ("RANKSTREAM_KAFKA_SSL_CAFILE", "ca.crt"),
        ]:
            volume, found = mounted_file(workload, env_value(c, name))
            assert volume["secret"]["secretName"] == "rankstream-kafka"
            assert found == key
        assert "RANKSTREAM_KAFKA_SASL_PASSWORD" not in env(c) | settings  # file only


def test_bridge_takes_the_amqp_url_from_a_secret(example: list[Obj]) -> None:
    bridge = one(example, "Deployment", "rankstream-bridge")
    c = container(bridge)
    assert c["args"] == ["bridge"]
    ref = env(c)["RANKSTREAM_RABBITMQ_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "rankstream-rabbitmq", "key": "url"}
    volume, key = mounted_file(bridge, env_value(c, "RANKSTREAM_RABBITMQ_SSL_CAFILE"))
    assert (volume["secret"]["secretName"], key) == ("rankstream-rabbitmq", "ca.crt")
    assert bridge["spec"]["replicas"] == 1 and bridge["spec"]["strategy"]["type"] == "Recreate"


def test_worker_statefulset_state_probes_termination_and_identity(example: list[Obj]) -> None:
    sts = one(example, "StatefulSet", "rankstream-worker")
    c = container(sts)
    assert c["args"] == ["worker"]
    # One claim per pod, mounted at the data dir.
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    data_dir = env_value(c, "RANKSTREAM_DATA_DIR")
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts[data_dir] in claims
    # Readiness on /healthz; liveness and startup never on it (503 while restoring).
    port = c["ports"][0]
    web_port = named(example, "ConfigMap", "rankstream-settings-")["data"]["RANKSTREAM_WEB_PORT"]
    assert port["containerPort"] == int(web_port) and port["name"] == "http"
    assert c["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    for probe in ("livenessProbe", "startupProbe"):
        assert c[probe]["httpGet"]["path"] != "/healthz"
        assert c[probe]["httpGet"]["port"] == "http"
    startup = c["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    # Long enough to finish (commit or abort) a transaction in flight.
    grace = pod_spec(sts)["terminationGracePeriodSeconds"]
    assert grace > TRANSACTION_TIMEOUT_MS / 1000
    # Static membership from the pod's stable name.
    instance = env(c)["RANKSTREAM_GROUP_INSTANCE_ID"]["valueFrom"]["fieldRef"]
    assert instance["fieldPath"] == "metadata.name"
    # Listens beyond loopback, so probes and the other workers reach it.
    settings = named(example, "ConfigMap", "rankstream-settings-")["data"]
    assert settings["RANKSTREAM_WEB_HOST"] == "0.0.0.0"
    # Memory: requests cover the measured peak; the limit is above the request.
    res = c["resources"]
    assert mib(res["requests"]["memory"]) >= MEASURED_PEAK_MIB
    assert mib(res["limits"]["memory"]) > mib(res["requests"]["memory"])
    assert float(res["requests"]["cpu"]) >= 1
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod_spec(sts)["securityContext"]["runAsNonRoot"] is True


def test_services_pdb_and_scrape_annotations_select_the_workers(example: list[Obj]) -> None:
    sts = one(example, "StatefulSet", "rankstream-worker")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()
    headless = one(example, "Service", sts["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    query = one(example, "Service", "rankstream-query")
    pdb = one(example, "PodDisruptionBudget", "rankstream-worker")
    for selector in (
        headless["spec"]["selector"],
        query["spec"]["selector"],
        pdb["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    for service in (headless, query):
        assert {p["targetPort"] for p in service["spec"]["ports"]} == {"http"}
    for workload in workloads(example):
        annotations = workload["spec"]["template"]["metadata"]["annotations"]
        ports = {p["containerPort"] for p in container(workload)["ports"]}
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) in ports
        assert annotations["prometheus.io/path"] == "/metrics"


def test_example_overlay_settings(example: list[Obj]) -> None:
    sts = one(example, "StatefulSet", "rankstream-worker")
    settings = named(example, "ConfigMap", "rankstream-settings-")["data"]
    assert sts["metadata"]["namespace"] == "rankstream"
    # No more workers than partitions: the rest would sit idle.
    assert sts["spec"]["replicas"] <= int(settings["RANKSTREAM_PARTITIONS"])
    assert int(settings["RANKSTREAM_REPLICATION_FACTOR"]) >= 3
    image = container(sts)["image"]
    assert image.startswith("rankstream:") and not image.endswith(":dev")


def test_every_rankstream_variable_is_a_setting(example: list[Obj], with_intake: list[Obj]) -> None:
    fields = {ENV_PREFIX + name.upper() for name in Settings.model_fields}
    used = set()
    for obj in example + with_intake:
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"].startswith("rankstream-settings"):
            used |= set(obj["data"])
        for workload in workloads([obj]):
            used |= set(env(container(workload)))
    used = {name for name in used if name.startswith(ENV_PREFIX)}
    assert used - fields - NOT_SETTINGS == set()
    assert NOT_SETTINGS & fields == set(), "now a setting: drop it from NOT_SETTINGS"


def test_intake_component_runs_intake_apart_and_turns_it_off_in_workers(
    example: list[Obj], with_intake: list[Obj]
) -> None:
    inline = container(one(example, "StatefulSet", "rankstream-worker"))
    assert "RANKSTREAM_RUN_INTAKE" not in env(inline)
    worker = container(one(with_intake, "StatefulSet", "rankstream-worker"))
    assert env_value(worker, "RANKSTREAM_RUN_INTAKE") == "false"
    intake = one(with_intake, "Deployment", "rankstream-intake")
    c = container(intake)
    assert c["args"] == ["intake"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod_spec(intake)["terminationGracePeriodSeconds"] > TRANSACTION_TIMEOUT_MS / 1000

"""Secured connections for real (docs/security.md): the worker (with its intake stage) and
the bridge run a feed through the local broker's SASL_SSL listener (SCRAM-SHA-512 over TLS,
:9094) and RabbitMQ's TLS listener (amqps, :5671), and fold to the reference; a wrong
password and an untrusted certificate each stop them at start with a message that names the
setting and holds no password. The listeners, their CA and the SCRAM user come from
`make kafka-up` / `make rabbitmq-up` (deploy/kafka/up.sh, deploy/rabbitmq/up.sh)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.runtime.kafka_clients import SecuritySettingError, check_kafka, kafka_options
from streams.runtime.settings import load_settings

from .amqp_io import bind, collect, snippet
from .bridge_data import BOARDS, expected_tops, fold_mismatches, generate, got_records
from .conftest import ROOT, Bridge, Job

KAFKA_TLS = ROOT / "var" / "kafka" / "tls"
KAFKA_PASSWORD_FILE = ROOT / "var" / "kafka" / "sasl" / "rankstream.password"
RABBIT_TLS = ROOT / "var" / "rabbitmq" / "tls"
SASL_SSL = "localhost:9094"
MUTUAL_TLS = "localhost:9095"
AMQPS = "amqps://guest:guest@localhost:5671/"
WRONG = "not-the-Pa55word"


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("localhost", port), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def secured() -> None:
    """Fails (never skips) when the secured listeners are missing."""
    for port, what in [
        (9094, "make kafka-up"),
        (9095, "make kafka-up"),
        (5671, "make rabbitmq-up"),
    ]:
        if not _listening(port):
            pytest.fail(f"nothing listens on localhost:{port}; `{what}` opens it")
    for path in (KAFKA_TLS / "ca.pem", KAFKA_PASSWORD_FILE, RABBIT_TLS / "ca.pem"):
        assert path.is_file(), f"{path} is missing; `make kafka-up rabbitmq-up` makes it"


def sasl_env(**changes: str) -> dict[str, str]:
    env = {
        "RANKSTREAM_KAFKA_BOOTSTRAP": SASL_SSL,
        "RANKSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "RANKSTREAM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "RANKSTREAM_KAFKA_SASL_USERNAME": "rankstream",
        "RANKSTREAM_KAFKA_SASL_PASSWORD_FILE": str(KAFKA_PASSWORD_FILE),
        "RANKSTREAM_KAFKA_SSL_CAFILE": str(KAFKA_TLS / "ca.pem"),
    }
    env.update(changes)
    return {k: v for k, v in env.items() if v}


def amqps_env(**changes: str) -> dict[str, str]:
    env = {
        "RANKSTREAM_RABBITMQ_URL": AMQPS,
        "RANKSTREAM_RABBITMQ_SSL_CAFILE": str(RABBIT_TLS / "ca.pem"),
    }
    env.update(changes)
    return {k: v for k, v in env.items() if v}


def secure(job: Job, env: dict[str, str]) -> None:
    """Every process of the job (workers, bridges) connects with ``env``; the test's own
    producers and readers stay on the plaintext listener (job.bootstrap)."""
    plain_env = job.env
    job.env = lambda worker=0: {**plain_env(worker), **env}  # type: ignore[method-assign]


def untrusted_ca(tmp_path: Path) -> Path:
    """A CA of its own, which signed none of the brokers' certificates."""
    script = f'source "{ROOT}/deploy/lib/tls.sh" && tls_ensure "{tmp_path / "other"}" other'
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, timeout=60)
    return tmp_path / "other" / "ca.pem"


def wait_exit(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("still running: a settings problem must stop it at start")


def test_worker_and_bridge_fold_through_sasl_ssl_and_amqps(
    secured: None, job_factory: Callable[..., Job], bridge_factory: Callable[..., Bridge]
) -> None:
    job = job_factory(boards=BOARDS)
    secure(job, {**sasl_env(), **amqps_env()})
    bridge = bridge_factory(job)
    bridge.url = AMQPS
    everything = f"{job.app_id}.all"
    bind(bridge.exchange, "#", everything)
    job.start_worker()
    bridge.start()

    now, generated = generate(300, seed=23, invalid=False)
    lines = [line for _, line in generated]
    snippet(bridge.queue, lines, durable=True)  # the bridge takes them on over TLS
    expected = expected_tops(now, lines)

    def done(got: list[object]) -> bool:
        assert job.procs[0].poll() is None, f"worker died:\n{job.log_tail()}"
        assert bridge.procs[0].poll() is None, f"bridge died:\n{bridge.log_tail()}"
        return not fold_mismatches(got_records(got), expected)  # type: ignore[arg-type]

    got = collect(everything, done, timeout=150)  # type: ignore[arg-type]
    mismatched = fold_mismatches(got_records(got), expected)
    assert not mismatched, (
        f"{len(mismatched)} windows differ\n{job.log_tail()}\n{bridge.log_tail()}"
    )
    password = KAFKA_PASSWORD_FILE.read_text().strip()
    for text in (job.log_tail(lines=100_000), bridge.log_text()):
        assert password not in text and "guest:guest" not in text


@pytest.mark.parametrize("secret", ["password", "password_file"])
def test_wrong_kafka_password_stops_worker_and_bridge_naming_the_setting(
    secured: None,
    job_factory: Callable[..., Job],
    bridge_factory: Callable[..., Bridge],
    tmp_path: Path,
    secret: str,
) -> None:
    job = job_factory()
    if secret == "password":
        env = sasl_env(RANKSTREAM_KAFKA_SASL_PASSWORD_FILE="", RANKSTREAM_KAFKA_SASL_PASSWORD=WRONG)
        setting = "RANKSTREAM_KAFKA_SASL_PASSWORD"
    else:
        (tmp_path / "wrong").write_text(WRONG + "\n")
        env = sasl_env(RANKSTREAM_KAFKA_SASL_PASSWORD_FILE=str(tmp_path / "wrong"))
        setting = "RANKSTREAM_KAFKA_SASL_PASSWORD_FILE"
    secure(job, env)
    worker = job.start_worker()
    bridge = bridge_factory(job)
    bridge.start()
    # Exit status 2 and one line, as for any other settings error (no traceback).
    assert wait_exit(worker) == 2, job.log_tail()
    assert wait_exit(bridge.procs[0]) == 2, bridge.log_tail()
    for output in (job.log_tail(lines=10_000), bridge.log_text()):
        assert setting in output and "rejected" in output, output[-3000:]
        assert "rankstream: error:" in output and "Traceback" not in output, output[-3000:]
        assert WRONG not in output


def test_untrusted_kafka_certificate_stops_worker_and_bridge_naming_the_setting(
    secured: None,
    job_factory: Callable[..., Job],
    bridge_factory: Callable[..., Bridge],
    tmp_path: Path,
) -> None:
    job = job_factory()
    secure(job, sasl_env(RANKSTREAM_KAFKA_SSL_CAFILE=str(untrusted_ca(tmp_path))))
    worker = job.start_worker()
    bridge = bridge_factory(job)
    bridge.start()
    # Exit status 2 and one line, as for any other settings error (no traceback).
    assert wait_exit(worker) == 2, job.log_tail()
    assert wait_exit(bridge.procs[0]) == 2, bridge.log_tail()
    password = KAFKA_PASSWORD_FILE.read_text().strip()
    for output in (job.log_tail(lines=10_000), bridge.log_text()):
        assert "RANKSTREAM_KAFKA_SSL_CAFILE" in output and "not trusted" in output, output[-3000:]
        assert "rankstream: error:" in output and "Traceback" not in output, output[-3000:]
        assert password not in output


@pytest.mark.parametrize("fault", ["password", "certificate"])
def test_amqps_faults_stop_the_bridge_naming_the_setting(
    secured: None,
    job_factory: Callable[..., Job],
    bridge_factory: Callable[..., Bridge],
    tmp_path: Path,
    fault: str,
) -> None:
    job = job_factory()
    if fault == "password":
        env = amqps_env(RANKSTREAM_RABBITMQ_URL=f"amqps://guest:{WRONG}@localhost:5671/")
        words = ["RANKSTREAM_RABBITMQ_URL", "refused the login"]
    else:
        env = amqps_env(RANKSTREAM_RABBITMQ_SSL_CAFILE=str(untrusted_ca(tmp_path)))
        words = ["RANKSTREAM_RABBITMQ_SSL_CAFILE", "not trusted"]
    secure(job, env)
    bridge = bridge_factory(job)
    bridge.url = env["RANKSTREAM_RABBITMQ_URL"]
    bridge.start()
    assert wait_exit(bridge.procs[0]) == 2
    output = bridge.log_text()
    for word in words:
        assert word in output, output[-3000:]
    assert "rankstream: error:" in output and "Traceback" not in output, output[-3000:]
    assert WRONG not in output


def test_mutual_tls_listener_needs_the_client_certificate(secured: None) -> None:
    """The SSL listener (:9095) requires a client certificate: with
    RANKSTREAM_KAFKA_SSL_CERTFILE/KEYFILE an admin client lists topics; without, the check
    names them."""

    async def run(**extra: object) -> list[str]:
        settings = load_settings(
            kafka_bootstrap=MUTUAL_TLS,
            kafka_security_protocol="SSL",
            kafka_ssl_cafile=KAFKA_TLS / "ca.pem",
            **extra,
        )
        await check_kafka(settings)
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(**kafka_options(settings))
        await admin.start()
        try:
            return list(await admin.list_topics())
        finally:
            await admin.close()

    assert isinstance(
        asyncio.run(
            run(
                kafka_ssl_certfile=KAFKA_TLS / "client.pem",
                kafka_ssl_keyfile=KAFKA_TLS / "client.key",
            )
        ),
        list,
    )
    with pytest.raises(SecuritySettingError, match="RANKSTREAM_KAFKA_SSL_CERTFILE"):
        asyncio.run(run())


def test_rankstream_demo_reaches_the_sasl_ssl_listener(
    secured: None, job_factory: Callable[..., Job]
) -> None:
    """A companion command (demo) connects with the same settings."""
    job = job_factory()
    env = {**job.env(), **sasl_env()}
    result = subprocess.run(
        [sys.executable, "-m", "streams", "demo", "--rate", "200", "--duration", "1"],
        env={**env, "RANKSTREAM_SCORES_TOPIC": job.scores},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "demo: sent" in result.stderr, result.stderr

"""Connection settings (streams.runtime.kafka_clients): the options every Kafka client gets, faust's
credentials, the AMQP TLS context, the settings' consistency checks, and secrets kept out of
every repr, str and error message."""

from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaConnectionError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.kafka_clients import (
    SecuritySettingError,
    amqp_ssl_context,
    explain_kafka_failure,
    explain_rabbitmq_failure,
    faust_broker_credentials,
    group_instance_id,
    kafka_options,
    sasl_password,
)
from streams.runtime.settings import Settings, SettingsError, load_settings, redact_url

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-Pa55word"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server and a client certificate from the setup's own script."""
    folder = tmp_path_factory.mktemp("tls")
    script = f'source "{ROOT}/deploy/lib/tls.sh" && tls_ensure "{folder}" test'
    subprocess.run(["bash", "-c", script], check=True, capture_output=True, timeout=60)
    return folder


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("RANKSTREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def _settings(tls: Path, protocol: str, mechanism: str | None, **extra: Any) -> Settings:
    given: dict[str, Any] = {"kafka_security_protocol": protocol}
    if protocol.endswith("SSL"):
        given["kafka_ssl_cafile"] = tls / "ca.pem"
    if protocol.startswith("SASL_"):
        given.update(
            kafka_sasl_mechanism=mechanism, kafka_sasl_username="ranker", kafka_sasl_password=SECRET
        )
    return load_settings(**{**given, **extra})


# (protocol, mechanism): every combination the settings accept
COMBINATIONS: list[tuple[str, str | None]] = [
    ("PLAINTEXT", None),
    ("SSL", None),
    *[
        (protocol, mechanism)
        for protocol in ("SASL_PLAINTEXT", "SASL_SSL")
        for mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    ],
]


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
def test_kafka_options_per_protocol_and_mechanism(
    tls: Path, protocol: str, mechanism: str | None
) -> None:
    options = kafka_options(_settings(tls, protocol, mechanism, kafka_bootstrap="k1:9094,k2:9094"))
    assert options["bootstrap_servers"] == "k1:9094,k2:9094"
    assert options["security_protocol"] == protocol
    tls_used, sasl_used = protocol.endswith("SSL"), protocol.startswith("SASL_")
    assert isinstance(options.get("ssl_context"), ssl.SSLContext) == tls_used
    if tls_used:
        context = options["ssl_context"]
        assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
        assert context.get_ca_certs()[0]["subject"] == ((("commonName", "test local CA"),),)
    expected_sasl = (
        {
            "sasl_mechanism": mechanism,
            "sasl_plain_username": "ranker",
            "sasl_plain_password": SECRET,
        }
        if sasl_used
        else {}
    )
    assert {k: v for k, v in options.items() if k.startswith("sasl_")} == expected_sasl


@pytest.mark.parametrize(("protocol", "mechanism"), COMBINATIONS)
def test_faust_gets_the_same_connection_as_aiokafka(
    tls: Path, protocol: str, mechanism: str | None
) -> None:
    """faust hands its credentials to aiokafka through credentials_to_aiokafka_auth: what
    arrives there must be what kafka_options gives (SCRAM included)."""
    settings = _settings(tls, protocol, mechanism)
    options = kafka_options(settings)
    via_faust = credentials_to_aiokafka_auth(faust_broker_credentials(settings))
    assert via_faust["security_protocol"] == options["security_protocol"]
    for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
        assert via_faust.get(key) == options.get(key)
    assert (via_faust.get("ssl_context") is None) == (options.get("ssl_context") is None)


def test_hostname_check_and_client_certificate(tls: Path) -> None:
    settings = _settings(
        tls,
        "SSL",
        None,
        kafka_ssl_check_hostname=False,
        kafka_ssl_certfile=tls / "client.pem",
        kafka_ssl_keyfile=tls / "client.key",
    )
    context = kafka_options(settings)["ssl_context"]
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED  # the chain is still verified


# (overrides besides a valid SASL_SSL setup, words the error must hold)
INVALID: list[tuple[dict[str, Any], list[str]]] = [
    ({"kafka_sasl_mechanism": None}, ["RANKSTREAM_KAFKA_SASL_MECHANISM is required"]),
    ({"kafka_sasl_username": None}, ["RANKSTREAM_KAFKA_SASL_USERNAME is required"]),
    ({"kafka_sasl_password": None}, ["exactly one of RANKSTREAM_KAFKA_SASL_PASSWORD", "neither"]),
    ({"kafka_sasl_password_file": "PWFILE"}, ["RANKSTREAM_KAFKA_SASL_PASSWORD_FILE", "both"]),
    ({"kafka_sasl_mechanism": "GSSAPI"}, ["RANKSTREAM_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"]),
    ({"kafka_security_protocol": "PLAINTEXT"}, ["RANKSTREAM_KAFKA_SASL_PASSWORD is set but"]),
    ({"kafka_security_protocol": "SSL"}, ["RANKSTREAM_KAFKA_SASL_USERNAME is set but"]),
    (
        {"kafka_security_protocol": "SASL_PLAINTEXT"},
        ["RANKSTREAM_KAFKA_SSL_CAFILE is set but", "SASL_PLAINTEXT does not use it"],
    ),
    ({"kafka_ssl_keyfile": "KEY"}, ["RANKSTREAM_KAFKA_SSL_KEYFILE needs"]),
    ({"kafka_ssl_cafile": "/nonexistent/ca.pem"}, ["RANKSTREAM_KAFKA_SSL_CAFILE", "a file"]),
    ({"rabbitmq_ssl_cafile": "CA"}, ["RANKSTREAM_RABBITMQ_SSL_CAFILE is set but", "amqps"]),
    (
        {"rabbitmq_url": "amqps://u:p@mq:5671/", "rabbitmq_ssl_keyfile": "KEY"},
        ["RANKSTREAM_RABBITMQ_SSL_KEYFILE needs"],
    ),
    ({"group_instance_id": "worker 0"}, ["RANKSTREAM_GROUP_INSTANCE_ID", "pattern"]),
]


def _resolve(tls: Path, tmp_path: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    files = {"PWFILE": tmp_path / "pw", "KEY": tls / "client.key", "CA": tls / "ca.pem"}
    (tmp_path / "pw").write_text(SECRET)
    return {k: files.get(v, v) if isinstance(v, str) else v for k, v in overrides.items()}


@pytest.mark.parametrize(("overrides", "words"), INVALID)
def test_inconsistent_security_settings_name_the_variables_not_the_secret(
    tls: Path, tmp_path: Path, overrides: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(SettingsError) as info:
        _settings(tls, "SASL_SSL", "SCRAM-SHA-512", **_resolve(tls, tmp_path, overrides))
    message = str(info.value)
    for word in words:
        assert word in message
    assert SECRET not in message


def test_secrets_stay_out_of_repr_str_and_errors(tls: Path) -> None:
    settings = _settings(
        tls, "SASL_SSL", "SCRAM-SHA-512", rabbitmq_url=f"amqps://bridge:{SECRET}@mq:5671/"
    )
    for text in (repr(settings), str(settings), repr(faust_broker_credentials(settings))):
        assert SECRET not in text
    assert "amqps://bridge@mq:5671/" in repr(settings)
    # A bad value of a secret field is named, never repeated.
    with pytest.raises(SettingsError) as info:
        load_settings(kafka_sasl_password=[SECRET])
    assert "RANKSTREAM_KAFKA_SASL_PASSWORD" in str(info.value)
    assert SECRET not in str(info.value)
    with pytest.raises(SettingsError) as info:
        load_settings(rabbitmq_url=f"http://bridge:{SECRET}@mq/")
    assert "RANKSTREAM_RABBITMQ_URL" in str(info.value)
    assert SECRET not in str(info.value)


@given(
    password=st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\n"), min_size=6
    ),
    user=st.from_regex(r"[a-z]{1,8}", fullmatch=True),
)
def test_redacted_urls_hold_no_password(password: str, user: str) -> None:
    shown = redact_url(f"amqps://{user}:{password}@mq.example:5671/vhost")
    assert password not in shown
    assert shown.startswith(f"amqps://{user}@")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (f"{SECRET}\n", SECRET),
        (f"{SECRET}\r\n", SECRET),
        (SECRET, SECRET),
        (f"  {SECRET} \n", f"  {SECRET} "),  # only one line ending goes
    ],
)
def test_password_file(tls: Path, tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "password"
    path.write_text(content, newline="")
    settings = _settings(
        tls, "SASL_SSL", "PLAIN", kafka_sasl_password=None, kafka_sasl_password_file=path
    )
    assert kafka_options(settings)["sasl_plain_password"] == expected


def test_password_file_is_read_when_the_clients_are_made(tls: Path, tmp_path: Path) -> None:
    path = tmp_path / "password"
    path.write_text("first\n")
    settings = _settings(
        tls, "SASL_PLAINTEXT", "PLAIN", kafka_sasl_password=None, kafka_sasl_password_file=path
    )
    assert sasl_password(settings) == "first"
    path.write_text("rotated\n")
    assert sasl_password(settings) == "rotated"
    path.write_text("\n")
    with pytest.raises(SecuritySettingError, match=r"RANKSTREAM_KAFKA_SASL_PASSWORD_FILE.*empty"):
        kafka_options(settings)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"kafka_ssl_cafile": "client.key"}, "RANKSTREAM_KAFKA_SSL_CAFILE"),
        (
            {"kafka_ssl_certfile": "client.pem", "kafka_ssl_keyfile": "server.key"},
            "RANKSTREAM_KAFKA_SSL_CERTFILE / RANKSTREAM_KAFKA_SSL_KEYFILE",
        ),
        ({"kafka_ssl_certfile": "ca.pem"}, "RANKSTREAM_KAFKA_SSL_CERTFILE"),
    ],
)
def test_unusable_certificate_files_name_the_setting(
    tls: Path, overrides: dict[str, str], words: str
) -> None:
    settings = _settings(tls, "SSL", None, **{k: tls / v for k, v in overrides.items()})
    with pytest.raises(SecuritySettingError) as info:
        kafka_options(settings)
    assert words in str(info.value)


def _cert_error(message: str) -> ssl.SSLCertVerificationError:
    error = ssl.SSLCertVerificationError(1, f"certificate verify failed: {message}")
    error.verify_message = message
    return error


def _wrapped(cause: BaseException) -> KafkaConnectionError:
    try:
        raise KafkaConnectionError("Connection at localhost:9094 closed") from cause
    except KafkaConnectionError as exc:
        return exc


# (protocol, the failure, the setting the explanation must name; None: may pass)
FAILURES: list[tuple[str, BaseException, str | None]] = [
    ("SASL_SSL", _cert_error("self-signed certificate in certificate chain"), "SSL_CAFILE"),
    (
        "SSL",
        _cert_error("Hostname mismatch, certificate is not valid for 'k1'"),
        "SSL_CHECK_HOSTNAME",
    ),
    ("SASL_SSL", SaslAuthenticationFailed("invalid credentials"), "SASL_PASSWORD"),
    ("SASL_SSL", UnsupportedSaslMechanismError("no"), "SASL_MECHANISM"),
    (
        "SSL",
        _wrapped(ssl.SSLError(1, "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate")),
        "SSL_CERTFILE",
    ),
    (
        "SSL",
        _wrapped(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version")),
        "SECURITY_PROTOCOL",
    ),
    ("PLAINTEXT", asyncio.IncompleteReadError(b"\x15\x03\x03", 0x15030300), "SECURITY_PROTOCOL"),
    ("PLAINTEXT", asyncio.IncompleteReadError(b"", 120), None),
    ("SASL_SSL", ConnectionRefusedError(111, "refused"), None),
    ("SASL_SSL", KafkaConnectionError("Unable to bootstrap"), None),
]


@pytest.mark.parametrize(("protocol", "failure", "setting"), FAILURES)
def test_explain_kafka_failure(
    tls: Path, protocol: str, failure: BaseException, setting: str | None
) -> None:
    settings = _settings(tls, protocol, "SCRAM-SHA-512")
    explained = explain_kafka_failure(settings, failure)
    if setting is None:
        assert explained is None
    else:
        assert explained is not None and f"RANKSTREAM_KAFKA_{setting}" in explained
        assert SECRET not in explained


def test_explain_rabbitmq_failure(tls: Path) -> None:
    import aiormq

    settings = load_settings(
        rabbitmq_url=f"amqps://bridge:{SECRET}@localhost:5671/", rabbitmq_ssl_cafile=tls / "ca.pem"
    )
    refused = aiormq.exceptions.ProbableAuthenticationError("ACCESS_REFUSED - Login was refused")
    untrusted = _cert_error("self-signed certificate")
    for failure, setting in [(refused, "RABBITMQ_URL"), (untrusted, "RABBITMQ_SSL_CAFILE")]:
        explained = explain_rabbitmq_failure(settings, failure)
        assert explained is not None and f"RANKSTREAM_{setting}" in explained
        assert SECRET not in explained
    assert explain_rabbitmq_failure(settings, ConnectionRefusedError(111, "refused")) is None


def test_amqp_ssl_context(tls: Path) -> None:
    assert amqp_ssl_context(load_settings()) is None  # amqp://
    context = amqp_ssl_context(
        load_settings(
            rabbitmq_url="amqps://u:p@localhost:5671/",
            rabbitmq_ssl_cafile=tls / "ca.pem",
            rabbitmq_ssl_certfile=tls / "client.pem",
            rabbitmq_ssl_keyfile=tls / "client.key",
        )
    )
    assert context is not None and context.check_hostname


@pytest.mark.parametrize(
    ("instance", "stage", "expected"),
    [
        (None, None, None),
        (None, "intake", None),
        ("w-0", None, "w-0"),
        ("w-0", "intake", "w-0-intake"),
    ],
)
def test_group_instance_id(instance: str | None, stage: str | None, expected: str | None) -> None:
    settings = load_settings(group_instance_id=instance)
    assert group_instance_id(settings, stage) == expected

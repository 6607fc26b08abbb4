"""Settings (contract section 5): defaults, environment, .env file and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from streams.runtime.settings import Settings, SettingsError, env_var, load_settings

# Contract section 5, verbatim, plus the job's own documented knobs.
DEFAULTS: list[tuple[str, str, Any]] = [
    ("kafka_bootstrap", "RANKSTREAM_KAFKA_BOOTSTRAP", "localhost:9092"),
    ("app_id", "RANKSTREAM_APP_ID", "rankstream"),
    ("scores_topic", "RANKSTREAM_SCORES_TOPIC", "scores"),
    ("changes_topic", "RANKSTREAM_CHANGES_TOPIC", "rank-changes"),
    ("dlq_topic", "RANKSTREAM_DLQ_TOPIC", "scores-dlq"),
    ("boards", "RANKSTREAM_BOARDS", None),
    ("data_dir", "RANKSTREAM_DATA_DIR", Path("./var/rankstream")),
    ("web_port", "RANKSTREAM_WEB_PORT", 6066),
    ("rabbitmq_url", "RANKSTREAM_RABBITMQ_URL", "amqp://guest:guest@localhost:5672/"),
    ("processing_guarantee", "RANKSTREAM_PROCESSING_GUARANTEE", "exactly_once"),
    ("partitions", "RANKSTREAM_PARTITIONS", 4),
    ("replication_factor", "RANKSTREAM_REPLICATION_FACTOR", 1),
    ("batch_max_events", "RANKSTREAM_BATCH_MAX_EVENTS", 500),
    ("batch_max_ms", "RANKSTREAM_BATCH_MAX_MS", 10),
    ("run_intake", "RANKSTREAM_RUN_INTAKE", True),
    ("web_canonical_url", "RANKSTREAM_WEB_CANONICAL_URL", None),
    ("web_host", "RANKSTREAM_WEB_HOST", "localhost"),
    ("producer_linger_ms", "RANKSTREAM_PRODUCER_LINGER_MS", 5),
    ("commit_interval_s", "RANKSTREAM_COMMIT_INTERVAL_S", 1.0),
    ("session_timeout_s", "RANKSTREAM_SESSION_TIMEOUT_S", 30.0),
    ("rank_tree_cache_nodes", "RANKSTREAM_RANK_TREE_CACHE_NODES", 4096),
    ("rocksdb_block_cache_mb", "RANKSTREAM_ROCKSDB_BLOCK_CACHE_MB", 64),
    ("rocksdb_write_buffer_mb", "RANKSTREAM_ROCKSDB_WRITE_BUFFER_MB", 32),
    ("malloc_mmap_threshold_kb", "RANKSTREAM_MALLOC_MMAP_THRESHOLD_KB", 128),
    ("bridge_queue", "RANKSTREAM_BRIDGE_QUEUE", "rank_update"),
    ("bridge_dlq", "RANKSTREAM_BRIDGE_DLQ", "rank_update.dlq"),
    ("bridge_exchange", "RANKSTREAM_BRIDGE_EXCHANGE", "rank_changes"),
    ("bridge_queue_mode", "RANKSTREAM_BRIDGE_QUEUE_MODE", "durable"),
    ("bridge_prefetch", "RANKSTREAM_BRIDGE_PREFETCH", 500),
    ("bridge_max_in_flight", "RANKSTREAM_BRIDGE_MAX_IN_FLIGHT", 2000),
    ("bridge_group", "RANKSTREAM_BRIDGE_GROUP", None),
    ("bridge_metrics_port", "RANKSTREAM_BRIDGE_METRICS_PORT", 6067),
    ("bridge_retry_max_s", "RANKSTREAM_BRIDGE_RETRY_MAX_S", 5.0),
    # Kafka and AMQP security (docs/security.md; tests/unit/test_kafka_clients.py)
    ("kafka_security_protocol", "RANKSTREAM_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    ("kafka_sasl_mechanism", "RANKSTREAM_KAFKA_SASL_MECHANISM", None),
    ("kafka_sasl_username", "RANKSTREAM_KAFKA_SASL_USERNAME", None),
    ("kafka_sasl_password", "RANKSTREAM_KAFKA_SASL_PASSWORD", None),
    ("kafka_sasl_password_file", "RANKSTREAM_KAFKA_SASL_PASSWORD_FILE", None),
    ("kafka_ssl_cafile", "RANKSTREAM_KAFKA_SSL_CAFILE", None),
    ("kafka_ssl_certfile", "RANKSTREAM_KAFKA_SSL_CERTFILE", None),
    ("kafka_ssl_keyfile", "RANKSTREAM_KAFKA_SSL_KEYFILE", None),
    ("kafka_ssl_check_hostname", "RANKSTREAM_KAFKA_SSL_CHECK_HOSTNAME", True),
    ("rabbitmq_ssl_cafile", "RANKSTREAM_RABBITMQ_SSL_CAFILE", None),
    ("rabbitmq_ssl_certfile", "RANKSTREAM_RABBITMQ_SSL_CERTFILE", None),
    ("rabbitmq_ssl_keyfile", "RANKSTREAM_RABBITMQ_SSL_KEYFILE", None),
    ("group_instance_id", "RANKSTREAM_GROUP_INSTANCE_ID", None),
]

# (variable, value in the environment, expected field value)
OVERRIDES: list[tuple[str, str, Any]] = [
    ("RANKSTREAM_KAFKA_BOOTSTRAP", "k1:9092, k2:19092", "k1:9092,k2:19092"),
    ("RANKSTREAM_APP_ID", "ranks-test", "ranks-test"),
    ("RANKSTREAM_SCORES_TOPIC", "in.scores", "in.scores"),
    ("RANKSTREAM_CHANGES_TOPIC", "out_changes", "out_changes"),
    ("RANKSTREAM_DLQ_TOPIC", "dead", "dead"),
    ("RANKSTREAM_BOARDS", "conf/boards.toml", Path("conf/boards.toml")),
    ("RANKSTREAM_DATA_DIR", "/tmp/rs", Path("/tmp/rs")),
    ("RANKSTREAM_WEB_PORT", "8080", 8080),
    ("RANKSTREAM_RABBITMQ_URL", "amqps://u:p@mq:5671/vh", "amqps://u:p@mq:5671/vh"),
    ("RANKSTREAM_PROCESSING_GUARANTEE", "at_least_once", "at_least_once"),
    ("RANKSTREAM_SESSION_TIMEOUT_S", "6", 6.0),
    ("RANKSTREAM_PARTITIONS", "12", 12),
    ("RANKSTREAM_REPLICATION_FACTOR", "3", 3),
    ("RANKSTREAM_BATCH_MAX_EVENTS", "2000", 2000),
    ("RANKSTREAM_BATCH_MAX_MS", "20", 20),
    ("RANKSTREAM_PRODUCER_LINGER_MS", "0", 0),
    ("RANKSTREAM_COMMIT_INTERVAL_S", "0.25", 0.25),
    ("RANKSTREAM_ROCKSDB_BLOCK_CACHE_MB", "256", 256),
    ("RANKSTREAM_ROCKSDB_WRITE_BUFFER_MB", "8", 8),
    ("RANKSTREAM_MALLOC_MMAP_THRESHOLD_KB", "0", 0),
    ("rankstream_web_port", "9000", 9000),  # names are case-insensitive
    ("RANKSTREAM_KAFKA_SSL_CHECK_HOSTNAME", "false", False),
    ("RANKSTREAM_GROUP_INSTANCE_ID", "rankstream-worker-0", "rankstream-worker-0"),
    ("RANKSTREAM_RUN_INTAKE", "false", False),
    ("RANKSTREAM_WEB_HOST", "0.0.0.0", "0.0.0.0"),
    ("RANKSTREAM_WEB_CANONICAL_URL", "http://w-0.svc:6066", "http://w-0.svc:6066"),
]

# (variable, bad value, words the error must contain)
INVALID: list[tuple[str, str, str]] = [
    ("RANKSTREAM_WEB_CANONICAL_URL", "w-0.svc:6066", "should match pattern"),
    ("RANKSTREAM_WEB_PORT", "70000", "less than or equal to 65535"),
    ("RANKSTREAM_WEB_PORT", "-1", "greater than or equal to 0"),
    ("RANKSTREAM_WEB_PORT", "http", "valid integer"),
    ("RANKSTREAM_PARTITIONS", "0", "greater than or equal to 1"),
    ("RANKSTREAM_MALLOC_MMAP_THRESHOLD_KB", "65536", "less than or equal to 32768"),
    ("RANKSTREAM_REPLICATION_FACTOR", "0", "greater than or equal to 1"),
    ("RANKSTREAM_BATCH_MAX_EVENTS", "-5", "greater than or equal to 1"),
    ("RANKSTREAM_BATCH_MAX_MS", "0", "greater than or equal to 1"),
    ("RANKSTREAM_PRODUCER_LINGER_MS", "-1", "greater than or equal to 0"),
    ("RANKSTREAM_COMMIT_INTERVAL_S", "0", "greater than 0"),
    ("RANKSTREAM_COMMIT_INTERVAL_S", "nan", "finite"),
    ("RANKSTREAM_ROCKSDB_BLOCK_CACHE_MB", "0", "greater than or equal to 1"),
    ("RANKSTREAM_ROCKSDB_WRITE_BUFFER_MB", "lots", "valid integer"),
    ("RANKSTREAM_PROCESSING_GUARANTEE", "exactly-once", "'exactly_once' or 'at_least_once'"),
    ("RANKSTREAM_KAFKA_BOOTSTRAP", "localhost", "host:port"),
    ("RANKSTREAM_KAFKA_BOOTSTRAP", "k1:9092,k2:99999", "host:port"),
    ("RANKSTREAM_SCORES_TOPIC", "has space", "pattern"),
    ("RANKSTREAM_APP_ID", "x/y", "pattern"),
    ("RANKSTREAM_RABBITMQ_URL", "localhost:5672", "pattern"),
    ("RANKSTREAM_DLQ_TOPIC", "scores", "must name different topics"),
    ("RANKSTREAM_KAFKA_SECURITY_PROTOCOL", "TLS", "'PLAINTEXT', 'SSL', 'SASL_PLAINTEXT'"),
    (
        "RANKSTREAM_KAFKA_SECURITY_PROTOCOL",
        "SASL_SSL",
        "RANKSTREAM_KAFKA_SASL_MECHANISM is required",
    ),
    ("RANKSTREAM_KAFKA_SASL_USERNAME", "u", "SECURITY_PROTOCOL=PLAINTEXT does not use it"),
    ("RANKSTREAM_KAFKA_SSL_CAFILE", "/nonexistent/ca.pem", "does not point to a file"),
    ("RANKSTREAM_GROUP_INSTANCE_ID", "pod/0", "pattern"),
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No RANKSTREAM_* from the caller's environment, and no stray .env in the cwd."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("RANKSTREAM_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_fields_are_exactly_the_documented_ones() -> None:
    assert list(Settings.model_fields) == [field for field, _, _ in DEFAULTS]
    for name, info in Settings.model_fields.items():
        assert info.description, f"{name} has no description"


@pytest.mark.parametrize(("field", "variable", "default"), DEFAULTS)
def test_defaults(field: str, variable: str, default: Any) -> None:
    assert env_var(field) == variable
    assert getattr(load_settings(), field) == default


@pytest.mark.parametrize(("variable", "value", "expected"), OVERRIDES)
def test_environment_overrides(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: Any
) -> None:
    monkeypatch.setenv(variable, value)
    field = variable.upper().removeprefix("RANKSTREAM_").lower()
    assert getattr(load_settings(), field) == expected


def test_dotenv_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "# local settings\n"
        "RANKSTREAM_SCORES_TOPIC=from-dotenv\n"
        "RANKSTREAM_WEB_PORT=7000\n"
        "RANKSTREAM_BOARDS=boards.toml\n"
        "OTHER_TOOL_SETTING=ignored\n",
        encoding="utf-8",
    )
    settings = load_settings()
    assert settings.scores_topic == "from-dotenv"
    assert settings.web_port == 7000
    assert settings.boards == Path("boards.toml")
    monkeypatch.setenv("RANKSTREAM_WEB_PORT", "7001")
    assert load_settings().web_port == 7001


def test_invalid_dotenv_value_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("RANKSTREAM_PARTITIONS=none\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="RANKSTREAM_PARTITIONS"):
        load_settings()


def test_empty_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKSTREAM_BOARDS", "")
    monkeypatch.setenv("RANKSTREAM_WEB_PORT", "")
    settings = load_settings()
    assert settings.boards is None
    assert settings.web_port == 6066


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKSTREAM_SCORES_TOPIC", "env-topic")
    assert load_settings(scores_topic="cli-topic").scores_topic == "cli-topic"
    with pytest.raises(TypeError, match="unknown setting"):
        load_settings(no_such_setting=1)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.web_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(("variable", "value", "words"), INVALID)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert variable in message
    assert words in message


def test_all_errors_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANKSTREAM_WEB_PORT", "70000")
    monkeypatch.setenv("RANKSTREAM_PARTITIONS", "0")
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "RANKSTREAM_WEB_PORT" in message
    assert "RANKSTREAM_PARTITIONS" in message
    assert "(got '70000')" in message

"""Settings of the stream job and its companion commands (contract section 5).

Every setting is read from an environment variable ``RANKSTREAM_<FIELD>`` (case does not
matter) or from a ``.env`` file in the current directory; a real environment variable
wins over the ``.env`` file, and keyword overrides passed to :func:`load_settings` (e.g.
from command-line options) win over both. An empty variable (``RANKSTREAM_BOARDS=``)
counts as unset, so the default applies.

Settings are read once, at start-up, with :func:`load_settings`, and passed down as a
frozen :class:`Settings` object; there is deliberately no module-level instance, so tests
and tools can build their own.

The first nine fields are the contract's (section 5) and their defaults may not change;
the rest are the job's own knobs. A field's docstring is its pydantic ``description``
(``use_attribute_docstrings``), the user-facing text docs/settings.md is generated from
(``make docs``); pydantic reads it from this file's source, which a checkout always has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ENV_PREFIX", "Settings", "SettingsError", "env_var", "load_settings", "redact_url"]

ENV_PREFIX = "RANKSTREAM_"

# Kafka's own rule for topic names (and what is safe as a consumer group / prefix).
_KAFKA_NAME = r"^[A-Za-z0-9._-]{1,249}$"
# A portable subset of AMQP 0-9-1 queue and exchange names (the spec allows 255 bytes).
_AMQP_NAME = r"^[A-Za-z0-9._:-]{1,255}$"


class Settings(BaseSettings):
    """All settings of ``rankstream worker``, ``intake``, ``demo``, ``watch`` and ``bridge``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",  # a shared .env may hold other programs' variables
        frozen=True,
        validate_default=True,
        use_attribute_docstrings=True,
    )

    # --- contract section 5 -------------------------------------------------------------
    kafka_bootstrap: str = Field("localhost:9092", min_length=1)
    """Kafka bootstrap servers, comma-separated host:port list."""
    app_id: str = Field("rankstream", pattern=_KAFKA_NAME)
    """Application id: the worker's consumer group and the prefix of its internal topics
    (changelogs, repartition topics)."""
    scores_topic: str = Field("scores", pattern=_KAFKA_NAME)
    """Input topic of score events (section 1)."""
    changes_topic: str = Field("rank-changes", pattern=_KAFKA_NAME)
    """Push topic: rank_change and window_closed records (section 3)."""
    dlq_topic: str = Field("scores-dlq", pattern=_KAFKA_NAME)
    """Dead-letter topic for invalid score events."""
    boards: Path | None = None
    """Boards TOML file (section 2); unset: every board uses the built-in [defaults]."""
    data_dir: Path = Path("./var/rankstream")
    """Directory of the worker's local state (RocksDB tables)."""
    web_port: int = Field(6066, ge=0, le=65535)
    """HTTP port of the worker's query API and metrics."""
    rabbitmq_url: str = Field("amqp://guest:guest@localhost:5672/", pattern=r"^amqps?://")
    """AMQP URL of the RabbitMQ broker used by `rankstream bridge`."""

    # --- the job's own knobs ------------------------------------------------------------
    processing_guarantee: Literal["exactly_once", "at_least_once"] = "exactly_once"
    """exactly_once: consume-transform-produce in Kafka transactions, so read_committed consumers of
    the push topic see each change once; at_least_once: faster, but a crash may repeat changes."""
    partitions: int = Field(4, ge=1)
    """Partition count of the topics the job creates itself."""
    replication_factor: int = Field(1, ge=1)
    """Replication factor of the topics the job creates itself."""
    batch_max_events: int = Field(500, ge=1)
    """Ceiling of one processing batch: most score events the intake stage takes, and most events
    the rank stage applies, in one unit (transaction)."""
    batch_max_ms: int = Field(10, ge=1)
    """Ceiling of the wait for a batch, in milliseconds: a stage takes what is already fetched and
    never waits longer than this for more (an idle stage hands a lone event on at once)."""
    run_intake: bool = True
    """Whether `rankstream worker` runs the intake (validation) stage inside its process; false when
    the intake runs on its own (`rankstream intake`)."""
    web_canonical_url: str | None = Field(None, pattern=r"^https?://")
    """URL other workers use to reach this worker's HTTP server when they forward a query for a
    board it owns (e.g. its pod's stable DNS name); unset: http://<web_host>:<web_port>, which only
    works when web_host is a reachable name."""
    web_host: str = Field("localhost", min_length=1)
    """Address the worker's HTTP server (query API, /healthz, /metrics) binds to; 0.0.0.0 in a
    container."""
    producer_linger_ms: int = Field(5, ge=0)
    """Kafka producer linger.ms for records sent one at a time (the RabbitMQ bridge's); the stages
    hand the producer whole batches, which never linger."""
    commit_interval_s: float = Field(1.0, gt=0, allow_inf_nan=False)
    """How often offsets (and, with exactly_once, transactions) are committed, in seconds; bounds
    the end-to-end latency of read_committed consumers."""
    session_timeout_s: float = Field(30.0, ge=6, le=300, allow_inf_nan=False)
    """Consumer group session timeout, in seconds: how long the group waits for a worker that
    stopped answering before its partitions move to the others."""
    rank_tree_cache_nodes: int = Field(4096, ge=64)
    """Decoded rank-tree nodes each partition's engine keeps in RAM (about 10-15 KiB each at 128
    keys a node): the memory bound of exact-rank queries and updates, whatever the number of
    users."""
    rocksdb_block_cache_mb: int = Field(64, ge=1)
    """RocksDB block cache, in MiB, shared by all of the worker's partitions."""
    rocksdb_write_buffer_mb: int = Field(32, ge=1)
    """RocksDB write buffer (memtable) size per partition, in MiB; two per partition at most."""
    malloc_mmap_threshold_kb: int = Field(128, ge=0, le=32768)
    """Fixes glibc's mmap threshold at this many KiB so that large blocks (memtable arenas, send
    batches) go back to the OS when freed; 0 keeps glibc's dynamic threshold, under which the
    worker's RSS grew with the events processed."""

    # --- `rankstream bridge` (contract section 6; docs/bridge.md) --------------------------
    bridge_queue: str = Field("rank_update", pattern=_AMQP_NAME)
    """RabbitMQ queue the bridge consumes score events from."""
    bridge_dlq: str = Field("rank_update.dlq", pattern=_AMQP_NAME)
    """RabbitMQ queue (durable) that receives invalid messages, with the reason in the
    x-rankstream-reason header."""
    bridge_exchange: str = Field("rank_changes", pattern=_AMQP_NAME)
    """Topic exchange (durable) the push-topic records are published to, routing key
    <board>.<window>."""
    bridge_queue_mode: Literal["durable", "legacy"] = "durable"
    """durable: the bridge declares the input queue durable, so queued messages published persistent
    survive a RabbitMQ restart (producers must declare it durable=True); legacy: declared
    non-durable, exactly like the existing producers' queue_declare(queue='rank_update'), which keep
    working unchanged, but the queue and its messages are lost when RabbitMQ restarts."""
    bridge_prefetch: int = Field(500, ge=1, le=65535)
    """Most unacknowledged input messages the bridge holds (AMQP prefetch); bounds its memory and
    the redeliveries after a crash."""
    bridge_max_in_flight: int = Field(2000, ge=1)
    """Most push-topic records published to RabbitMQ and not yet confirmed."""
    bridge_group: str | None = Field(None, pattern=_KAFKA_NAME)
    """Kafka consumer group of the bridge's push-topic reader; unset: <app_id>-bridge."""
    bridge_metrics_port: int = Field(6067, ge=0, le=65535)
    """HTTP port of the bridge's Prometheus metrics (GET /metrics); 0: off."""
    bridge_retry_max_s: float = Field(5.0, gt=0, allow_inf_nan=False)
    """Longest wait between two reconnection attempts (exponential backoff from 0.2 s up to this),
    in seconds."""

    # --- Kafka and AMQP security (docs/security.md) ----------------------------------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    """How every Kafka client of rankstream connects: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT (SASL
    login, no TLS) or SASL_SSL (SASL login over TLS)."""
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    """SASL mechanism; required with SASL_PLAINTEXT and SASL_SSL."""
    kafka_sasl_username: str | None = Field(None, min_length=1)
    """SASL user name; required with SASL_* protocols."""
    kafka_sasl_password: SecretStr | None = None
    """SASL password (never logged or shown); with SASL_* protocols set either this or
    RANKSTREAM_KAFKA_SASL_PASSWORD_FILE."""
    kafka_sasl_password_file: FilePath | None = None
    """File holding the SASL password (e.g. a mounted Kubernetes Secret), read when the clients are
    made; one trailing newline is ignored."""
    kafka_ssl_cafile: FilePath | None = None
    """PEM file of the CA certificates that sign the brokers' certificates (SSL, SASL_SSL); unset:
    the system's trusted CAs."""
    kafka_ssl_certfile: FilePath | None = None
    """PEM client certificate for mutual TLS (SSL, SASL_SSL); may hold the key too."""
    kafka_ssl_keyfile: FilePath | None = None
    """PEM private key (unencrypted) of RANKSTREAM_KAFKA_SSL_CERTFILE."""
    kafka_ssl_check_hostname: bool = True
    """Whether a broker's certificate must name the host connected to; turn off only for brokers
    whose certificates lack their addresses."""
    rabbitmq_ssl_cafile: FilePath | None = None
    """PEM file of the CA certificates that sign RabbitMQ's certificate (amqps:// URLs); unset: the
    system's trusted CAs."""
    rabbitmq_ssl_certfile: FilePath | None = None
    """PEM client certificate for mutual TLS with RabbitMQ (amqps:// URLs); may hold the key too."""
    rabbitmq_ssl_keyfile: FilePath | None = None
    """PEM private key (unencrypted) of RANKSTREAM_RABBITMQ_SSL_CERTFILE."""
    group_instance_id: str | None = Field(None, pattern=_KAFKA_NAME)
    """Static membership id of this worker in its consumer groups (e.g. the pod name of a
    StatefulSet): a restarted worker with the same id gets its partitions back at once instead of
    after RANKSTREAM_SESSION_TIMEOUT_S; the intake stage uses <id>-intake. Unique per running
    worker; unset: dynamic membership."""

    @field_validator("kafka_bootstrap")
    @classmethod
    def _check_bootstrap(cls, value: str) -> str:
        servers = [part.strip() for part in value.split(",")]
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
                raise ValueError(
                    f"expected a comma-separated list of host:port, got {server!r} in {value!r}"
                )
        return ",".join(servers)

    @model_validator(mode="after")
    def _distinct_topics(self) -> Settings:
        topics = {
            "scores_topic": self.scores_topic,
            "changes_topic": self.changes_topic,
            "dlq_topic": self.dlq_topic,
        }
        seen: dict[str, str] = {}
        for field, topic in topics.items():
            if topic in seen:
                raise ValueError(
                    f"{env_var(seen[topic])} and {env_var(field)} must name different topics "
                    f"(both are {topic!r})"
                )
            seen[topic] = field
        return self

    @model_validator(mode="after")
    def _distinct_queues(self) -> Settings:
        if self.bridge_queue == self.bridge_dlq:
            raise ValueError(
                f"{env_var('bridge_queue')} and {env_var('bridge_dlq')} must name different "
                f"queues (both are {self.bridge_queue!r})"
            )
        return self

    @model_validator(mode="after")
    def _consistent_security(self) -> Settings:
        """Security settings that contradict each other, or would be silently ignored, are
        errors: a client that connects without the TLS or login its operator configured
        is worse than one that does not start."""
        problems: list[str] = []
        protocol = self.kafka_security_protocol
        uses = f"{env_var('kafka_security_protocol')}={protocol}"
        sasl, tls = protocol.startswith("SASL_"), protocol.endswith("SSL")
        given = {name for name in _KAFKA_SASL_FIELDS + _KAFKA_TLS_FIELDS if _is_set(self, name)}
        if sasl:
            for name in ("kafka_sasl_mechanism", "kafka_sasl_username"):
                if name not in given:
                    problems.append(f"{env_var(name)} is required with {uses}")
            secrets = {"kafka_sasl_password", "kafka_sasl_password_file"} & given
            if len(secrets) != 1:
                problems.append(
                    f"set exactly one of {env_var('kafka_sasl_password')} and "
                    f"{env_var('kafka_sasl_password_file')} with {uses} "
                    f"({'both are' if secrets else 'neither is'} set)"
                )
        else:
            problems += [_unused(name, protocol) for name in _KAFKA_SASL_FIELDS if name in given]
        if not tls:
            problems += [_unused(name, protocol) for name in _KAFKA_TLS_FIELDS if name in given]
        elif self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            problems.append(f"{env_var('kafka_ssl_keyfile')} needs {env_var('kafka_ssl_certfile')}")
        amqps = self.rabbitmq_url.startswith("amqps://")
        for name in _RABBITMQ_TLS_FIELDS:
            if getattr(self, name) is not None and not amqps:
                problems.append(
                    f"{env_var(name)} is set but {env_var('rabbitmq_url')} is not an amqps:// URL"
                )
        if self.rabbitmq_ssl_keyfile is not None and self.rabbitmq_ssl_certfile is None:
            problems.append(
                f"{env_var('rabbitmq_ssl_keyfile')} needs {env_var('rabbitmq_ssl_certfile')}"
            )
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

    def __repr_args__(self) -> Any:
        """The settings without the RabbitMQ URL's password (SecretStr hides the SASL one)."""
        for name, value in super().__repr_args__():
            yield name, redact_url(value) if name == "rabbitmq_url" else value

    @property
    def bridge_group_id(self) -> str:
        """The bridge's consumer group: ``bridge_group`` or ``<app_id>-bridge``."""
        return self.bridge_group or f"{self.app_id}-bridge"


_KAFKA_SASL_FIELDS = (
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
    "kafka_sasl_password",
    "kafka_sasl_password_file",
)
_KAFKA_TLS_FIELDS = ("kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile")
_RABBITMQ_TLS_FIELDS = ("rabbitmq_ssl_cafile", "rabbitmq_ssl_certfile", "rabbitmq_ssl_keyfile")
#: Fields whose value an error message never repeats.
_SECRET_FIELDS = frozenset({"kafka_sasl_password"})


def _is_set(settings: Settings, name: str) -> bool:
    return getattr(settings, name) is not None


def _unused(name: str, protocol: str) -> str:
    return (
        f"{env_var(name)} is set but RANKSTREAM_KAFKA_SECURITY_PROTOCOL={protocol} does not use it"
    )


def redact_url(url: str) -> str:
    """The URL without its password, for log lines and error messages
    (``amqp://guest@localhost:5672/``).

    Split by hand rather than with :func:`urllib.parse.urlsplit`: an unencoded ``/``, ``#``
    or ``@`` in the password, or a bad port, must still not let any of it through.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{sep}{user}@{host}"


class SettingsError(ValueError):
    """Invalid settings; the message names each offending environment variable."""


def env_var(field: str) -> str:
    """The environment variable of a :class:`Settings` field: ``web_port`` ->
    ``RANKSTREAM_WEB_PORT``."""
    return ENV_PREFIX + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment and ``.env``; ``overrides`` win over both.

    Raises :class:`SettingsError` with one line per problem, each naming the variable,
    e.g. ``RANKSTREAM_WEB_PORT: Input should be less than or equal to 65535 (got 70000)``.
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown setting(s): {', '.join(unknown)}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        # A model-level check has no location; its message names the variables itself.
        name = env_var(loc[0]) if loc and loc[0] in Settings.model_fields else None
        message = error["msg"].removeprefix("Value error, ")
        got = f" (got {_shown(loc[0], error['input'])!r})" if name is not None else ""
        lines.append(f"  {name}: {message}{got}" if name else f"  {message}")
    return "\n".join(lines)


def _shown(field: str, value: Any) -> Any:
    """An invalid value as an error message may repeat it: never a secret."""
    if field in _SECRET_FIELDS:
        return "**********"
    if field == "rabbitmq_url" and isinstance(value, str):
        return redact_url(value)
    return value

"""How every Kafka and RabbitMQ client of rankstream connects: addresses, TLS and SASL.

One home for the connection options, so that no client is made without them: every
aiokafka client (producers, consumers, the admin client) takes :func:`kafka_options`,
faust's own clients take :func:`faust_broker_credentials`, and aio-pika takes
:func:`amqp_ssl_context`.

faust passes its ``broker_credentials`` through to aiokafka unchanged
(``faust.transport.drivers.aiokafka.credentials_to_aiokafka_auth``): a
:class:`faust.auth.SASLCredentials` carries the mechanism (PLAIN, SCRAM-SHA-256 and
SCRAM-SHA-512 alike), the user, the password and the TLS context, and
:class:`faust.auth.SSLCredentials` a TLS context alone; so faust's consumer, producer and
topic creation connect exactly as :func:`kafka_options` does, with no subclass needed.

Secrets: the SASL password is read here only, when the clients are made (a password file is
read then, so a rotated mounted secret is picked up at the next start), and only handed to
the client libraries; no message of this module repeats it. A connection that fails for a
reason no retry can fix (an untrusted certificate, a rejected login) becomes a
:class:`SecuritySettingError` naming the setting to look at, see :func:`check_kafka`.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiormq
from aiokafka.conn import create_conn  # type: ignore[import-untyped]
from aiokafka.errors import (  # type: ignore[import-untyped]
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context  # type: ignore[import-untyped]
from faust.auth import SASLCredentials, SSLCredentials
from faust.types.auth import CredentialsT

from streams.runtime.settings import Settings, SettingsError, env_var, redact_url

__all__ = [
    "SecuritySettingError",
    "amqp_ssl_context",
    "check_kafka",
    "explain_kafka_failure",
    "explain_rabbitmq_failure",
    "faust_broker_credentials",
    "group_instance_id",
    "kafka_options",
    "kafka_ssl_context",
    "sasl_password",
]


class SecuritySettingError(SettingsError):
    """A connection setting that cannot work (a file that is not a certificate, a login
    the broker rejects); the message names the setting and never holds a secret."""


def kafka_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments every aiokafka client takes (``AIOKafkaProducer``,
    ``AIOKafkaConsumer``, ``AIOKafkaAdminClient``): bootstrap servers and security.

    Reads the password file, if any, and the certificate files now; raises
    :class:`SecuritySettingError` when one of them cannot be used."""
    protocol = settings.kafka_security_protocol
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": protocol,
    }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        options["sasl_plain_password"] = sasl_password(settings)
    return options


def faust_broker_credentials(settings: Settings) -> CredentialsT | None:
    """``faust.App(broker_credentials=...)``: the same connection as :func:`kafka_options`
    for faust's consumer, producer and topic creation; None with PLAINTEXT."""
    protocol = settings.kafka_security_protocol
    context = kafka_ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol in ("SASL_PLAINTEXT", "SASL_SSL"):
        # faust derives the protocol from the context: SASL_SSL with one, else SASL_PLAINTEXT.
        return SASLCredentials(
            username=settings.kafka_sasl_username,
            password=sasl_password(settings),
            ssl_context=context,
            mechanism=settings.kafka_sasl_mechanism,
        )
    if context is not None:
        return SSLCredentials(context)
    return None


def group_instance_id(settings: Settings, stage: str | None = None) -> str | None:
    """The static membership id of one consumer group member: ``group_instance_id`` for
    the worker's faust consumer, ``<group_instance_id>-<stage>`` for a stage that runs a
    consumer of its own in another group (e.g. ``intake``); None when unset."""
    base = settings.group_instance_id
    if base is None or stage is None:
        return base
    return f"{base}-{stage}"


def sasl_password(settings: Settings) -> str:
    """The SASL password: the setting, or the password file's content without one
    trailing newline (``echo secret > file`` and most secret stores add one)."""
    if settings.kafka_sasl_password is not None:
        return settings.kafka_sasl_password.get_secret_value()
    path = settings.kafka_sasl_password_file
    if path is None:
        raise SecuritySettingError(
            f"{env_var('kafka_sasl_password')} or {env_var('kafka_sasl_password_file')} is needed"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SecuritySettingError(
            f"{env_var('kafka_sasl_password_file')}: cannot read {str(path)!r} "
            f"({type(exc).__name__})"
        ) from None
    password = text.removesuffix("\n").removesuffix("\r")
    if not password:
        raise SecuritySettingError(f"{env_var('kafka_sasl_password_file')}: {str(path)!r} is empty")
    return password


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context of the Kafka clients: the CA file (else the system's CAs), the
    client certificate for mutual TLS, hostname checking as set."""
    context = _tls_context(
        ("kafka_ssl_cafile", settings.kafka_ssl_cafile),
        ("kafka_ssl_certfile", settings.kafka_ssl_certfile),
        ("kafka_ssl_keyfile", settings.kafka_ssl_keyfile),
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def amqp_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """``aio_pika.connect(url, ssl_context=...)`` for an ``amqps://`` URL (CA and client
    certificate from the settings; hostname always checked), None for ``amqp://``."""
    if not settings.rabbitmq_url.startswith("amqps://"):
        return None
    return _tls_context(
        ("rabbitmq_ssl_cafile", settings.rabbitmq_ssl_cafile),
        ("rabbitmq_ssl_certfile", settings.rabbitmq_ssl_certfile),
        ("rabbitmq_ssl_keyfile", settings.rabbitmq_ssl_keyfile),
    )


def _tls_context(
    ca: tuple[str, Path | None], cert: tuple[str, Path | None], key: tuple[str, Path | None]
) -> ssl.SSLContext:
    """A client TLS context; a file that is not what its setting says names the setting."""
    try:
        context: ssl.SSLContext = create_ssl_context(cafile=None if ca[1] is None else str(ca[1]))
    except (OSError, ssl.SSLError) as exc:
        raise SecuritySettingError(
            f"{env_var(ca[0])}: {str(ca[1])!r} is not a readable PEM file of CA certificates "
            f"({_reason(exc)})"
        ) from None
    if cert[1] is not None:
        try:
            context.load_cert_chain(str(cert[1]), None if key[1] is None else str(key[1]))
        except (OSError, ssl.SSLError) as exc:
            names = env_var(cert[0]) + ("" if key[1] is None else f" / {env_var(key[0])}")
            raise SecuritySettingError(
                f"{names}: cannot load the client certificate and its key ({_reason(exc)})"
            ) from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__


# --- telling a settings problem from a broker that is down -------------------------------


def explain_kafka_failure(settings: Settings, exc: BaseException) -> str | None:
    """Which setting to look at for a connection failure no retry can fix, or None when
    ``exc`` may pass (the broker is down, not ready, or the network is). aiokafka wraps a
    TLS alert in a ``KafkaConnectionError``: its cause is what tells."""
    for cause in _chain(exc):
        reason = _explain_one(settings, cause)
        if reason is not None:
            return reason
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 8:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _speaks_tls(exc: BaseException) -> bool:
    """A reply read as a Kafka frame whose "length" is a TLS record header (alert or
    handshake, version 3.x): a PLAINTEXT client talking to a TLS listener."""
    if not isinstance(exc, asyncio.IncompleteReadError) or exc.expected is None:
        return False
    return exc.expected >> 24 in (0x15, 0x16) and (exc.expected >> 16) & 0xFF == 0x03


def _explain_one(settings: Settings, exc: BaseException) -> str | None:
    protocol = settings.kafka_security_protocol
    if _speaks_tls(exc) and protocol in ("PLAINTEXT", "SASL_PLAINTEXT"):
        return (
            f"the listener speaks TLS but {env_var('kafka_security_protocol')}={protocol}; "
            "use SSL or SASL_SSL"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        if (
            "hostname" in str(exc.verify_message).lower()
            or "ip address mismatch" in str(exc.verify_message).lower()
        ):
            return (
                f"TLS: the broker's certificate does not name the host in "
                f"{env_var('kafka_bootstrap')} ({exc.verify_message}); use the name the "
                f"certificate holds, or set {env_var('kafka_ssl_check_hostname')}=false"
            )
        return (
            f"TLS: the broker's certificate is not trusted ({exc.verify_message}); set "
            f"{env_var('kafka_ssl_cafile')} to the CA that signed it"
            + (
                f" (now {str(settings.kafka_ssl_cafile)!r})"
                if settings.kafka_ssl_cafile
                else " (now unset: the system's CAs)"
            )
        )
    if isinstance(exc, ssl.SSLError):
        reason = _reason(exc)
        if any(word in reason.upper() for word in ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE")):
            return (
                f"TLS: the broker rejected the client certificate ({reason}); check "
                f"{env_var('kafka_ssl_certfile')} and {env_var('kafka_ssl_keyfile')}"
            )
        return (
            f"TLS handshake failed ({reason}); is this a TLS listener? Check "
            f"{env_var('kafka_security_protocol')}={protocol} and {env_var('kafka_bootstrap')}"
        )
    if isinstance(exc, SaslAuthenticationFailed):
        secret = (
            env_var("kafka_sasl_password")
            if settings.kafka_sasl_password is not None
            else env_var("kafka_sasl_password_file")
        )
        return (
            f"SASL {settings.kafka_sasl_mechanism} login of user "
            f"{settings.kafka_sasl_username!r} was rejected; check "
            f"{env_var('kafka_sasl_username')} and {secret}"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (
            f"the broker does not offer {env_var('kafka_sasl_mechanism')}="
            f"{settings.kafka_sasl_mechanism} on this listener ({exc})"
        )
    return None


async def check_kafka(settings: Settings, timeout_s: float = 10.0) -> None:
    """Connect once to the first bootstrap server that answers, with the security
    settings, and log in; raise :class:`SecuritySettingError` when that fails for a
    reason of the settings. A server that is down or silent is not an error here: the
    caller's own start-up retries and reports it.

    aiokafka reports every bootstrap failure as "Unable to bootstrap" and logs the cause
    only; this recovers the cause, so a wrong password or an untrusted certificate ends the
    start with the setting to fix instead of retrying forever.
    """
    options = kafka_options(settings)
    servers = options.pop("bootstrap_servers").split(",")
    for server in servers:
        host, _, port = server.rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), request_timeout_ms=int(timeout_s * 1000), **options),
                timeout_s,
            )
        except (OSError, KafkaError, TimeoutError) as exc:
            reason = explain_kafka_failure(settings, exc)
            if reason is not None:
                raise SecuritySettingError(f"Kafka at {server}: {reason}") from None
            continue
        conn.close()
        return


def explain_rabbitmq_failure(settings: Settings, exc: BaseException) -> str | None:
    """Like :func:`explain_kafka_failure`, for RabbitMQ: the setting behind a failure no
    retry fixes, or None."""
    for cause in _chain(exc):  # aiormq re-raises a TLS error as AMQPConnectionError
        reason = _explain_rabbitmq_one(settings, cause)
        if reason is not None:
            return reason
    return None


def _explain_rabbitmq_one(settings: Settings, exc: BaseException) -> str | None:
    url = redact_url(settings.rabbitmq_url)
    if isinstance(
        exc, aiormq.exceptions.AuthenticationError | aiormq.exceptions.ProbableAuthenticationError
    ):
        return (
            f"RabbitMQ at {url} refused the login ({exc.args[0] if exc.args else exc}); "
            f"check the user and password in {env_var('rabbitmq_url')}"
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"RabbitMQ at {url}: TLS: the server's certificate is not trusted or does not "
            f"name the host ({exc.verify_message}); set {env_var('rabbitmq_ssl_cafile')} to "
            "the CA that signed it, and use the host name the certificate holds"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"RabbitMQ at {url}: TLS handshake failed ({_reason(exc)}); check "
            f"{env_var('rabbitmq_url')} (amqps:// needs RabbitMQ's TLS port, usually 5671) "
            f"and {env_var('rabbitmq_ssl_certfile')}"
        )
    return None

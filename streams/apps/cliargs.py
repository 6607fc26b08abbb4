"""The set-up every `rankstream` subcommand shares: argument types, reading the settings
once, and reporting a failure as one line and an exit status.

Invariants:

* The settings are read once per run (:func:`settings_for`), after the arguments parsed,
  so a bad environment cannot break ``--help`` or a command that does not use it.
* A failure a user can act on is one line ``rankstream: error: ...`` on stderr, never a
  traceback; a bad setting or boards file names its ``RANKSTREAM_*`` variable.
* Exit statuses: 0 done (Ctrl-C included, for the interactive ``demo`` and ``watch``);
  the services (``worker``, ``intake``, ``bridge``) exit 2 for a setting, which no restart
  fixes, and 1 for a broker that does not answer, so a supervisor can tell them apart;
  ``demo`` and ``watch`` exit 1 for any failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streams.engine.config import BoardsConfig
    from streams.runtime.settings import Settings

#: The exit status of a setting that is wrong, for the services (see the module docstring).
SETTING_STATUS = 2


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def fail(message: str, status: int = 1) -> int:
    """Print one clear error line and return the exit status (no traceback for users)."""
    print(f"rankstream: error: {message}", file=sys.stderr)
    return status


def describe_error(exc: BaseException) -> str:
    """``Type: message``, once (aiokafka's errors already start with their type name)."""
    name, text = type(exc).__name__, str(exc)
    if not text:
        return name
    return text if text.startswith(name) else f"{name}: {text}"


def add_kafka_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    settings: Settings | None,
    topic_setting: str,
    *,
    help: str,
    description: str,
    topic_help: str,
) -> argparse.ArgumentParser:
    """A subcommand that reads or writes one Kafka topic, with ``--bootstrap`` and
    ``--topic``. Left out, they come from ``settings`` when given, else from the settings
    read when the command runs (:func:`kafka_target`); ``topic_setting`` names the
    :class:`~streams.runtime.settings.Settings` field of the topic."""
    parser = subparsers.add_parser(name, help=help, description=description)
    parser.add_argument(
        "--bootstrap",
        default=None if settings is None else settings.kafka_bootstrap,
        help="Kafka bootstrap servers (default: $RANKSTREAM_KAFKA_BOOTSTRAP or localhost:9092)",
    )
    parser.add_argument(
        "--topic",
        default=None if settings is None else getattr(settings, topic_setting),
        help=topic_help,
    )
    parser.set_defaults(_settings=settings, _topic_setting=topic_setting)
    return parser


def kafka_target(args: argparse.Namespace, settings: Settings) -> tuple[str, str]:
    """``(bootstrap, topic)`` of a command made by :func:`add_kafka_command`."""
    topic: str = args.topic or getattr(settings, args._topic_setting)
    return args.bootstrap or settings.kafka_bootstrap, topic


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings a subcommand was built with, else read now (may raise SettingsError)."""
    from streams.runtime.settings import load_settings

    given: Settings | None = getattr(args, "_settings", None)
    return given if given is not None else load_settings()


def load_boards_setting(settings: Settings) -> BoardsConfig:
    """The boards file of ``RANKSTREAM_BOARDS`` (the built-in defaults when unset); a
    :class:`~streams.engine.config.ConfigError` is reported by :func:`run_command`."""
    from streams.engine.config import load_boards

    return load_boards(settings.boards)


def run_command(args: argparse.Namespace, start: Callable[[Settings], int], *, status: int) -> int:
    """Read the settings once and run ``start`` with them; a bad setting or boards file,
    found then or while ``start`` runs, ends the command with one line and ``status``."""
    from streams.engine.config import ConfigError
    from streams.runtime.settings import SettingsError, env_var

    try:
        return start(settings_for(args))
    except SettingsError as exc:
        return fail(str(exc), status)
    except ConfigError as exc:
        return fail(f"{env_var('boards')}: {exc}", status)


def add_job_command(
    sub: Any, name: str, help: str, description: str, run: Callable[[argparse.Namespace], int]
) -> None:
    """A stream-job subcommand (worker, intake): settings come from the environment, so
    its only option is the log level."""
    parser = sub.add_parser(name, help=help, description=description)
    parser.add_argument("--loglevel", default="info", help="log level")
    parser.set_defaults(run=run)


def run_job(args: argparse.Namespace, start: Callable[[Settings, BoardsConfig], int]) -> int:
    """The set-up the stream-job commands (worker, intake) share: settings and boards read
    once, every topic created, and each failure as one line naming its cause (exit 2 for
    a setting, e.g. a rejected login or an untrusted certificate; 1 when Kafka does not
    answer). ``start`` runs the command and returns its exit status."""
    import asyncio

    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    from streams.runtime.topics import ensure_topics

    def job(settings: Settings) -> int:
        boards = load_boards_setting(settings)
        try:
            asyncio.run(ensure_topics(settings))
            return start(settings, boards)
        except KafkaError as exc:
            return fail(f"Kafka at {settings.kafka_bootstrap}: {exc}", 1)

    return run_command(args, job, status=SETTING_STATUS)


def run_until_stopped(
    main: Coroutine[Any, Any, object], failure: str, on_stop: Callable[[], None] | None = None
) -> int:
    """Run ``main`` (an interactive command's loop) until it returns or Ctrl-C (then
    ``on_stop`` is called), both exit 0; an error is one line ``<failure>: <error>``, exit 1."""
    import asyncio

    try:
        asyncio.run(main)
    except KeyboardInterrupt:
        if on_stop is not None:
            on_stop()
        return 0
    except Exception as exc:  # a Kafka or network error: report it, no traceback
        return fail(f"{failure}: {describe_error(exc)}")
    return 0

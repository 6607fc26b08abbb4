"""Argument types and error reporting shared by the `rankstream` subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.engine.config import BoardsConfig
    from streams.runtime.settings import Settings


def add_kafka_options(
    parser: argparse.ArgumentParser, bootstrap: str | None, topic: str | None, topic_help: str
) -> None:
    """``--bootstrap`` and ``--topic``; None defaults are filled from the settings at run
    time, so a bad environment cannot break commands that do not use Kafka."""
    parser.add_argument(
        "--bootstrap",
        default=bootstrap,
        help="Kafka bootstrap servers (default: $RANKSTREAM_KAFKA_BOOTSTRAP or localhost:9092)",
    )
    parser.add_argument("--topic", default=topic, help=topic_help)


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


def settings_for(args: argparse.Namespace) -> Settings:
    """The settings a subcommand was built with, else read now (may raise SettingsError)."""
    from streams.runtime.settings import load_settings

    given: Settings | None = getattr(args, "_settings", None)
    return given if given is not None else load_settings()


def run_job(args: argparse.Namespace, start: Callable[[Settings, BoardsConfig], int]) -> int:
    """The set-up the stream-job commands (worker, intake) share: settings and boards read
    once, every topic created, and each failure as one line naming its cause (exit 2 for
    a setting, e.g. a rejected login or an untrusted certificate; 1 when Kafka does not
    answer). ``start`` runs the command and returns its exit status."""
    import asyncio

    from aiokafka.errors import KafkaError  # type: ignore[import-untyped]

    from streams.engine.config import ConfigError, load_boards
    from streams.runtime.settings import SettingsError
    from streams.runtime.topics import ensure_topics

    try:
        settings = settings_for(args)
        boards = load_boards(settings.boards)
    except SettingsError as exc:
        return fail(str(exc), 2)
    except ConfigError as exc:
        return fail(f"RANKSTREAM_BOARDS: {exc}", 2)
    try:
        asyncio.run(ensure_topics(settings))
        return start(settings, boards)
    except SettingsError as exc:
        return fail(str(exc), 2)
    except KafkaError as exc:
        return fail(f"Kafka at {settings.kafka_bootstrap}: {exc}", 1)

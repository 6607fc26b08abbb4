"""What both stages take from the settings: the transaction timeout, and the intake stage
as the worker (``RANKSTREAM_RUN_INTAKE``) and ``rankstream intake`` run it."""

from __future__ import annotations

from collections.abc import Callable

from schemas.timefmt import wall_clock_ms
from streams.engine.config import BoardsConfig
from streams.runtime.intake_stage import IntakeOptions, IntakeStage, IntakeTopics
from streams.runtime.kafka_clients import group_instance_id, kafka_options
from streams.runtime.settings import Settings
from streams.runtime.topics import by_board_topic

#: A transaction left open by a killed worker holds read_committed consumers back until its
#: partition's next owner starts (which aborts it) or this timeout passes. Shorter than the
#: pods' termination grace (tests/deploy/test_k8s_manifests.py checks it).
TRANSACTION_TIMEOUT_MS = 30_000


def exactly_once(settings: Settings) -> bool:
    return settings.processing_guarantee == "exactly_once"


def intake_stage(
    settings: Settings, config: BoardsConfig, on_invalid: Callable[[int], None]
) -> IntakeStage:
    """The intake stage; ``on_invalid(n)`` counts the events it dead-letters."""
    options = IntakeOptions(
        app_id=settings.app_id,
        exactly_once=exactly_once(settings),
        batch_max_events=settings.batch_max_events,
        batch_max_ms=settings.batch_max_ms,
        linger_ms=settings.producer_linger_ms,
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
        client=kafka_options(settings),
        group_instance_id=group_instance_id(settings, "intake"),
    )
    topics = IntakeTopics(settings.scores_topic, by_board_topic(settings), settings.dlq_topic)
    return IntakeStage(options, config, topics, wall_clock_ms, on_invalid)

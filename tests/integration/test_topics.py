"""The worker creates every topic it needs before faust starts (real broker)."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.runtime.settings import load_settings
from streams.runtime.topics import ensure_topics, state_log_topic, wanted_topics


async def describe(bootstrap: str, names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(names)
        partitions = {t["topic"]: len(t["partitions"]) for t in topics}
        [response] = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, names[-1])]
        )
        configs = {name: value for name, value, *_ in response.resources[0][4]}
        return partitions, configs
    finally:
        await admin.close()


def test_missing_topics_are_created_once_with_their_partitions_and_config(kafka: str) -> None:
    app_id = f"rs-{uuid.uuid4().hex[:10]}"
    settings = load_settings(
        kafka_bootstrap=kafka,
        app_id=app_id,
        scores_topic=f"{app_id}-scores",
        changes_topic=f"{app_id}-changes",
        dlq_topic=f"{app_id}-dlq",
        partitions=3,
    )
    names = list(wanted_topics(settings))
    assert names[-1] == state_log_topic(settings)
    assert sorted(asyncio.run(ensure_topics(settings))) == sorted(names)
    assert asyncio.run(ensure_topics(settings)) == []  # idempotent
    partitions, configs = asyncio.run(describe(kafka, names))
    assert partitions == dict.fromkeys(names, 3)
    assert configs["cleanup.policy"] == "compact"
    assert int(configs["max.message.bytes"]) > 16 * 1024 * 1024

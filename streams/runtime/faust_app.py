"""The faust app of the rank stage, built from the settings.

Invariants:

* Static membership (``group_instance_id``): a restarted worker takes its own partitions
  back at once, without a rebalance.
* faust's own exactly-once mode is off even when the job gives exactly-once: the stages
  run their transactions themselves (``docs/design/exactly-once.md``), and the consumer
  (:func:`~streams.runtime.consumer.consumer_class`) commits no offsets of the by-board
  topic they commit (``docs/design/by-board-delivery.md``).
* The table :data:`ROUTING_TABLE` holds no data: it makes faust's assignor keep its
  partition p with by-board partition p, and gives the web layer the map of which worker
  owns which partition (:mod:`streams.runtime.ownership`). The state itself is one RocksDB
  per by-board partition, opened by the ranker, with our own changelog (faust's table
  storage drops the handle of every partition on a rebalance, even one that stays, and its
  recovery cannot read a transactional log).
"""

from __future__ import annotations

import faust

from streams.runtime.consumer import consumer_class
from streams.runtime.kafka_clients import faust_broker_credentials
from streams.runtime.settings import Settings
from streams.runtime.stage_setup import exactly_once
from streams.runtime.topics import by_board_topic

#: The faust table that routes queries (see the module docstring).
ROUTING_TABLE = "state"


def faust_app(settings: Settings, max_request_line: int) -> faust.App:
    """The app, its consumer class and its routing table; ``max_request_line`` is the
    longest request line the web server accepts (aiohttp refuses longer ones itself, in
    plain text, before any middleware)."""
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_broker_credentials(settings),
        consumer_group_instance_id=settings.group_instance_id,
        store="rocksdb://",
        datadir=str(settings.data_dir),
        processing_guarantee="at_least_once",
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        producer_linger_ms=settings.producer_linger_ms,
        broker_commit_interval=settings.commit_interval_s,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=min(3.0, settings.session_timeout_s / 3),
        web_port=settings.web_port,
        web_host=settings.web_host,
        canonical_url=settings.web_canonical_url
        or f"http://{settings.web_host}:{settings.web_port}",
        web_application_options={"handler_args": {"max_line_size": max_request_line}},
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
    )
    transactional = {by_board_topic(settings)} if exactly_once(settings) else set()
    app.transport.Consumer = consumer_class(transactional)  # type: ignore[misc]
    app.Table(
        ROUTING_TABLE,
        partitions=settings.partitions,
        key_type=bytes,  # bytes keys and values use faust's raw serializer
        value_type=bytes,
    )
    return app


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """A topic of raw bytes that faust creates when missing (as an internal topic)."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        internal=True,
    )

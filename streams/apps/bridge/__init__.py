"""`rankstream bridge`: RabbitMQ <-> Kafka (contract section 6; user docs in docs/bridge.md).

Two independent paths run side by side in one process, each in its own supervised session
that reconnects on its own:

- in (:mod:`.inbound`): queue ``rank_update`` -> scores topic, dead letters to
  ``rank_update.dlq``;
- out (:mod:`.outbound`): push topic -> topic exchange ``rank_changes``.

The decisions that need no I/O live in small pure modules so they are unit-tested without
services: :mod:`.translate` (one input message -> Kafka record or dead letter),
:mod:`.routing` (push record -> routing key), :mod:`.offsets` (which Kafka offsets may be
committed), :mod:`.backoff` (reconnection delays).
"""

"""The ranking engine: compiled from ``rust/`` into ``streams.engine._core``.

Everything that decides a leaderboard lives in that one engine, so that the replay command,
the stream job and the tests all run the same code; the modules here are its Python face
(``core.Engine``, the value types, the boards file, queries, the ``Store`` protocol). Nothing
in this package may import faust, aiokafka, aio-pika or pydantic (a unit test enforces it);
adapters validate at the edge and hand the engine plain
:class:`~streams.engine.events.ScoreEvent` values. Why compiled: docs/design/compiled-engine.md.
"""

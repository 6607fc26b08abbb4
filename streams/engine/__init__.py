"""The ranking engine: pure Python, standard library only.

Everything that decides a leaderboard lives here so that the replay command, the Faust
worker and the tests all run the same code. Nothing in this package may import faust,
aiokafka, aio-pika or pydantic (a unit test enforces it); adapters validate at the edge and
hand the engine plain :class:`~streams.engine.events.ScoreEvent` values.
"""

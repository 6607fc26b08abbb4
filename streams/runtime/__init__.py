"""The runtime: stages, units and transactions, the consumer, state, restore, topics.

Imports :mod:`streams.engine` and :mod:`streams.edge`, never :mod:`streams.apps`.
"""

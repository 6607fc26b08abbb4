"""Durable implementations of the engine's :class:`~streams.engine.storage.Store`.

Kept outside :mod:`streams.engine` because they depend on native libraries (rocksdict),
which the pure-Python engine must not import.
"""

from streams.runtime.state.rocksdb import RocksStore, split_key
from streams.runtime.state.tuning import RocksTuning, rocksdb_memory, rocksdb_options

__all__ = ["RocksStore", "RocksTuning", "rocksdb_memory", "rocksdb_options", "split_key"]

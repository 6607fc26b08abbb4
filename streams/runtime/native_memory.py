"""glibc malloc tuning for the worker process, applied once at start-up.

glibc serves an allocation of at least ``M_MMAP_THRESHOLD`` bytes with its own ``mmap``
and returns it to the OS on ``free``. By default that threshold is *dynamic*: every free
of such a block raises it to the block's size (up to 32 MiB), so from then on RocksDB's
memtable arena blocks (4 MiB at a 32 MiB write buffer) and aiokafka's ~1 MiB send batches
come from the heap instead, and a heap only shrinks from its top. Freed blocks between
live ones stay resident: the worker's RSS grew with the events it processed, well past
what RocksDB and Python hold (bench/README.md, "Memory at 1,000,000 users"). Setting the
threshold explicitly switches the dynamic adjustment off, so large blocks keep going back
to the OS. Not part of the engine: it is process tuning, like the RocksDB options.
"""

from __future__ import annotations

import ctypes
import platform

#: mallopt's parameter number for the mmap threshold (glibc's malloc.h)
M_MMAP_THRESHOLD = -3
#: the largest threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2)
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024


def pin_mmap_threshold(threshold_bytes: int) -> bool:
    """Fix glibc's mmap threshold at ``threshold_bytes``; 0 leaves glibc's dynamic default.

    True when applied; False for 0 or when the C library is not glibc (musl, macOS), where
    there is nothing to tune this way."""
    if threshold_bytes <= 0 or platform.libc_ver()[0] != "glibc":
        return False
    if threshold_bytes > MAX_MMAP_THRESHOLD:
        raise ValueError(f"mmap threshold above glibc's maximum {MAX_MMAP_THRESHOLD}")
    libc = ctypes.CDLL(None)  # the C library this process already uses
    return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold_bytes))

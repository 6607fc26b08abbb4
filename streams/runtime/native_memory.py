"""glibc malloc tuning for the worker process, applied once at start-up.

Invariant: with the threshold fixed, every allocation of at least that size is mmapped and
goes back to the OS on ``free``, so RSS follows what is live. glibc's default threshold is
*dynamic*: each free of an mmapped block raises it to that block's size (up to 32 MiB), and
from then on RocksDB's memtable arena blocks (4 MiB at a 32 MiB write buffer) and aiokafka's
~1 MiB send batches come from the heap, which only shrinks from its top, so freed blocks
below live ones stay resident. Setting the threshold explicitly switches the adjustment off.
Process tuning, like the RocksDB options, so not part of the engine. Design record and
measurements: docs/design/memory.md; tests: ``tests/unit/test_native_memory.py``.
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

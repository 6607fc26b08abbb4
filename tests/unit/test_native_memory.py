"""glibc's mmap threshold: pinned, large blocks go back to the OS even after the dynamic
threshold would have risen. Each case runs in a fresh interpreter, since the threshold is
process-wide and only ever rises on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streams.runtime.native_memory import MAX_MMAP_THRESHOLD, pin_mmap_threshold

# Free one 2 MiB mmapped block (glibc then raises its threshold to 2 MiB), then count
# mmapped chunks (mallinfo2().hblks) around a 512 KiB allocation.
PROBE = """
import ctypes, sys
from streams.runtime.native_memory import pin_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
libc.free(libc.malloc(2 << 20))
applied = pin_mmap_threshold(int(sys.argv[1]))
before = libc.mallinfo2().hblks
block = libc.malloc(512 << 10)
mmapped = libc.mallinfo2().hblks - before
libc.free(block)
print(applied, mmapped)
"""


def _probe(threshold: int) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(threshold)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0, "False 0"),  # glibc's dynamic default: 512 KiB now comes from the heap
        (128 << 10, "True 1"),  # pinned: mmapped, so free() returns it to the OS
    ],
)
def test_pinned_threshold_keeps_large_blocks_mmapped(threshold: int, expected: str) -> None:
    assert _probe(threshold) == expected


def test_threshold_above_glibc_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="maximum"):
        pin_mmap_threshold(MAX_MMAP_THRESHOLD + 1)

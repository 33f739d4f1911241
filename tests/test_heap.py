"""After a cycle, the memory it freed goes back to the system (aggregator.ops.heap)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aggregator.ops.heap import _malloc_trim, give_back

# In a child: its resident memory is its own.  Allocate 200 MiB in 2 KB objects (malloc's, not
# Python's small-object arenas), keep one allocated after them (glibc then cannot just lower
# the heap's top), free the rest, and report resident MiB before and after ``give_back``.
CHILD = """
import sys
from aggregator.ops.heap import give_back

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20

chunks = [bytes(2048) for _ in range(100_000)]
pin = bytes(2048)
del chunks
before = rss()
done = give_back()
print(before, rss(), done)
"""


@pytest.mark.skipif(_malloc_trim() is None, reason="needs glibc's malloc_trim (Linux)")
def test_freed_memory_is_returned_to_the_system() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after, done = float(out[0]), float(out[1]), out[2]
    assert before > 150, before  # freed, yet still held by the process
    assert after < before - 150, (before, after)
    assert done == "True"


def test_giving_back_is_safe_to_call_anywhere() -> None:
    assert give_back() in (True, False)

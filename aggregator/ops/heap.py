"""Handing the memory a cycle freed back to the system.

A cold cycle allocates hundreds of MiB of short-lived objects (documents, parsed entries,
posts on their way to the store) and frees them; glibc's allocator keeps most of what it got
for them, fragmented between the few objects that survive, so a long-running scheduler, and
every later cycle measured with it, kept the first cycle's footprint: at 10,000 sources the
warm and steady cycles after a cold one peaked 38 MiB higher than after ``malloc_trim``
(``bench/run.py --scale --scale-sizes 10000``, 2026-12-07: 245.9 -> 207.5 MiB warm,
295.0 -> 257.8 MiB steady).  ``give_back`` collects cyclic garbage first, so that what it
held is free too, then asks glibc to return every free page (``malloc_trim(0)``).

Linux with glibc only; elsewhere (musl, macOS) it collects and does nothing more.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache

log = logging.getLogger(__name__)


# Allocations between two collections of the youngest generation while a cycle runs (700 is
# Python's default).
CYCLE_YOUNG_THRESHOLD = 10_000


@contextmanager
def fewer_collections(young: int = CYCLE_YOUNG_THRESHOLD) -> Iterator[None]:
    """Run the block with the cyclic garbage collector running less often and walking less.

    A cycle's process unpickles every post the workers send (about 20 container objects
    each), holds them until their batch is written, then drops them, nearly all freed by
    their reference counts.  With Python's thresholds that meant 230 collections of the young
    generation and two of the whole heap, which walked every object the process holds
    (modules, settings, the cycle's state): 0.3 s of a cold cycle's 3 s in that process at
    1,000 sources.  Here what exists when the block starts is frozen (``gc.freeze``: no
    collection walks it) and the young generation is collected every ``young`` allocations;
    both are put back when the last block ends (a publish inside a cycle, a console's publish
    in another thread), however it ends.

    Garbage frozen with the rest waits for a collection after the block: the young
    generations, where what the steps just before left lies, are collected first, and a cycle
    that read documents collects the whole heap after its block (``give_back``), as it always
    did; a cycle of 304s, as before, does not.  A freeze made by someone else is left to them,
    and a collector switched off (threshold 0) stays off.
    """
    with _LOCK:
        _DEPTH[0] += 1
        if _DEPTH[0] == 1:  # the first to enter sets, the last to leave restores
            _SAVED[:] = gc.get_threshold()
            _FROZEN[0] = gc.get_freeze_count() == 0
            if _FROZEN[0]:
                gc.collect(1)
                gc.freeze()
            if _SAVED[0]:
                gc.set_threshold(max(young, _SAVED[0]), *_SAVED[1:])
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH[0] -= 1
            if _DEPTH[0] == 0:
                gc.set_threshold(*_SAVED)
                if _FROZEN[0]:
                    gc.unfreeze()


# fewer_collections' blocks under way in this process, the thresholds the first one found and
# whether it froze the heap
_LOCK = threading.Lock()
_DEPTH = [0]
_SAVED: list[int] = []
_FROZEN = [False]


def give_back() -> bool:
    """Collect garbage and return free heap pages to the system; whether any could be."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    return bool(trim(0))


@lru_cache(maxsize=1)
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - a Linux without a C library to load
        return None
    trim = getattr(libc, "malloc_trim", None)  # glibc's; musl has none
    if trim is None:  # pragma: no cover - musl (Alpine)
        log.debug("malloc_trim is not available: freed memory stays with the process")
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]

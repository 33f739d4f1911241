"""After a cycle, the memory it freed goes back to the system (aggregator.ops.heap)."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config
from aggregator import cycle as cycle_module
from aggregator.cycle import run_cycle
from aggregator.demo.server import LoopbackFeedServer
from aggregator.models import FetchStatus
from aggregator.ops.heap import CYCLE_YOUNG_THRESHOLD, _malloc_trim, fewer_collections, give_back
from aggregator.store import open_store
from tests.test_cycle_batching import RSS

NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)

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


def test_a_cycle_gives_back_only_when_it_read_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle of 304s frees next to nothing: a full collection then would only cost time.
    Either way the collector is left as the cycle found it (``fewer_collections``)."""
    before = gc.get_threshold()
    calls: list[int] = []
    monkeypatch.setattr(cycle_module, "give_back", lambda: calls.append(1) or True)
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "f.rss").write_bytes(RSS)
    with LoopbackFeedServer(feeds) as server:
        path = tmp_path / "feeds.yaml"
        path.write_text(
            "site: {title: t, base_url: 'https://agg.example/'}\n"
            f"fetch: {{allow_private: ['{server.hostport}']}}\n"
            "sources:\n"
            f"  - {{id: s1, name: S, organisation: O, url: '{server.url('/f.rss')}'}}\n",
            encoding="utf-8",
        )
        settings = config.load(path)
        store = open_store(settings.storage_url)
        try:
            first = run_cycle(settings, store, clock=lambda: NOW, workers=1)
            assert [o.status for o in first.outcomes] == [FetchStatus.OK]
            assert calls == [1]  # a document was read: what it freed goes back
            later = NOW + timedelta(days=1)
            warm = run_cycle(settings, store, clock=lambda: later, workers=1)
            assert [o.status for o in warm.outcomes] == [FetchStatus.NOT_MODIFIED]
            assert calls == [1]  # only a 304: nothing to give back, no collection
        finally:
            store.close()
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector frees it


def test_during_a_cycle_the_collector_runs_less_and_leaves_as_it_found() -> None:
    """A cold cycle's process spent a tenth of its time in 230 young and two whole-heap
    collections: during the block the young generation is collected every 10,000
    allocations and what existed before is frozen; both are put back, also after an error."""
    before = gc.get_threshold()
    with fewer_collections():
        assert gc.get_threshold()[0] == max(CYCLE_YOUNG_THRESHOLD, before[0])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a cycle that fails")
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_garbage_the_cycle_made_is_collected_when_it_gives_back() -> None:
    """The collection of ``give_back`` runs inside the block: it walks only what the cycle
    made, and frees the cycles of references among it."""
    freed: list[int] = []
    with fewer_collections():
        node = _Node()
        weakref.finalize(node, freed.append, 1)
        del node
        assert freed == []  # a cycle: not freed by its reference count
        give_back()
        assert freed == [1]


def test_blocks_inside_blocks_or_side_by_side_restore_once_at_the_end() -> None:
    """A publish inside a cycle's block, or a console's publish in another thread: the last
    block to end puts the collector back, not the first."""
    before = gc.get_threshold()
    outer = fewer_collections()
    outer.__enter__()
    with fewer_collections():
        pass
    assert gc.get_threshold()[0] == max(CYCLE_YOUNG_THRESHOLD, before[0])
    assert gc.get_freeze_count() > 0
    outer.__exit__(None, None, None)
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_garbage_made_before_the_block_is_freed_at_its_start_or_by_the_give_back_after() -> None:
    """What the steps just before dropped (young) is collected when the block starts; older
    garbage is frozen with the rest and freed by the full collection of the cycle's
    ``give_back`` after the block, as before there was a block."""
    freed: list[str] = []
    old = _Node()
    weakref.finalize(old, freed.append, "old")
    gc.collect()  # alive: now in the oldest generation
    del old
    young = _Node()
    weakref.finalize(young, freed.append, "young")
    del young
    with fewer_collections():
        assert freed == ["young"]
    give_back()
    assert freed == ["young", "old"]


def test_someone_elses_freeze_and_a_collector_switched_off_are_left_as_they_are() -> None:
    before = gc.get_threshold()
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with fewer_collections():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
    try:
        gc.set_threshold(0)
        with fewer_collections():
            assert gc.get_threshold()[0] == 0
        assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)

"""After a cycle, the memory it freed goes back to the system (aggregator.ops.heap)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config
from aggregator import cycle as cycle_module
from aggregator.cycle import run_cycle
from aggregator.demo.server import LoopbackFeedServer
from aggregator.models import FetchStatus
from aggregator.ops.heap import _malloc_trim, give_back
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
    """A cycle of 304s frees next to nothing: a full collection then would only cost time."""
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

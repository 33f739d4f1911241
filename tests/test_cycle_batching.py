"""State-only updates (304s) are written in batches: nothing of a source's state may be lost.

A real SQLite store and, for the cycle, the demo's feed host on 127.0.0.1 answering 304.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config, cycle
from aggregator.cycle import STATE_BATCH, run_cycle
from aggregator.demo.server import LoopbackFeedServer
from aggregator.models import FetchStatus, Source, SourceState, SourceUpdate
from aggregator.store import open_store
from tests.stores import at_head

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<link>https://m.example/</link><item><title>One two three four</title>"
    b"<link>https://m.example/1</link><pubDate>Mon, 01 Jun 2026 07:00:00 +0000</pubDate>"
    b"<description>&lt;p&gt;Body text of the post.&lt;/p&gt;</description></item>"
    b"</channel></rss>"
)


def test_apply_updates_writes_every_state_and_a_placeholder(tmp_path: Path) -> None:
    store = open_store(at_head(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    try:
        store.sync_sources([Source(id="a", name="A", organisation="O", url="https://a.example/")])
        when = datetime(2026, 6, 1, tzinfo=UTC)
        counts = store.apply_updates(
            [
                SourceUpdate(
                    "a", SourceState("a", "https://a.example/", etag='"1"', last_success=when)
                ),
                SourceUpdate("ghost", SourceState("ghost", "https://g.example/", etag='"g"')),
            ]
        )
        assert counts == [(0, 0), (0, 0)]
        states = store.get_states()
        assert states["a"].etag == '"1"' and states["a"].last_success == when
        assert states["ghost"].etag == '"g"'  # an unknown source's state is kept, not lost
        assert store.get_sources()["ghost"].enabled is False
    finally:
        store.close()


def test_a_warm_cycle_stores_the_state_of_every_304_source(tmp_path: Path) -> None:
    count = STATE_BATCH + 7  # more than one batch, and a partial one at the end
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for i in range(count):
        (feeds / f"f{i}.rss").write_bytes(RSS)
    with LoopbackFeedServer(feeds) as server:
        _cold_then_warm(tmp_path, server, count)


def _cold_then_warm(tmp_path: Path, server: LoopbackFeedServer, count: int) -> None:
    lines = [
        "site: {title: t, base_url: 'https://agg.example/'}",
        f"fetch: {{allow_private: ['{server.hostport}']}}",
        "sources:",
    ]
    lines += [
        f"  - {{id: s{i:03d}, name: S{i}, organisation: O, url: '{server.url(f'/f{i}.rss')}'}}"
        for i in range(count)
    ]
    path = tmp_path / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    start = datetime(2026, 6, 2, tzinfo=UTC)
    try:
        cold = run_cycle(settings, store, clock=lambda: start, workers=1)
        assert all(o.status is FetchStatus.OK for o in cold.outcomes)
        etags = {sid: state.etag for sid, state in store.get_states().items()}
        assert all(etags.values())
        later = start + timedelta(hours=2)
        warm = run_cycle(settings, store, clock=lambda: later, workers=1)
        assert all(o.status is FetchStatus.NOT_MODIFIED for o in warm.outcomes)
        states = store.get_states()
        assert len(states) == count
        for i in range(count):
            state = states[f"s{i:03d}"]
            assert state.last_fetch == later and state.last_success == later
            assert state.etag == etags[f"s{i:03d}"]
            assert state.next_fetch is not None and state.next_fetch > later
    finally:
        store.close()


def test_documents_over_the_held_bytes_bound_are_read_one_at_a_time_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members whose documents each outweigh the bound still get every post stored."""
    monkeypatch.setattr(cycle, "HELD_BYTES", 1)  # every document is over it
    count = 12
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for i in range(count):
        own = RSS.replace(b"/1</link>", f"/{i}</link>".encode())
        own = own.replace(b"One two three four", f"Story {i} of the council".encode())
        (feeds / f"f{i}.rss").write_bytes(own)
    with LoopbackFeedServer(feeds) as server:
        _cold_then_warm(tmp_path, server, count)
        store = open_store(at_head(f"sqlite:///{tmp_path / 'aggregator.sqlite3'}"))
        try:
            assert store.count_posts() == count
        finally:
            store.close()

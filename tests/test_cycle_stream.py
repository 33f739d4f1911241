"""The cycle reads its sources from the store a batch at a time, and still fetches every one.

``store.due.due_sources`` walks the configured ids in batches and reads those a cycle fetches
(enabled, configured, not gone, not held in the console, due): on SQLite and PostgreSQL alike it
must give each such source once, in the configuration's order, and no other, whatever the batch
size; and a cycle over more sources than a batch must fetch them all.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.demo.server import LoopbackFeedServer
from aggregator.models import FetchStatus, Source
from aggregator.store import due as due_pages
from aggregator.store import open_store
from aggregator.store.due import due_sources
from aggregator.store.staff import AuditEntry
from tests.test_cycle_batching import RSS
from tests.test_store import Backend, backend  # noqa: F401  # the two-backend fixture

NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)


def _source(i: int, **changes: object) -> Source:
    return replace(
        Source(id=f"s{i:02d}", name=f"S{i}", organisation="O", url=f"https://m{i}.example/f"),
        **changes,  # type: ignore[arg-type]
    )


def test_due_batches_give_every_fetchable_source_once_in_order(
    backend: Backend,  # noqa: F811
) -> None:
    store = open_store(backend.url)
    try:
        configured = [_source(i) for i in range(12)] + [_source(12, enabled=False)]
        store.sync_sources(configured)
        states = store.get_states()
        store.set_state(replace(states["s01"], gone=True))  # 410: not fetched again
        store.set_state(replace(states["s02"], next_fetch=NOW + timedelta(hours=1)))
        store.set_state(replace(states["s03"], next_fetch=NOW - timedelta(minutes=1)))
        entry = AuditEntry(NOW, "staff", "source.disable", "s04", "spam")
        store.hold_source("s04", "disabled", entry)  # held in the console
        store.sync_sources(configured[1:])  # s00 leaves feeds.yaml: kept, never fetched

        order = [f"s{i:02d}" for i in (7, 3, 11, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12)]
        every = [i for i in order if i not in ("s00", "s01", "s04", "s12")]
        for size in (1, 3, 500):
            assert _ids(store, order, size, None) == every  # the order asked for, batch by batch
        due = [i for i in every if i != "s02"]  # s02 is due in an hour, s03 was a minute ago
        assert _ids(store, order, 2, NOW) == due
        assert store.due_counts(due_at=NOW) == (len(due), len(due))  # none ever parsed
        assert store.due_counts() == (len(every), len(every))
        assert store.due_counts(only=["s05", "s04", "s01", "s09"]) == (2, 2)
        pairs = store.due_sources(["s07"])
        assert [(s.id, s.url, st.url) for s, st in pairs] == [
            ("s07", "https://m7.example/f", "https://m7.example/f")
        ]
    finally:
        store.close()


def _ids(store: object, ids: list[str], size: int, due_at: datetime | None) -> list[str]:
    pairs = due_sources(store, ids, due_at, batch=size)  # type: ignore[arg-type]
    return [source.id for source, _ in pairs]


def test_a_cycle_over_more_sources_than_a_batch_fetches_each_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(due_pages, "BATCH", 4)
    count = 11  # two full batches and a partial one
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    for i in range(count):
        own = RSS.replace(b"/1</link>", f"/{i}</link>".encode())
        own = own.replace(b"One two three four", f"Story {i} of the council".encode())
        (feeds / f"f{i}.rss").write_bytes(own)
    with LoopbackFeedServer(feeds) as server:
        lines = [
            "site: {title: t, base_url: 'https://agg.example/'}",
            f"fetch: {{allow_private: ['{server.hostport}']}}",
            "sources:",
        ]
        lines += [
            f"  - {{id: s{i:02d}, name: S{i}, organisation: O, url: '{server.url(f'/f{i}.rss')}'}}"
            for i in range(count)
        ]
        path = tmp_path / "feeds.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        settings = config.load(path)
        store = open_store(settings.storage_url)
        try:
            first = run_cycle(settings, store, clock=lambda: NOW, workers=1)
            assert [o.source_id for o in first.outcomes] == [f"s{i:02d}" for i in range(count)]
            assert all(o.status is FetchStatus.OK for o in first.outcomes)
            assert store.count_posts() == count
            # a minute later nothing is due: the scheduler's cycle fetches nobody
            later = NOW + timedelta(minutes=1)
            idle = run_cycle(settings, store, clock=lambda: later, due_only=True, workers=1)
            assert idle.outcomes == ()
            again = NOW + timedelta(days=1)
            warm = run_cycle(settings, store, clock=lambda: again, due_only=True, workers=1)
            assert len(warm.outcomes) == count
            assert all(o.status is FetchStatus.NOT_MODIFIED for o in warm.outcomes)
        finally:
            store.close()

"""Retention: old posts go, what a digest sent or a feed still lists stays (SQLite and PG)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator import config
from aggregator.cycle import fetch_and_publish
from aggregator.models import EditionRecord, Post, Source, SourceState, SourceUpdate
from aggregator.retention import cutoff, expire
from aggregator.store import SqlStore, open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head

PG_URL = os.environ.get("AGGREGATOR_TEST_PG_URL")
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SRC = Source(id="uclg", name="UCLG", organisation="UCLG", url="https://uclg.example/feed")
OTHER = Source(id="cemr", name="CEMR", organisation="CEMR", url="https://cemr.example/feed")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        opened = open_store(at_head(f"sqlite:///{tmp_path / 'r.sqlite3'}"))
        opened.sync_sources([SRC, OTHER])
        yield opened
        opened.close()
        return
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_PG_URL is not set")
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in PG_URL else "?"
    opened = open_store(f"{PG_URL}{joiner}options=-csearch_path%3D{schema}")
    opened.sync_sources([SRC, OTHER])
    yield opened
    opened.close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


def post(n: int, age_days: int, source: str = "uclg", topics: tuple[str, ...] = ()) -> Post:
    seen = T0 - timedelta(days=age_days)
    return Post(
        id=f"{source}-{n}",
        source_id=source,
        guid=None,
        title=f"Post {n} of {source}",
        link=f"https://{source}.example/{n}",
        published=seen - timedelta(minutes=n),
        updated=seen,
        first_seen=seen,
        language="en",
        excerpt="x",
        content_html="<p>x</p>",
        topics=topics,
        content_hash=f"h{n}",
    )


def put(store: SqlStore, *posts: Post) -> None:
    by_source: dict[str, list[Post]] = {}
    for p in posts:
        by_source.setdefault(p.source_id, []).append(p)
    for sid, items in by_source.items():
        url = SRC.url if sid == "uclg" else OTHER.url
        store.apply_update(SourceUpdate(sid, SourceState(sid, url), tuple(items)))


def ids(store: SqlStore) -> set[str]:
    return {p.id for p in store.recent_posts(10_000)}


def test_cutoff_is_none_when_retention_is_off_and_counts_back_otherwise() -> None:
    assert cutoff(T0, None) is None
    assert cutoff(T0, 0) is None
    assert cutoff(T0, 365) == T0 - timedelta(days=365)


def test_old_posts_go_and_recent_ones_stay(store: SqlStore) -> None:
    put(store, post(1, 400, topics=("housing",)), post(2, 10), post(3, 366, source="cemr"))
    assert store.expire_posts(T0 - timedelta(days=365), ()) == 2
    assert ids(store) == {"uclg-2"}
    assert store.recent_posts(10, topic="housing") == []
    assert store.expire_posts(T0 - timedelta(days=365), ()) == 0


def test_a_post_an_edition_lists_is_kept_with_its_edition(store: SqlStore) -> None:
    put(store, post(1, 400), post(2, 400))
    edition = EditionRecord(
        id="weekly-2025-10-01",
        name="weekly",
        window_start=None,
        window_end=T0 - timedelta(days=399),
        created=T0 - timedelta(days=399),
        post_ids=("uclg-1",),
        subject="Old news",
        sent=True,
    )
    store.save_edition(edition, ["a@example.org"])
    assert store.expire_posts(T0 - timedelta(days=365), ()) == 1
    assert ids(store) == {"uclg-1"}
    kept = store.get_edition(edition.id)
    assert kept is not None and kept.post_ids == ("uclg-1",)
    assert [p.title for p in store.posts_by_ids(kept.post_ids)] == ["Post 1 of uclg"]


def test_keep_ids_and_each_sources_newest_posts_are_kept(store: SqlStore) -> None:
    put(store, *(post(n, 400) for n in range(1, 6)), post(9, 400, source="cemr"))
    deleted = store.expire_posts(T0 - timedelta(days=365), {"uclg-5"}, keep_newest=2)
    # uclg's two newest (1 and 2: published latest), uclg-5 by name, cemr's only post
    assert deleted == 2
    assert ids(store) == {"uclg-1", "uclg-2", "uclg-5", "cemr-9"}


def test_a_duplicates_alias_goes_with_its_expired_primary(store: SqlStore) -> None:
    primary = post(1, 400)
    duplicate = replace(post(1, 400, source="cemr"), link=primary.link)
    put(store, primary)
    store.apply_update(
        SourceUpdate("cemr", SourceState("cemr", OTHER.url), (), merges=((duplicate, primary.id),))
    )
    assert store.alias_targets("cemr", [duplicate.id]) == {duplicate.id: primary.id}
    assert store.expire_posts(T0 - timedelta(days=365), ()) == 1
    assert store.alias_targets("cemr", [duplicate.id]) == {}


def _rss(items: list[tuple[str, str]]) -> str:
    body = "".join(
        f"<item><title>{t}</title><link>https://m.example/{g}</link><guid>{g}</guid>"
        f"<pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate><description>d</description></item>"
        for g, t in items
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>M</title>'
    return f"{head}{body}</channel></rss>"


def test_a_post_its_feed_still_lists_is_not_deleted_and_not_seen_as_new_again(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    """The cycle applies retention; a year later the feed still lists its old entry."""
    feed = _rss([("g1", "First"), ("g2", "Second")])
    url = http_server.route("/m.rss", feed, headers={"Content-Type": "application/rss+xml"})
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "site: {base_url: 'https://agg.example/', output_dir: out, retention_days: 30}\n"
        f"fetch: {{allow_private: ['{http_server.hostport}'], max_entries: 10}}\n"
        "digest: {editions: []}\n"
        f"sources: [{{id: m, name: M, organisation: M, url: '{url}'}}]\n",
        encoding="utf-8",
    )
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        first, _ = fetch_and_publish(settings, store, clock=lambda: T0)
        assert first.new_posts == 2
        later = T0 + timedelta(days=400)
        http_server.route("/m.rss", feed.replace("<item>", "<item> ", 1))  # a new body
        second, _ = fetch_and_publish(settings, store, clock=lambda: later)
        assert second.new_posts == 0 and store.count_posts() == 2
        # with protection of the newest posts switched off, both would go
        assert (
            expire(
                store,
                settings.model_copy(
                    update={"fetch": settings.fetch.model_copy(update={"max_entries": 1})}
                ),
                later,
            )
            == 1
        )
        assert expire(store, settings, later) == 0
    finally:
        store.close()

"""The store's fast paths (driver-level bulk writes and lookups) store and find exactly what
SQLAlchemy's typed statements do, on SQLite and (when AGGREGATOR_TEST_PG_URL is set)
PostgreSQL.

The reference each time is the plain SQLAlchemy Core statement the fast path replaced, run on
a second database: a difference in the stored text (date format, JSON spacing, booleans)
would show in every output built from the database, so rows are compared value by value.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert

from aggregator.dedupe import StoryKey, link_key, title_key
from aggregator.errors import StorageError
from aggregator.models import Author, Link, Post, SourceState, SourceUpdate
from aggregator.store import SqlStore
from aggregator.store.engine import create_store_engine, migrate
from aggregator.store.posts import POST_COLUMNS, _dumps_strings, post_row
from aggregator.store.schema import post_topics, posts, sources
from aggregator.store.sources import STATE_FIELDS
from aggregator.store.stories import story_lookup
from tests import test_store as _base
from tests.stores import at_head
from tests.test_store import OTHER, SOURCE, Backend, make_post, update

# The per-backend fixtures of the store suite, under their own names.
backend = _base.backend
store = _base.store

PARIS = timezone(timedelta(hours=1))
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _rich_post(n: int, **changes: Any) -> Post:
    """A post using every column, with datetimes in another zone and without microseconds."""
    return make_post(
        n,
        guid=None if n % 2 else f"urn:{n}",
        title=f"Résilience urbaine à Évry, épisode {n}",
        published=datetime(2026, 11, 19, 9, 30, tzinfo=PARIS) - timedelta(minutes=n),
        updated=datetime(2026, 11, 19, 10, 0, 0, 123456, tzinfo=PARIS),
        first_seen=T0,
        title_derived=bool(n % 2),
        authors=(
            Author("Ana Pérez", affiliation="Ciudad"),
            Author("Li", uri="https://li.example/", email="li@li.example"),
        ),
        tags=("Climat", "vivienda"),
        topics=("housing", "climate"),
        image=None if n % 3 else f"https://uclg.example/{n}.jpg",
        also_from=("cemr",) if n % 2 else (),
        translations=(
            Link("https://uclg.example/fr", rel="alternate", hreflang="fr"),
            Link("https://uclg.example/x", rel="enclosure", type="audio/mpeg", length=12),
        )
        if n % 2
        else (),
        **changes,
    )


def _rows(store: SqlStore, table: str, order: str) -> list[tuple[Any, ...]]:
    """Every stored value of ``table`` as the driver returns it (no type processing)."""
    with store._engine.connect() as conn:  # the test reads raw storage
        return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} {order}")]


@pytest.fixture
def reference(backend: Backend) -> Iterator[SqlStore]:
    """A second database of the same backend, written only with SQLAlchemy's typed path."""
    url = backend.url
    if backend.name == "sqlite":
        url = url.replace("aggregator.sqlite3", "reference.sqlite3")
    else:  # its own PostgreSQL schema beside the fixture's
        schema = url.rsplit("%3D", 1)[1]
        backend.raw(f"CREATE SCHEMA {schema}_ref")
        url = f"{url}_ref"
    engine = create_store_engine(at_head(url))
    migrate(engine)
    opened = SqlStore(engine)
    opened.sync_sources([SOURCE, OTHER])
    yield opened
    opened.close()
    if backend.name != "sqlite":
        backend.raw(f"DROP SCHEMA {url.rsplit('%3D', 1)[1]} CASCADE")


def _typed_insert(store: SqlStore, batch: list[Post]) -> None:
    with store._engine.begin() as conn:
        conn.execute(insert(posts), [post_row(p) for p in batch])
        rows = [{"post_id": p.id, "topic": t} for p in batch for t in set(p.topics)]
        conn.execute(insert(post_topics), rows)


def test_bulk_insert_stores_exactly_what_the_typed_insert_stores(
    store: SqlStore, reference: SqlStore
) -> None:
    batch = [_rich_post(n) for n in range(1, 7)]
    assert store.apply_updates([update(*batch[:3]), update(*batch[3:])]) == [(3, 0), (3, 0)]
    _typed_insert(reference, batch)

    stored = _rows(store, "posts", "ORDER BY id")
    assert stored == _rows(reference, "posts", "ORDER BY id")
    assert len(stored) == 6
    assert _rows(store, "post_topics", "ORDER BY post_id, topic") == _rows(
        reference, "post_topics", "ORDER BY post_id, topic"
    )
    # And what a reader gets back is the post that was written, instant for instant.
    assert store.posts_by_ids([p.id for p in batch]) == reference.posts_by_ids(
        [p.id for p in batch]
    )
    assert {p.id: p.published for p in store.posts_by_ids([batch[0].id])} == {
        batch[0].id: batch[0].published.astimezone(UTC)
    }


def test_sqlite_text_is_fixed_width_utc(store: SqlStore, backend: Backend) -> None:
    if backend.name != "sqlite":
        pytest.skip("the text format is SQLite's")
    store.apply_updates([update(_rich_post(2))])
    assert backend.raw("SELECT published, updated, first_seen FROM posts") == [
        (
            "2026-11-19T08:28:00.000000+00:00",
            "2026-11-19T09:00:00.123456+00:00",
            "2026-11-20T12:00:00.000000+00:00",
        )
    ]


def test_post_values_follow_the_declared_columns() -> None:
    assert set(POST_COLUMNS) == {c.name for c in posts.columns}
    assert tuple(post_row(make_post(1))) == POST_COLUMNS


def test_batched_states_match_typed_updates_and_create_placeholders(
    store: SqlStore, reference: SqlStore
) -> None:
    failing = SourceState(
        "uclg",
        SOURCE.url,
        etag='"v2"',
        last_modified="Fri, 20 Nov 2026 11:00:00 GMT",
        body_hash="abc",
        last_fetch=datetime(2026, 11, 20, 13, 0, tzinfo=PARIS),
        last_success=T0 - timedelta(days=1),
        last_error="HTTP 503",
        last_error_at=T0,
        failing_since=T0 - timedelta(hours=5),
        consecutive_failures=3,
        next_fetch=T0 + timedelta(minutes=30),
        entries_seen=7,
        title="UCLG",
        link="https://uclg.example/",
    )
    healthy = SourceState("cemr", OTHER.url, last_fetch=T0, next_fetch=T0, gone=True)
    stray = SourceState("never-synced", "https://stray.example/feed", last_fetch=T0)
    updates = [SourceUpdate(s.source_id, s, ()) for s in (failing, healthy, stray)]
    assert store.apply_updates(updates) == [(0, 0)] * 3
    for state in (failing, healthy, stray):
        reference.set_state(state)

    states = store.get_states()
    assert states["uclg"] == replace(failing, last_fetch=failing.last_fetch.astimezone(UTC))  # type: ignore[union-attr]
    assert states["cemr"] == healthy
    assert states["never-synced"] == stray  # the placeholder row keeps the state
    assert store.get_sources()["never-synced"].enabled is False
    # Byte for byte what the typed statements store, state columns included.
    assert {c.name for c in sources.columns} >= set(STATE_FIELDS)
    assert _rows(store, "sources", "ORDER BY id") == _rows(reference, "sources", "ORDER BY id")


def test_naive_datetimes_are_refused_by_batched_writes(store: SqlStore) -> None:
    naive_post = make_post(1, first_seen=datetime(2026, 1, 1))
    with pytest.raises(StorageError, match="naive datetime"):
        store.apply_updates([update(make_post(2)), update(naive_post)])
    naive_state = SourceState("uclg", SOURCE.url, last_fetch=datetime(2026, 1, 1))
    with pytest.raises(StorageError, match="naive datetime"):
        store.apply_updates([SourceUpdate("uclg", naive_state, ())])
    assert store.count_posts() == 0  # the whole batch was rolled back
    assert store.get_states()["uclg"].last_fetch is None


def _stored_keys(store: SqlStore, batch: list[Post]) -> list[StoryKey]:
    return [
        StoryKey(
            p.id,
            p.source_id,
            link_key(p.link),
            title_key(p.title),
            p.language,
            p.published.astimezone(UTC),
            p.first_seen,
        )
        for p in batch
    ]


@pytest.mark.parametrize("extra_keys", [0, 600], ids=["one statement", "many keys"])
def test_story_candidates_are_every_other_source_post_sharing_a_key(
    store: SqlStore, extra_keys: int
) -> None:
    words = "council housing climate water mobility"
    mine = [make_post(n, title=f"{words} {n}") for n in range(4)]
    theirs = [
        make_post(
            10 + n,
            id=f"cemr-{n}",
            source_id="cemr",
            title=f"{words} {n}",
            link=f"https://cemr.example/{n}",
        )
        for n in range(4)
    ] + [
        make_post(20, id="cemr-link", source_id="cemr", link=mine[3].link),
        make_post(
            21, id="cemr-none", source_id="cemr", title="Short", link="https://cemr.example/z"
        ),
    ]
    store.apply_updates(
        [update(*mine), SourceUpdate("cemr", SourceState("cemr", OTHER.url), tuple(theirs))]
    )
    wanted = {k.post_id: k for k in _stored_keys(store, theirs)}

    links = [link_key(p.link) for p in mine[2:]] + [
        f"nowhere.example/{i}" for i in range(extra_keys)
    ]
    titles = [title_key(p.title) for p in mine[:2]] + [
        "",
        *(f"a b c d {i}" for i in range(extra_keys)),
    ]
    found = store.story_candidates(links, titles, "uclg")
    assert sorted(found, key=lambda k: k.post_id) == [
        wanted["cemr-0"],
        wanted["cemr-1"],
        wanted["cemr-link"],
    ]
    from_cemr = store.story_candidates(links, titles, "cemr")  # now the other way round
    assert sorted(k.post_id for k in from_cemr) == [p.id for p in mine]
    assert store.story_candidates([], [], "uclg") == []
    only_titles = store.story_candidates([], [title_key(mine[1].title)], "uclg")
    assert [k.post_id for k in only_titles] == ["cemr-1"]


def test_story_lookup_uses_both_key_indexes_on_sqlite(store: SqlStore, backend: Backend) -> None:
    """The cycle runs this once per source: a table scan would grow with the whole archive."""
    if backend.name != "sqlite":
        pytest.skip("SQLite's query plan")
    engine = store._engine
    lookup = story_lookup(engine.dialect, ["a.example/1", "a.example/2"], ["one two three"], "x")
    assert lookup is not None
    statement, params = lookup
    database = engine.url.database
    assert database is not None
    with closing(sqlite3.connect(database)) as conn:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {statement}", params))
    assert "ix_posts_link_key" in plan and "ix_posts_title_key" in plan, plan
    assert "ix_post_aliases_link_key" in plan and "ix_post_aliases_title_key" in plan, plan
    assert "SCAN posts" not in plan and "SCAN post_aliases" not in plan, plan


def test_lookup_failure_is_a_storage_error(store: SqlStore, backend: Backend) -> None:
    backend.raw("DROP TABLE post_aliases")
    backend.raw("DROP TABLE post_topics")
    backend.raw("DROP TABLE IF EXISTS post_search")  # PostgreSQL's index refers to posts
    backend.raw("DROP TABLE IF EXISTS post_fulltext")  # full text refers to posts too
    backend.raw("DROP TABLE posts")
    with pytest.raises(StorageError, match="looking up the same story from other sources"):
        store.story_candidates(["a.example/1"], [], "uclg")


@pytest.mark.parametrize(
    "values",
    [(), ("a",), ('é"\\ q', "x\n\t\x01\x7f\u2028", "\ud800", "日本", ""), ("</script>", "&amp;")],
)
def test_string_lists_are_the_json_the_encoder_writes(values: tuple[str, ...]) -> None:
    expected = json.dumps(list(values), ensure_ascii=False, separators=(",", ":"))
    assert _dumps_strings(values) == expected
    assert json.loads(_dumps_strings(values)) == list(values)

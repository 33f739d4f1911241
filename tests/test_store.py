"""The store, on a real SQLite file and (when AGGREGATOR_TEST_PG_URL is set) a real PostgreSQL.

Every test runs once per backend through the ``backend`` fixture.  Raw SQL (to tamper with a
database the way an older or newer release would) goes through the driver directly: stdlib
sqlite3, or psycopg for PostgreSQL, each test in its own PostgreSQL schema.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config

from aggregator.errors import StorageError
from aggregator.i18n import describe_error
from aggregator.models import (
    Author,
    EditionRecord,
    ErrorKind,
    Link,
    Post,
    RecipientState,
    ScrapeRules,
    Source,
    SourceState,
    SourceUpdate,
)
from aggregator.store import SCHEMA_VERSION, SqlStore, open_store
from aggregator.store.engine import MIGRATIONS_DIR, create_store_engine
from tests.stores import migrated_sqlite

PG_URL = os.environ.get("AGGREGATOR_TEST_PG_URL")
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Backend:
    name: str
    url: str
    raw: Callable[[str], list[tuple[Any, ...]]]  # run one SQL statement, committed
    path: Path | None = None  # SQLite's file (it does not exist until opened)

    def open(self) -> SqlStore:
        return open_store(self.url)

    def at_head(self) -> Backend:
        """The empty database made one at the code's schema, for tests that are not about
        migrating: on SQLite a copy of a file migrated once per process (tests/stores.py);
        on PostgreSQL the first ``open`` migrates the test's schema."""
        if self.path is not None:
            migrated_sqlite(self.path)
        return self


def _sqlite_backend(tmp_path: Path) -> Backend:
    path = tmp_path / "sub dir" / "aggregator.sqlite3"  # a space, and a directory to create

    def raw(sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(sql).fetchall()

    return Backend("sqlite", f"sqlite:///{path}", raw, path)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield _sqlite_backend(tmp_path)
        return
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_PG_URL is not set")
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"t_{uuid.uuid4().hex[:12]}"

    def raw(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dsn, options=f"-csearch_path={schema}") as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description else []

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in PG_URL else "?"
    yield Backend("postgresql", f"{PG_URL}{joiner}options=-csearch_path%3D{schema}", raw)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def store(backend: Backend) -> Iterator[SqlStore]:
    opened = backend.at_head().open()
    opened.sync_sources([SOURCE, OTHER])
    yield opened
    opened.close()


SOURCE = Source(
    id="uclg",
    name="UCLG blog",
    organisation="United Cities and Local Governments",
    url="https://uclg.example/feed.xml",
    homepage="https://uclg.example/",
    language="en",
    tags=("network", "Résilience"),
    contact="web@uclg.example",
)
OTHER = Source(
    id="cemr",
    name="CEMR news",
    organisation="CEMR",
    url="https://cemr.example/news.html",
    language="fr",
    kind="html",
    scrape=ScrapeRules(item="article", title="h2", date=".date", date_format="%d.%m.%Y"),
    day_first=True,
)


def make_post(n: int, **changes: Any) -> Post:
    base = Post(
        id=f"uclg-{n:05d}",
        source_id="uclg",
        guid=f"https://uclg.example/?p={n}",
        title=f"Post {n}",
        link=f"https://uclg.example/posts/{n}",
        published=T0 - timedelta(hours=n),
        updated=T0 - timedelta(hours=n),
        first_seen=T0,
        language="en",
        excerpt=f"Excerpt {n}",
        content_html=f"<p>Body {n}</p>",
        content_hash=f"hash-{n}",
    )
    return replace(base, **changes)


def update(*posts: Post, state: SourceState | None = None) -> SourceUpdate:
    return SourceUpdate("uclg", state or SourceState("uclg", SOURCE.url), tuple(posts))


# --------------------------------------------------------------------------------------------
# Opening and migrating


def test_open_migrates_and_reopen_is_idempotent(backend: Backend) -> None:
    first = backend.open()
    first.sync_sources([SOURCE])
    assert first.apply_update(update(make_post(1))) == (1, 0)
    assert first.schema_revision() == SCHEMA_VERSION
    first.close()

    again = backend.open()  # migrations already at head: nothing re-created, nothing lost
    try:
        assert again.schema_revision() == SCHEMA_VERSION
        assert again.count_posts() == 1
        assert again.schema_drift() == []  # the migrations build exactly schema.py's tables
    finally:
        again.close()


def test_newer_schema_is_refused(backend: Backend) -> None:
    backend.open().close()
    backend.raw("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(StorageError, match=r"revision 9999, newer than"):
        backend.open()


def test_sqlite_file_settings(tmp_path: Path) -> None:
    backend = _sqlite_backend(tmp_path)
    with backend.open() as store:
        store.sync_sources([SOURCE])
        store.apply_update(update(make_post(1, published=datetime(2026, 1, 2, 3, 4, 5, 6, UTC))))
    assert backend.raw("PRAGMA journal_mode") == [("wal",)]
    # Datetimes are readable, sortable UTC text in the file.
    assert backend.raw("SELECT published FROM posts") == [("2026-01-02T03:04:05.000006+00:00",)]


def test_unusable_urls_are_storage_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unsupported database"):
        open_store("mysql://nobody@127.0.0.1/db")
    with pytest.raises(StorageError, match="invalid storage URL"):
        open_store("not a url")
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="database error"):
        open_store(f"sqlite:///{tmp_path / 'junk.db'}")


def test_in_memory_sqlite_for_quick_tools() -> None:
    with open_store("sqlite://") as store:
        store.sync_sources([SOURCE])
        assert store.apply_update(update(make_post(1))) == (1, 0)
        assert [p.id for p in store.recent_posts(5)] == ["uclg-00001"]
        assert store.posts_by_ids([]) == []


def test_open_works_from_another_directory(tmp_path: Path) -> None:
    """An installed package finds its migrations wherever the command runs."""
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    code = (
        "import sys; from aggregator.store import open_store; "
        "s = open_store(sys.argv[1]); print(s.schema_revision()); s.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == SCHEMA_VERSION


# --------------------------------------------------------------------------------------------
# Sources


def test_sources_round_trip_and_fresh_state(store: SqlStore) -> None:
    assert store.get_sources() == {"uclg": SOURCE, "cemr": OTHER}
    assert store.get_states()["uclg"] == SourceState("uclg", SOURCE.url)


def test_changed_url_resets_caching_and_absent_source_is_kept_unfetched(store: SqlStore) -> None:
    failing = SourceState(
        "uclg",
        "https://uclg.example/moved.xml",  # a stored 301 target
        etag='"v1"',
        last_modified="Fri, 20 Nov 2026 10:00:00 GMT",
        body_hash="abc",
        last_success=T0,
        consecutive_failures=3,
        failing_since=T0,
        gone=True,
        entries_seen=12,
        title="UCLG",
    )
    store.set_state(failing)
    store.sync_sources([SOURCE])  # same URL: state untouched; cemr absent
    assert store.get_states()["uclg"] == failing
    assert store.get_sources()["cemr"].enabled is False  # kept, but no longer fetched

    moved = replace(SOURCE, url="https://uclg.example/new-feed.xml")
    store.sync_sources([moved])
    state = store.get_states()["uclg"]
    assert state.url == moved.url
    assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
    assert (state.gone, state.consecutive_failures, state.failing_since) == (False, 0, None)
    assert (state.last_success, state.entries_seen, state.title) == (T0, 12, "UCLG")  # history kept


def test_state_for_unknown_source_is_kept(store: SqlStore) -> None:
    store.set_state(SourceState("ghost", "https://ghost.example/feed", etag="x"))
    assert store.get_states()["ghost"].etag == "x"
    assert store.get_sources()["ghost"].enabled is False


def test_an_errors_kind_and_parameters_round_trip(store: SqlStore) -> None:
    failing = SourceState(
        "uclg",
        SOURCE.url,
        last_error="not a feed: this is an HTML page; it advertises https://uclg.example/a.xml",
        last_error_kind=ErrorKind.NOT_A_FEED,
        last_error_params={"page": "html", "feeds": ("https://uclg.example/a.xml",)},
        last_error_at=T0,
        consecutive_failures=2,
        failing_since=T0,
    )
    store.set_state(failing)
    assert store.get_states()["uclg"] == failing
    timeout = replace(
        failing,
        last_error="timed out after 1.5 s",
        last_error_kind=ErrorKind.TIMEOUT,
        last_error_params={"seconds": 1.5},
    )
    other = SourceState("cemr", OTHER.url, last_error_kind=ErrorKind.GONE, last_error_params={})
    store.apply_updates([SourceUpdate("uclg", timeout), SourceUpdate("cemr", other)])  # batched
    states = store.get_states()
    assert (states["uclg"], states["cemr"]) == (timeout, other)
    healthy = replace(timeout, consecutive_failures=0, last_error_kind=None, last_error_params={})
    store.set_state(healthy)
    assert store.get_states()["uclg"] == healthy


def test_rows_stored_before_kinds_keep_their_sentence(backend: Backend) -> None:
    """A database at revision 0003 is upgraded: its error sentences stay, with no kind, and
    readers see the sentence as it was stored."""
    engine = create_store_engine(backend.url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    engine.dispose()
    backend.raw(
        "INSERT INTO sources (id, name, organisation, config_url, tags, url, last_error, "
        "consecutive_failures) VALUES ('old', 'Old', 'O', 'https://old.example/feed', '[]', "
        "'https://old.example/feed', 'HTTP 500 Internal Server Error', 3)"
    )
    with open_store(backend.url) as store:
        assert store.schema_revision() == SCHEMA_VERSION
        state = store.get_states()["old"]
    assert (state.last_error, state.last_error_kind, state.last_error_params) == (
        "HTTP 500 Internal Server Error",
        None,
        {},
    )
    shown = describe_error(state.last_error_kind, state.last_error_params, "fr", state.last_error)
    assert shown == "HTTP 500 Internal Server Error"


def test_a_kind_from_a_newer_release_reads_as_its_sentence(
    backend: Backend, store: SqlStore
) -> None:
    store.set_state(SourceState("uclg", SOURCE.url, last_error="quota", consecutive_failures=1))
    backend.raw(
        "UPDATE sources SET last_error_kind = 'quota_exceeded', "
        """last_error_params = '{"n": 1}' WHERE id = 'uclg'"""
    )
    state = store.get_states()["uclg"]
    assert (state.last_error, state.last_error_kind) == ("quota", None)


# --------------------------------------------------------------------------------------------
# Posts


def test_every_post_field_round_trips(store: SqlStore) -> None:
    paris = timezone(timedelta(hours=1))
    post = Post(
        id="uclg-ümlaut-🏙",
        source_id="uclg",
        guid=None,
        title="Le rôle des villes 🌍 — «résilience»",
        link="https://uclg.example/fr/rôle?x=1&y=2",
        published=datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=paris),
        updated=datetime(2024, 3, 1, 0, 0, tzinfo=UTC),
        first_seen=T0,
        language="ar",
        excerpt="المدن والحكومات المحلية المتحدة — نص من اليمين إلى اليسار",
        content_html='<p dir="rtl">مرحبا 👋</p><p>Zürich &amp; Kraków</p>',
        title_derived=True,
        authors=(
            Author("Kelly Henao", affiliation="Columbus Association"),
            Author("Sara Hoeflich", uri="https://uclg.example/sara", email="s@uclg.example"),
        ),
        tags=("Résilience", "Resiliencia", "Vivienda"),
        topics=("resilience", "housing"),
        image="https://uclg.example/img/é.jpg",
        content_hash="sha256:0123",
        also_from=("cemr", "platforma"),
        translations=(
            Link("https://uclg.example/es/", rel="alternate", type="text/html", hreflang="es"),
            Link("https://uclg.example/a.mp3", rel="enclosure", type="audio/mpeg", length=1234),
        ),
    )
    assert store.apply_update(update(post)) == (1, 0)
    [got] = store.posts_by_ids([post.id])
    assert got == post
    assert got.published.tzinfo is UTC
    assert got.published == datetime(2024, 2, 29, 22, 59, 59, 999999, tzinfo=UTC)
    assert store.known_posts("uclg", [post.id, "missing"]) == {post.id: ("sha256:0123", T0)}


def test_applying_twice_writes_no_duplicates(store: SqlStore) -> None:
    batch = update(*(make_post(n) for n in range(20)))
    assert store.apply_update(batch) == (20, 0)
    assert store.apply_update(batch) == (0, 0)
    assert store.count_posts() == 20


def test_edit_updates_in_place_and_keeps_first_seen(store: SqlStore) -> None:
    store.apply_update(update(make_post(1, topics=("housing",))))
    later = T0 + timedelta(days=2)
    edited = make_post(
        1, title="Post 1 (corrected)", content_hash="hash-1b", first_seen=later, topics=("water",)
    )
    same_hash = make_post(2)
    assert store.apply_update(update(edited, same_hash)) == (1, 1)
    [got] = store.posts_by_ids([edited.id])
    assert got.title == "Post 1 (corrected)"
    assert got.first_seen == T0
    assert store.count_posts() == 2
    assert [p.id for p in store.recent_posts(10, topic="water")] == [edited.id]
    assert store.recent_posts(10, topic="housing") == []


def test_failed_update_writes_nothing(store: SqlStore) -> None:
    before = store.get_states()["uclg"]
    bad = update(
        make_post(1),
        make_post(2, source_id="no-such-source"),  # violates the foreign key, mid-transaction
        state=SourceState("uclg", SOURCE.url, etag='"new"', entries_seen=2),
    )
    with pytest.raises(StorageError, match="saving the update of source uclg"):
        store.apply_update(bad)
    assert store.count_posts() == 0
    assert store.get_states()["uclg"] == before


def test_naive_datetime_is_refused(store: SqlStore) -> None:
    with pytest.raises(StorageError, match="naive datetime"):
        store.apply_update(update(make_post(1, first_seen=datetime(2026, 1, 1))))
    assert store.count_posts() == 0


def test_recent_posts_order_filters_and_paging(store: SqlStore) -> None:
    tie = make_post(0, id="uclg-tie-a")
    posts = [
        make_post(0),  # same published time as the tie: ordered by id, descending
        tie,
        make_post(1, language="fr", topics=("housing",)),
        make_post(2, source_id="cemr", topics=("housing", "culture")),
        make_post(3),
    ]
    store.apply_update(update(*posts))
    ids = [p.id for p in store.recent_posts(10)]
    assert ids == ["uclg-tie-a", "uclg-00000", "uclg-00001", "uclg-00002", "uclg-00003"]
    assert [p.id for p in store.recent_posts(2, offset=2)] == ["uclg-00001", "uclg-00002"]
    assert [p.id for p in store.recent_posts(10, language="fr")] == ["uclg-00001"]
    assert [p.id for p in store.recent_posts(10, source_id="cemr")] == ["uclg-00002"]
    assert [p.id for p in store.recent_posts(10, topic="housing")] == ["uclg-00001", "uclg-00002"]
    assert [p.id for p in store.recent_posts(10, topic="housing", language="en")] == ["uclg-00002"]
    assert store.recent_posts(10, topic="sport") == []
    assert store.recent_posts(0) == []
    by_ids = store.posts_by_ids(["uclg-00003", "uclg-00000", "missing"])
    assert [p.id for p in by_ids] == ["uclg-00000", "uclg-00003"]


def test_posts_first_seen_window_boundaries(store: SqlStore) -> None:
    seen = [T0 + timedelta(minutes=m) for m in (0, 1, 2, 3)]
    posts = [make_post(n, first_seen=t) for n, t in enumerate(seen)]
    posts[2] = replace(posts[2], language="fr")
    store.apply_update(update(*reversed(posts)))

    def window(after: datetime | None, until: datetime, **kw: Any) -> list[str]:
        return [p.id for p in store.posts_first_seen(after, until, **kw)]

    assert window(seen[0], seen[2]) == ["uclg-00001", "uclg-00002"]  # after excluded, until in
    assert window(None, seen[1]) == ["uclg-00000", "uclg-00001"]
    assert window(seen[3], seen[3] + timedelta(days=1)) == []
    assert window(None, seen[3], language="fr") == ["uclg-00002"]
    # A window given in another zone means the same instants.
    cet = timezone(timedelta(hours=1))
    assert window(seen[0].astimezone(cet), seen[1].astimezone(cet)) == ["uclg-00001"]


def test_many_posts_in_one_update_and_paging(store: SqlStore) -> None:
    many = [make_post(n) for n in range(1200)]  # more than one batch of ids per query
    assert store.apply_update(update(*many)) == (1200, 0)
    assert store.apply_update(update(*many[:600], make_post(5, content_hash="x"))) == (0, 1)
    pages = [store.recent_posts(100, offset=o) for o in range(0, 1200, 100)]
    assert [p.id for page in pages for p in page] == [p.id for p in many]
    assert len(store.posts_by_ids([p.id for p in many])) == 1200


# --------------------------------------------------------------------------------------------
# The digest ledger


def make_edition(n: int, **changes: Any) -> EditionRecord:
    base = EditionRecord(
        id=f"weekly-{n}",
        name="weekly",
        window_start=None if n == 1 else T0 + timedelta(days=7 * (n - 1)),
        window_end=T0 + timedelta(days=7 * n),
        created=T0 + timedelta(days=7 * n, minutes=5),
        post_ids=("uclg-00002", "uclg-00001"),
        subject="Réseau — semaine 47 🌍",
        html_path="/srv/digest/weekly-1.html",
        notes=("7 oldest items moved to a link to the site",),
    )
    return replace(base, **changes)


def test_editions_round_trip_and_order(store: SqlStore) -> None:
    first, second = make_edition(1), make_edition(2, text_path="/srv/w2.txt", sent=True)
    other = make_edition(3, id="daily-1", name="daily")
    for edition in (first, second, other):
        store.save_edition(edition, [])
    assert store.get_edition("weekly-1") == first
    assert store.last_edition("weekly") == second
    assert store.last_edition("monthly") is None
    assert store.get_edition("nope") is None
    assert [e.id for e in store.list_editions()] == ["daily-1", "weekly-2", "weekly-1"]
    assert [e.id for e in store.list_editions(limit=1)] == ["daily-1"]


def test_recipients_ledger(store: SqlStore) -> None:
    edition = make_edition(1)
    store.save_edition(edition, ["b@x.example", "a@x.example", "b@x.example"])
    assert store.claim_recipient(edition.id, "b@x.example", T0)
    store.mark_recipient(edition.id, "b@x.example", RecipientState.SENT, T0, message_id="<m1@x>")
    assert store.claim_recipient(edition.id, "a@x.example", T0)
    store.mark_recipient(edition.id, "a@x.example", RecipientState.FAILED, T0, error="550 no")

    # Saving again (the edition marked sent) keeps states and appends only new addresses.
    store.save_edition(replace(edition, sent=True), ["a@x.example", "c@x.example"])
    assert store.get_edition(edition.id) == replace(edition, sent=True)
    got = [(r.address, r.state, r.message_id, r.error) for r in store.recipients(edition.id)]
    assert got == [
        ("b@x.example", RecipientState.SENT, "<m1@x>", None),
        ("a@x.example", RecipientState.FAILED, None, "550 no"),
        ("c@x.example", RecipientState.PENDING, None, None),
    ]
    assert store.recipients(edition.id)[0].updated == T0

    # An outcome for an address the ledger never listed is still recorded, at the end.
    store.mark_recipient(edition.id, "d@x.example", RecipientState.SENT, T0, message_id="<m4>")
    assert store.recipients(edition.id)[-1].address == "d@x.example"
    assert store.recipients("no-such-edition") == []


def test_claim_is_at_most_once(store: SqlStore) -> None:
    edition = make_edition(1)
    store.save_edition(edition, ["a@x.example"])
    assert store.claim_recipient(edition.id, "a@x.example", T0) is True
    assert store.claim_recipient(edition.id, "a@x.example", T0) is False  # in flight
    store.mark_recipient(edition.id, "a@x.example", RecipientState.FAILED, T0, error="421")
    assert store.claim_recipient(edition.id, "a@x.example", T0) is True  # refused: retry ok
    store.mark_recipient(edition.id, "a@x.example", RecipientState.SENT, T0, message_id="<m>")
    assert store.claim_recipient(edition.id, "a@x.example", T0) is False  # done
    assert store.claim_recipient(edition.id, "nobody@x.example", T0) is False
    assert store.recipients(edition.id)[0].error is None  # the success cleared the old error


def test_concurrent_claims_have_one_winner(backend: Backend, store: SqlStore) -> None:
    edition = make_edition(1)
    store.save_edition(edition, ["a@x.example"])
    others = [backend.open() for _ in range(6)]  # separate engines, as separate processes
    start = threading.Barrier(len(others))
    results: list[bool] = []

    def claim(s: SqlStore) -> None:
        start.wait()
        results.append(s.claim_recipient(edition.id, "a@x.example", T0))

    threads = [threading.Thread(target=claim, args=(s,)) for s in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in others:
        s.close()
    assert sorted(results) == [False] * 5 + [True]


# --------------------------------------------------------------------------------------------
# Locks


def test_lock_is_exclusive_until_released(store: SqlStore) -> None:
    assert store.acquire_lock("cycle", "cron", T0, 600) is None
    holder = store.acquire_lock("cycle", "web", T0 + timedelta(minutes=1), 600)
    assert holder is not None
    assert holder.startswith(f"held by pid {os.getpid()} on host {socket.gethostname()} since ")
    assert "2026-11-20 12:00:00 UTC" in holder
    assert store.acquire_lock("other", "web", T0, 600) is None  # names are independent
    store.release_lock("cycle", "web")  # not the owner: no effect
    assert store.acquire_lock("cycle", "web", T0, 600) is not None
    store.release_lock("cycle", "cron")
    assert store.acquire_lock("cycle", "web", T0, 600) is None


def test_expired_lock_is_taken_over(store: SqlStore) -> None:
    assert store.acquire_lock("cycle", "cron", T0, 60) is None
    assert store.acquire_lock("cycle", "web", T0 + timedelta(seconds=59), 60) is not None
    assert store.acquire_lock("cycle", "web", T0 + timedelta(seconds=60), 60) is None
    store.release_lock("cycle", "cron")  # the old owner's release no longer frees it
    assert store.acquire_lock("cycle", "cron", T0 + timedelta(seconds=61), 60) is not None


def test_lock_of_dead_process_on_this_host_is_taken_over(backend: Backend, store: SqlStore) -> None:
    code = (
        "import sys; from datetime import datetime; from aggregator.store import open_store; "
        "s = open_store(sys.argv[1]); "
        "print(s.acquire_lock('cycle', 'killed', datetime.fromisoformat(sys.argv[2]), 3600)); "
        "s.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, backend.url, T0.isoformat()],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "None"  # the child took it, then exited without releasing
    assert store.acquire_lock("cycle", "next run", T0 + timedelta(minutes=1), 3600) is None
    holder = store.acquire_lock("cycle", "third", T0 + timedelta(minutes=2), 3600)
    assert holder is not None
    assert "owner next run" in holder

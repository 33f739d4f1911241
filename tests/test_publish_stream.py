"""A streaming publish from a real store (SQLite and PostgreSQL): every post reachable, the
same bytes as the reference choice over every post, nothing rewritten when nothing changed,
only the outputs showing a changed post rewritten, and the store read in bounded slices."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from aggregator.dedupe import link_key
from aggregator.files import IN_FLIGHT_PER_WORKER, BatchWriter
from aggregator.models import Link, Post, SourceState, SourceUpdate
from aggregator.publish import archives, atom_fast
from aggregator.publish import memo as memo_module
from aggregator.publish import site as site_module
from aggregator.publish.pages import MAX_PAGES
from aggregator.publish.publisher import publish_all
from aggregator.publish.site import entry_id
from aggregator.store import SqlStore
from aggregator.store.staff import AuditEntry
from tests.test_publish import BASE_URL, FakeStore, make_post, make_settings, snapshot
from tests.test_store import Backend, backend  # noqa: F401 - the fixture, per backend

A = "{http://www.w3.org/2005/Atom}"
PAGE = 5  # feed_entries: the archive page size


def _posts(count: int) -> list[Post]:
    posts = [make_post(n, content_hash=f"hash-{n}") for n in range(count)]
    # language versions: a pair by a language segment of their links, and a pair by a
    # translation link only the newer post states (the older one must find it by itself)
    posts[-1] = replace(posts[-1], link="https://platforma.example.org/es/news/water")
    posts[-2] = replace(posts[-2], link="https://platforma.example.org/fr/news/water")
    posts[-3] = replace(
        posts[-3], translations=(Link(posts[-4].link, hreflang=posts[-4].language),)
    )
    return posts


def _fill(store: SqlStore, posts: Sequence[Post], sources: Any) -> None:
    store.sync_sources(sources)
    by_source: dict[str, list[Post]] = {}
    for post in posts:
        by_source.setdefault(post.source_id, []).append(post)
    for source_id, batch in sorted(by_source.items()):
        state = SourceState(source_id, f"https://{source_id}.example.org/feed")
        store.apply_update(SourceUpdate(source_id, state, tuple(batch)))


def _opened(where: Backend, tmp_path: Path, posts: Sequence[Post], **site: Any) -> Any:
    settings = make_settings(tmp_path, feed_entries=PAGE, **site)
    store = where.open()
    _fill(store, posts, settings.source_list())
    return settings, store


def _files(root: Path) -> dict[str, bytes]:
    """Every published file (not the dotfiles that remember how it was built)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    }


def _reachable(root: Path) -> list[str]:
    """Entry ids a reader finds from feed.atom, following prev-archive links to the oldest."""
    found: list[str] = []
    path: Path | None = root / "feed.atom"
    while path is not None:
        doc = etree.fromstring(path.read_bytes())
        found += [e.findtext(f"{A}id") or "" for e in doc.findall(f"{A}entry")]
        prev = doc.find(f"{A}link[@rel='prev-archive']")
        path = root / prev.get("href", "").removeprefix(BASE_URL) if prev is not None else None
    return found


def test_every_post_is_reachable_and_the_bytes_are_the_references(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
    now: datetime,
) -> None:
    posts = _posts(63)
    settings, store = _opened(backend, tmp_path / "sql", posts)
    try:
        report = publish_all(store, settings, now)
    finally:
        store.close()
    out = settings.output_dir
    reachable = _reachable(out)
    assert sorted(set(reachable)) == sorted(entry_id(p.id) for p in posts)
    assert report.archives == 63 // PAGE and report.posts == 63

    # the same posts chosen in Python over every post (the choice before streaming)
    reference = make_settings(tmp_path / "ref", feed_entries=PAGE)
    publish_all(FakeStore(posts, reference.source_list()), reference, now)
    assert _files(out) == _files(reference.output_dir)
    assert posts[-1].language == "es" and posts[-4].language == "es"
    assert "platforma.example.org/es/news/water" in (out / "fr" / "index.html").read_text()
    assert posts[-3].link in (out / "es" / "index.html").read_text()


def test_nothing_rewritten_when_nothing_changed_and_only_what_shows_a_changed_post(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
    now: datetime,
) -> None:
    posts = _posts(63)
    settings, store = _opened(backend, tmp_path, posts)
    out = settings.output_dir
    try:
        publish_all(store, settings, now)
        before = snapshot(out)
        again = publish_all(store, settings, now)
        assert again.written == () and snapshot(out) == before

        for n in (30, 61):  # deep in the listing only; on top of every feed
            old = posts[n]
            changed = replace(old, title=f"Edited {n}", content_hash=f"edited-{n}")
            state = SourceState(old.source_id, f"https://{old.source_id}.example.org/feed")
            store.apply_update(SourceUpdate(old.source_id, state, (changed,)))
            archived = {k: v for k, v in snapshot(out).items() if k.startswith("archive/")}
            report = publish_all(store, settings, now)
            showing = {name for name, data in _files(out).items() if f"Edited {n}".encode() in data}
            written = {str(p.relative_to(out)) for p in report.written}
            assert showing and written == showing
            assert not any(name.startswith("archive/") for name in showing)  # pages are final
            assert {k: v for k, v in snapshot(out).items() if k.startswith("archive/")} == archived
    finally:
        store.close()


class _Watched:
    """A store that notes what publish reads: every list's length, every streamed post."""

    def __init__(self, store: SqlStore, events: list[tuple[str, str]]) -> None:
        self._store = store
        self.events = events
        self.largest = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("recent_posts", "posts_first_seen"):
            raise AssertionError(f"publish read every post through {name}")
        found = getattr(self._store, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            if isinstance(result, list):
                self.largest = max(self.largest, len(result))
            if name == "archive_posts":
                return self._streamed(result)
            return result

        return call

    def _streamed(self, posts: Iterator[Post]) -> Iterator[Post]:
        for post in posts:
            self.events.append(("post", post.id))
            yield post


def test_the_store_is_read_in_bounded_slices(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    total = 150
    settings, store = _opened(backend, tmp_path, _posts(total), page_size=2)
    events: list[tuple[str, str]] = []
    put = memo_module.Writer.put

    def noted(self: memo_module.Writer, relative: str, data: bytes) -> bool:
        events.append(("put", relative))
        return put(self, relative, data)

    monkeypatch.setattr(memo_module.Writer, "put", noted)
    watched = _Watched(store, events)
    try:
        report = publish_all(watched, settings, now)  # type: ignore[arg-type]
    finally:
        store.close()
    assert report.archives == total // PAGE
    # no read returned all posts: at most one page set's worth, and page sets show fewer
    assert 0 < watched.largest < total
    assert total > MAX_PAGES * 2
    # archive pages are written as their posts stream in: a page waits, and the first post
    # of the next page (read to know the page ended)
    waiting = most = 0
    for kind, name in events:
        if kind == "post":
            waiting += 1
            most = max(most, waiting)
        elif name.startswith("archive/"):
            waiting = 0
    assert most == PAGE + 1


@pytest.mark.parametrize("fast", [True, False])
def test_a_helper_process_writes_the_newer_pages_the_same(
    tmp_path: Path,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    fast: bool,
) -> None:
    """A first publish with many pages to write hands half to a second process (spawned by
    ``sys.executable``): the pages are the ones one process writes, with either entry writer
    (the switch is the parent's, whatever the helper's environment says)."""
    monkeypatch.setattr(atom_fast, "ENABLED", fast)
    posts = _posts(63)
    where = Backend("sqlite", f"sqlite:///{tmp_path / 'store.sqlite3'}", lambda sql: [])
    settings, store = _opened(where, tmp_path / "two", posts)
    monkeypatch.setattr(archives, "HELP_FROM", 2)
    monkeypatch.setattr(archives.os, "cpu_count", lambda: 2)
    try:
        report = publish_all(store, settings, now)
    finally:
        store.close()
    alone = make_settings(tmp_path / "one", feed_entries=PAGE)
    publish_all(FakeStore(posts, alone.source_list()), alone, now)
    assert _files(settings.output_dir) == _files(alone.output_dir)
    written = {str(p.relative_to(settings.output_dir)) for p in report.written}
    assert {f"archive/{n}.atom" for n in range(1, 63 // PAGE + 1)} <= written
    assert "helper process failed" not in caplog.text  # the helper wrote its half


def test_a_failing_helper_leaves_its_pages_to_the_publish(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    posts = _posts(40)
    where = Backend("sqlite", f"sqlite:///{tmp_path / 'store.sqlite3'}", lambda sql: [])
    settings, store = _opened(where, tmp_path, posts)
    monkeypatch.setattr(archives, "HELP_FROM", 2)
    monkeypatch.setattr(archives.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(store, "location", lambda: "sqlite:////proc/no-such-dir/store.sqlite3")
    try:
        report = publish_all(store, settings, now)
    finally:
        store.close()
    assert "helper process failed" in caplog.text
    assert sorted(set(_reachable(settings.output_dir))) == sorted(entry_id(p.id) for p in posts)
    assert report.archives == 40 // PAGE


def test_a_batch_of_many_files_waits_for_the_disk_and_writes_them_all(tmp_path: Path) -> None:
    """More files than the writer queues at once: ``put`` waits for the oldest, none is lost."""
    with BatchWriter(workers=1) as files:
        for n in range(3 * IN_FLIGHT_PER_WORKER):
            assert files.put(tmp_path / f"page-{n}.html", f"page {n}".encode())
            assert len(files._in_flight) <= IN_FLIGHT_PER_WORKER
    assert sorted(p.read_text() for p in tmp_path.glob("page-*.html")) == sorted(
        f"page {n}" for n in range(3 * IN_FLIGHT_PER_WORKER)
    )


def test_hidden_posts_held_sources_and_undated_backlogs_as_the_reference(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
    now: datetime,
) -> None:
    """Takedowns and a held member leave every output, and a member's undated backlog is held
    back from the shared editions, exactly as the choice over every visible post does."""
    dated = _posts(40)
    moment = dated[-1].first_seen + timedelta(days=1)
    backlog = [
        make_post(100 + n, source_id="uclg", language="en", content_hash=f"b{n}") for n in range(9)
    ]
    backlog = [replace(p, published=moment, updated=moment, first_seen=moment) for p in backlog]
    posts = dated + backlog
    site = {"undated_per_fetch": 3}
    settings, store = _opened(backend, tmp_path / "sql", posts, **site)
    entry = AuditEntry(now, "mo@example.org", "post.hide", "post:post-0030", "test")
    try:
        assert store.hide_post("post-0030", entry)
        store.hold_source("platforma", "disabled", replace(entry, action="source.disable"))
        report = publish_all(store, settings, now)
    finally:
        store.close()
    shown = [p for p in posts if p.id != "post-0030" and p.source_id != "platforma"]
    assert report.posts == len(shown)
    reference = make_settings(tmp_path / "ref", feed_entries=PAGE, **site)
    publish_all(FakeStore(shown, reference.source_list()), reference, now)
    assert _files(settings.output_dir) == _files(reference.output_dir)
    combined = (settings.output_dir / "feed.atom").read_text()
    assert combined.count("Post 10") == 3  # three of the nine undated posts on top
    assert "Post 30:" not in combined + (settings.output_dir / "index.html").read_text()


def test_archive_entries_and_posts_kept_for_later_documents_change_no_byte(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Archive pages keep their newest entries and posts for the editions and pages written
    after them (``site.SpareEntries``, ``site.SparePosts``): fewer entries serialized, fewer
    rows read again, the same files as with nothing kept."""
    written: list[str] = []
    real_entry = atom_fast.entry_xml
    read: list[str] = []
    real_read = SqlStore.posts_by_ids

    def counting_entry(site: Any, post: Post) -> str:
        written.append(post.id)
        return real_entry(site, post)

    def counting_read(store: SqlStore, ids: Sequence[str]) -> Any:
        read.extend(ids)
        return real_read(store, ids)

    monkeypatch.setattr(atom_fast, "entry_xml", counting_entry)
    monkeypatch.setattr(SqlStore, "posts_by_ids", counting_read)
    posts = _posts(63)
    changed = replace(posts[-5], also_from=("s2",))  # merged: always read from the store
    posts[-5] = changed
    results = []
    for name, budget in (("kept", None), ("none", 0)):
        if budget is not None:
            monkeypatch.setattr(site_module, "SPARE_ENTRY_BYTES", budget)
            monkeypatch.setattr(site_module, "SPARE_POST_BYTES", budget)
        written.clear()
        read.clear()
        where = Backend("sqlite", f"sqlite:///{tmp_path / name}.sqlite3", lambda sql: [])
        settings, store = _opened(where, tmp_path / name, posts)
        try:
            publish_all(store, settings, now)
        finally:
            store.close()
        results.append((_files(settings.output_dir), len(written), list(read)))
    (kept_files, kept_written, kept_read), (none_files, none_written, none_read) = results
    assert kept_files == none_files
    assert kept_written < none_written  # editions' entries came from the archive pages
    assert len(kept_read) < len(none_read)  # and their posts too
    assert changed.id in kept_read  # a merged post is read again (its also_from may change)


def test_the_language_versions_look_up_does_not_read_the_shown_posts_again(
    backend: Backend,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The pages' shown posts match their own link keys: read again whole, they were half of
    a first publish's HTML pages' time.  Those the caller holds are left out; the others, a
    post's other language version among them, are still read."""
    posts = _posts(12)
    _, store = _opened(backend, tmp_path, posts)
    try:
        keys = sorted({link_key(p.link) for p in posts})
        links = sorted(p.link for p in posts)
        everything = store.sibling_candidates(keys, links)
        assert {p.id for p in everything} == {p.id for p in posts}
        shown = {p.id for p in posts[:-1]}  # the Spanish version is not on the page
        found = store.sibling_candidates(keys, links, held=shown)
        assert [p.id for p in found] == [posts[-1].id]
        assert found[0].content_html == posts[-1].content_html
        assert store.sibling_candidates(keys, links, held={p.id for p in posts}) == []
    finally:
        store.close()

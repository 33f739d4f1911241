"""The combined feed and its editions, read back the way subscribers' software reads them.

Every document is checked twice, independently: with feedparser (what feed readers see) and
with lxml (the exact XML), and every Atom document against RFC 4287's RELAX NG schema.  The
store is an in-memory fake with only the read methods publishing calls.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.config import Settings
from aggregator.files import fresh_twin
from aggregator.models import Author, Link, Post, Source, SourceState
from aggregator.present.topics import choose_topic_labels
from aggregator.publish import archives, editions, memo, publisher, websub
from aggregator.publish.outputs import (
    GZIP_SUFFIXES,
    BatchWriter,
    clean_line,
    clean_text,
    write_atomic,
)
from aggregator.publish.publisher import publish_all
from aggregator.publish.site import ENTRY_NAMESPACE, entry_id, load_site
from tests.httpserver import FixtureServer
from tests.publishfake import ListPublishReads

DATA = Path(__file__).resolve().parent / "data"
A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
BASE_URL = "https://news.example.org/"
T0 = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)

HOSTILE_TITLE = (
    "Fish & chips <b>not bold</b> ]]> \U0001f3d9\ufe0f "
    "\u0645\u062f\u064a\u0646\u0629 \u0627\u0644\u0631\u0628\u0627\u0637 "
    "\x1b[31mESC\x07BEL\x00NUL \ud83d lone"
)


# --------------------------------------------------------------------------------------------
# Fakes and builders (also used by test_pages and test_web)


class FakeStore(ListPublishReads):
    """The read side of the Store protocol that publishing uses, over a list of posts."""

    def __init__(
        self,
        posts: Sequence[Post],
        sources: Sequence[Source],
        states: dict[str, SourceState] | None = None,
    ) -> None:
        self.posts = list(posts)
        self.sources = {s.id: s for s in sources}
        self.states = states or {}

    def recent_posts(
        self,
        limit: int,
        *,
        language: str | None = None,
        source_id: str | None = None,
        topic: str | None = None,
        offset: int = 0,
    ) -> list[Post]:
        chosen = [
            p
            for p in self.posts
            if (language is None or p.language == language)
            and (source_id is None or p.source_id == source_id)
            and (topic is None or topic in p.topics)
        ]
        chosen.sort(key=lambda p: p.published, reverse=True)
        return chosen[offset : offset + limit]

    def get_sources(self) -> dict[str, Source]:
        return dict(self.sources)

    def get_states(self) -> dict[str, SourceState]:
        return dict(self.states)

    def count_posts(self) -> int:
        return len(self.posts)


SOURCES: list[dict[str, Any]] = [
    {
        "id": "uclg",
        "name": "UCLG blog",
        "organisation": "United Cities and Local Governments",
        "url": "https://uclg.example.org/feed.xml",
        "homepage": "https://uclg.example.org/blog",
        "language": "en",
    },
    {
        "id": "cemr",
        "name": "CEMR news",
        "organisation": "Council of European Municipalities and Regions",
        "url": "https://cemr.example.org/rss",
        "language": "fr",
        "tags": ["europe"],
    },
    {
        "id": "platforma",
        "name": "PLATFORMA",
        "organisation": "PLATFORMA",
        "url": "https://platforma.example.org/atom",
        "language": "es",
    },
    {
        "id": "retired",
        "name": "Retired member",
        "organisation": "Old association",
        "url": "https://old.example.org/feed",
        "enabled": False,
    },
]


def make_settings(tmp_path: Path, **site: Any) -> Settings:
    values: dict[str, Any] = {
        "title": "Network news",
        "base_url": BASE_URL,
        "description": "News from the members of the network.",
        "intro": {
            "en": "This blog is a space for knowledge-sharing.\n\nRead on.",
            "fr": "Ce blog est un espace de partage.",
        },
        "feed_entries": 4,
        "page_size": 3,
        "icon": "static/icon.png",
        "logo": "https://cdn.example.org/logo.png",
        "hub": "https://hub.example.org/",
    }
    values.update(site)
    settings = Settings.model_validate(
        {
            "site": values,
            "topics": {"resilience": ["Resilience", "Résilience"], "migration": ["Migration"]},
            "sources": SOURCES,
        }
    )
    return settings.model_copy(update={"path": tmp_path / "feeds.yaml"})


def sources_of(settings: Settings) -> list[Source]:
    return settings.source_list()


def make_post(n: int, **changes: Any) -> Post:
    """Post n of a steady stream: one every 6 hours, first seen an hour after publication."""
    published = T0 + timedelta(hours=6 * n)
    lang = ("en", "fr", "es")[n % 3]
    source = {"en": "uclg", "fr": "cemr", "es": "platforma"}[lang]
    post = Post(
        id=f"post-{n:04d}",
        source_id=source,
        guid=f"https://{source}.example.org/p/{n}",
        title=f"Post {n}: local governments act",
        link=f"https://{source}.example.org/p/{n}",
        published=published,
        updated=published + timedelta(minutes=30),
        first_seen=published + timedelta(hours=1),
        language=lang,
        excerpt=f"Excerpt of post {n}, cut near three hundred characters...",
        content_html=f'<p>Body of post {n} with <a href="https://example.org/">a link</a>.</p>',
        authors=(Author(f"Author {n}", uri=f"https://example.org/people/{n}"),),
        tags=("Résilience", "Resiliencia") if n % 2 else ("Migration",),
        topics=("resilience",) if n % 2 else ("migration",),
    )
    return replace(post, **changes)


def build(tmp_path: Path, posts: Sequence[Post], **site: Any) -> tuple[Settings, FakeStore]:
    settings = make_settings(tmp_path, **site)
    return settings, FakeStore(posts, sources_of(settings))


def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(DATA / "atom.rng")))


def read_xml(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """inode and mtime of every file: what a rewrite would change."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            out[str(path.relative_to(root))] = (st.st_ino, st.st_mtime_ns)
    return out


# --------------------------------------------------------------------------------------------
# write_atomic


def test_write_atomic_writes_only_changed_bytes(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "feed.atom"
    assert write_atomic(target, b"one") is True
    before = target.stat()
    assert write_atomic(target, b"one") is False
    after = target.stat()
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert write_atomic(target, b"two") is True
    assert target.read_bytes() == b"two"
    assert write_atomic(target, b"tw0") is True  # same size, different bytes
    assert target.read_bytes() == b"tw0"
    assert sorted(p.name for p in target.parent.iterdir()) == ["feed.atom"]  # no temp left
    assert target.stat().st_mode & 0o777 == 0o644


def test_clean_text_keeps_text_and_drops_what_xml_cannot_carry() -> None:
    assert clean_text("a\x1bb\x07c\x00d\ufffe") == "abcd"
    assert clean_text("tab\tnl\ncr\r") == "tab\tnl\ncr\r"
    assert clean_text("x\ud83dy") == "x\ufffdy"
    assert clean_text("\U0001f3d9 \u0645\u062f") == "\U0001f3d9 \u0645\u062f"
    assert clean_line("  two\r\nlines\t ") == "two lines"


# --------------------------------------------------------------------------------------------
# The combined feed, field by field


def test_combined_atom_carries_every_field(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(7)]
    posts[6] = replace(
        posts[6],
        translations=(Link("https://uclg.example.org/fr/p/6", hreflang="fr"),),
        authors=(Author("Kelly Henao", uri="https://columbus.example.org/"), Author("Sara H")),
    )
    settings, store = build(tmp_path, posts)
    store.states["uclg"] = SourceState("uclg", "https://uclg.example.org/feed.xml", title="UCLG")
    report = publish_all(store, settings, now)
    feed_path = settings.output_dir / "feed.atom"
    assert feed_path in report.written
    assert report.feed_entries == 4

    # --- with lxml: the exact XML
    root = read_xml(feed_path)
    assert root.tag == f"{A}feed"
    assert root.findtext(f"{A}id") == BASE_URL + "feed.atom"
    assert root.findtext(f"{A}title") == "Network news"
    newest = posts[6]
    assert root.findtext(f"{A}updated") == newest.updated.isoformat()  # not `now`
    links = {(ln.get("rel"), ln.get("href")) for ln in root.findall(f"{A}link")}
    assert ("self", BASE_URL + "feed.atom") in links
    assert ("alternate", BASE_URL) in links
    assert ("hub", "https://hub.example.org/") in links
    generator = root.find(f"{A}generator")
    assert generator is not None and generator.text == "localgov-aggregator"
    assert generator.get("version")
    assert root.findtext(f"{A}icon") == BASE_URL + "static/icon.png"
    assert root.findtext(f"{A}logo") == "https://cdn.example.org/logo.png"

    entries = root.findall(f"{A}entry")
    assert [e.findtext(f"{A}id") for e in entries] == [
        entry_id(p.id) for p in sorted(posts, key=lambda p: p.published, reverse=True)[:4]
    ]
    first = entries[0]
    assert first.findtext(f"{A}id").startswith("urn:uuid:")
    assert first.get(XML_LANG) == "en"
    assert first.findtext(f"{A}title") == newest.title
    entry_links = [
        (ln.get("rel"), ln.get("href"), ln.get("hreflang"), ln.get("type"))
        for ln in first.findall(f"{A}link")
    ]
    assert entry_links == [
        ("alternate", newest.link, None, "text/html"),
        ("related", "https://uclg.example.org/fr/p/6", "fr", "text/html"),  # the translation
    ]
    assert first.findtext(f"{A}published") == newest.published.isoformat()
    assert first.findtext(f"{A}updated") == newest.updated.isoformat()
    authors = [(a.findtext(f"{A}name"), a.findtext(f"{A}uri")) for a in first.findall(f"{A}author")]
    assert authors == [("Kelly Henao", "https://columbus.example.org/"), ("Sara H", None)]
    cats = [(c.get("term"), c.get("scheme"), c.get("label")) for c in first.findall(f"{A}category")]
    # the tag "Migration" is the topic migration: one category, its label the term readers show
    assert cats == [("Migration", BASE_URL + "topics/migration", "Migration")]
    summary = first.find(f"{A}summary")
    assert summary is not None and summary.text == newest.excerpt
    content = first.find(f"{A}content")
    assert content is not None and content.get("type") == "html"
    assert content.text == newest.content_html
    source = first.find(f"{A}source")
    assert source is not None
    # a stable id minted from the site and the source id, not the (movable) fetch URL
    assert source.findtext(f"{A}id") == "tag:news.example.org,2026:sources/uclg"
    assert source.findtext(f"{A}title") == "UCLG"  # the feed's own title, from its state
    source_links = {(ln.get("rel"), ln.get("href")) for ln in source.findall(f"{A}link")}
    assert source_links == {
        ("alternate", "https://uclg.example.org/blog"),
        ("self", "https://uclg.example.org/feed.xml"),
    }
    assert source.findtext(f"{A}updated") == newest.updated.isoformat()
    assert atom_schema().validate(root.getroottree())

    # --- with feedparser: what a feed reader sees
    parsed = feedparser.parse(feed_path.read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.id == BASE_URL + "feed.atom"
    assert parsed.feed.generator == "localgov-aggregator"
    assert len(parsed.entries) == 4
    e0 = parsed.entries[0]
    assert e0.title == newest.title
    assert e0.link == newest.link
    assert e0.published_parsed[:5] == newest.published.timetuple()[:5]
    assert e0.updated_parsed[:5] == newest.updated.timetuple()[:5]
    assert [a.name for a in e0.authors] == ["Kelly Henao", "Sara H"]
    assert e0.summary == newest.excerpt
    assert e0.content[0].type == "text/html"
    assert '<a href="https://example.org/">a link</a>' in e0.content[0].value
    assert [t.term for t in e0.tags] == ["Migration"]
    assert e0.source.title == "UCLG"
    assert e0.source.id == "tag:news.example.org,2026:sources/uclg"


def test_hostile_text_survives_every_format(tmp_path: Path, now: datetime) -> None:
    long_title = "Mobilité " * 600  # 5,400 characters
    posts = [
        make_post(
            1,
            title=HOSTILE_TITLE,
            excerpt="AT&T <script>alert(1)</script> ]]> \x07 \ud800 עברית",
            content_html="<p>R&amp;D &lt;tag&gt; ]]&gt; \U0001f600 \x1b</p>",
            tags=("A&B", "<i>x</i>", "\u0645\u062f\u064a\u0646\u0629"),
            authors=(Author("Zoë \x1b O'Brien <zob>"),),
        ),
        make_post(2, title=long_title),
    ]
    settings, store = build(tmp_path, posts)
    publish_all(store, settings, now)
    out = settings.output_dir
    expected_title = clean_line(HOSTILE_TITLE)
    assert "\x1b" not in expected_title and "\ufffd" in expected_title

    root = read_xml(out / "feed.atom")
    titles = [e.findtext(f"{A}title") for e in root.findall(f"{A}entry")]
    assert expected_title in titles
    assert clean_line(long_title) in titles
    hostile = next(e for e in root.findall(f"{A}entry") if e.findtext(f"{A}title") == titles[1])
    assert hostile.findtext(f"{A}summary").startswith("AT&T <script>alert(1)</script> ]]>")
    assert hostile.findtext(f"{A}author/{A}name") == "Zoë O'Brien <zob>"
    assert atom_schema().validate(root.getroottree()), atom_schema().error_log

    parsed = feedparser.parse((out / "feed.atom").read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert {e.title for e in parsed.entries} >= {clean_line(long_title)}
    assert any("\U0001f3d9" in e.title and "\u0645\u062f" in e.title for e in parsed.entries)

    rss = feedparser.parse((out / "feed.rss").read_bytes())
    assert not rss.bozo, rss.get("bozo_exception")
    assert rss.version == "rss20"
    assert any("\U0001f3d9" in e.title for e in rss.entries)
    data = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert expected_title in [i["title"] for i in data["items"]]
    for path in out.rglob("*.atom"):
        assert atom_schema().validate(etree.parse(str(path))), path


def test_every_atom_document_validates_against_rfc4287(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(11)], feed_entries=3)
    publish_all(store, settings, now)
    schema = atom_schema()
    documents = sorted(settings.output_dir.rglob("*.atom"))
    names = {str(p.relative_to(settings.output_dir)) for p in documents}
    assert {"feed.atom", "feed-en.atom", "archive/1.atom", "topics/migration.atom"} <= names
    for path in documents:
        assert schema.validate(etree.parse(str(path))), (path, schema.error_log)


def test_the_schema_rejects_broken_atom() -> None:
    """The validation above is only worth something if the schema can say no."""
    schema = atom_schema()
    ok = b"""<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title>
      <updated>2026-01-01T00:00:00Z</updated></feed>"""
    assert schema.validate(etree.fromstring(ok))
    for broken in (
        ok.replace(b"<id>urn:x</id>", b""),  # no id
        ok.replace(b"2026-01-01T00:00:00Z", b"01/01/2026"),  # not a date
        ok.replace(b"<title>t</title>", b"<title>t</title><title>u</title>"),  # two titles
        ok.replace(b"</feed>", b"<entry><title>x</title></entry></feed>"),  # entry without id
        ok.replace(b"<feed ", b'<feed xml:lang="not a tag" '),
    ):
        assert not schema.validate(etree.fromstring(broken)), broken


# --------------------------------------------------------------------------------------------
# Editions, RSS, JSON Feed, OPML


def test_editions_hold_the_right_posts(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(9)]
    settings, store = build(tmp_path, posts, feed_entries=10)
    publish_all(store, settings, now)
    out = settings.output_dir

    for lang in ("en", "fr", "es"):
        path = out / f"feed-{lang}.atom"
        root = read_xml(path)
        assert root.get(XML_LANG) == lang
        got = {e.findtext(f"{A}id") for e in root.findall(f"{A}entry")}
        assert got == {entry_id(p.id) for p in posts if p.language == lang}
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo and len(parsed.entries) == 3
        alternate = [
            ln.get("href") for ln in root.findall(f"{A}link") if ln.get("rel") == "alternate"
        ]
        assert alternate == [f"{BASE_URL}{lang}/"]

    migration = read_xml(out / "topics" / "migration.atom")
    got = {e.findtext(f"{A}id") for e in migration.findall(f"{A}entry")}
    assert got == {entry_id(p.id) for p in posts if "migration" in p.topics}
    resilience = feedparser.parse((out / "topics" / "resilience.atom").read_bytes())
    assert len(resilience.entries) == 4

    cemr = read_xml(out / "sources" / "cemr.atom")
    got = {e.findtext(f"{A}id") for e in cemr.findall(f"{A}entry")}
    assert got == {entry_id(p.id) for p in posts if p.source_id == "cemr"}
    retired = feedparser.parse((out / "sources" / "retired.atom").read_bytes())
    assert not retired.bozo and retired.entries == []  # an empty edition is still a feed

    rss = feedparser.parse((out / "feed.rss").read_bytes())
    assert rss.version == "rss20" and not rss.bozo
    assert rss.feed.link == BASE_URL
    assert [e.id for e in rss.entries] == [
        entry_id(p.id) for p in sorted(posts, key=lambda p: p.published, reverse=True)
    ]
    assert rss.entries[0].link == posts[8].link
    assert rss.entries[0].author == "Author 8"  # dc:creator
    assert rss.entries[0].source.href == "https://platforma.example.org/atom"
    rss_root = read_xml(out / "feed.rss")
    hub = rss_root.find("channel/{http://www.w3.org/2005/Atom}link[@rel='hub']")
    assert hub is not None and hub.get("href") == "https://hub.example.org/"

    data = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert data["version"] == "https://jsonfeed.org/version/1.1"
    assert data["feed_url"] == BASE_URL + "feed.json"
    assert data["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"}]
    item = data["items"][0]
    assert item["id"] == entry_id(posts[8].id)
    assert item["url"] == posts[8].link
    assert item["date_published"] == posts[8].published.isoformat()
    assert item["language"] == "es"
    assert item["authors"] == [{"name": "Author 8", "url": "https://example.org/people/8"}]
    assert "Migration" in item["tags"]

    opml = read_xml(out / "sources.opml")
    assert opml.get("version") == "2.0"
    outlines = {o.get("xmlUrl"): o for o in opml.iter("outline")}
    assert set(outlines) == {
        "https://uclg.example.org/feed.xml",
        "https://cemr.example.org/rss",
        "https://platforma.example.org/atom",
    }  # the disabled source is not offered
    uclg = outlines["https://uclg.example.org/feed.xml"]
    assert uclg.get("text") == "UCLG blog" and uclg.get("type") == "rss"
    assert uclg.get("htmlUrl") == "https://uclg.example.org/blog"


def test_unsafe_links_are_not_republished(tmp_path: Path, now: datetime) -> None:
    post = make_post(
        0, link="javascript:alert(1)", authors=(Author("X", uri="file:///etc/passwd"),)
    )
    settings, store = build(tmp_path, [post])
    publish_all(store, settings, now)
    raw = b"".join(p.read_bytes() for p in settings.output_dir.rglob("*") if p.is_file())
    assert b"javascript:" not in raw
    assert b"file:///etc" not in raw


# --------------------------------------------------------------------------------------------
# Stability: same content, same bytes, files untouched


def test_publishing_twice_rewrites_nothing(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(10)], feed_entries=3)
    first = publish_all(store, settings, now)
    assert first.written and first.changed_feeds
    before = snapshot(settings.output_dir)
    contents = {p: (settings.output_dir / p).read_bytes() for p in before}
    second = publish_all(store, settings, now + timedelta(days=3))  # a later clock changes nothing
    assert second.written == ()
    assert second.changed_feeds == ()
    assert len(second.unchanged) == len(first.written)
    assert snapshot(settings.output_dir) == before
    assert {p: (settings.output_dir / p).read_bytes() for p in before} == contents


def test_a_new_post_rewrites_the_feeds_it_belongs_to(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(6)]
    settings, store = build(tmp_path, posts, feed_entries=10)
    publish_all(store, settings, now)
    store.posts.append(make_post(10))  # French, cemr, migration
    report = publish_all(store, settings, now)
    changed = {str(p.relative_to(settings.output_dir)) for p in report.written}
    assert {"feed.atom", "feed-fr.atom", "sources/cemr.atom", "topics/migration.atom"} <= changed
    assert {"feed.rss", "feed.json", "index.html", "fr/index.html"} <= changed
    assert not {"feed-en.atom", "feed-es.atom", "sources/uclg.atom", "topics/resilience.atom"} & (
        changed
    )
    assert "en/index.html" not in changed
    assert set(report.changed_feeds) >= {BASE_URL + "feed.atom", BASE_URL + "feed-fr.atom"}
    assert BASE_URL + "feed-en.atom" not in report.changed_feeds


# --------------------------------------------------------------------------------------------
# RFC 5005 archives


def _archive_ids(path: Path) -> list[str]:
    return [e.findtext(f"{A}id") for e in read_xml(path).findall(f"{A}entry")]


def test_archives_are_complete_pages_linked_from_the_feed(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(10)]
    settings, store = build(tmp_path, posts, feed_entries=3)
    report = publish_all(store, settings, now)
    out = settings.output_dir
    assert report.archives == 3
    assert sorted(p.name for p in (out / "archive").glob("*.atom")) == [
        "1.atom",
        "2.atom",
        "3.atom",
    ]

    main = read_xml(out / "feed.atom")
    prev = main.find(f"{A}link[@rel='prev-archive']")
    assert prev is not None and prev.get("href") == BASE_URL + "archive/3.atom"
    assert main.find(f"{FH}archive") is None

    page2 = read_xml(out / "archive" / "2.atom")
    assert page2.find(f"{FH}archive") is not None
    rels = {ln.get("rel"): ln.get("href") for ln in page2.findall(f"{A}link")}
    assert rels["prev-archive"] == BASE_URL + "archive/1.atom"
    assert rels["current"] == BASE_URL + "feed.atom"
    assert rels["self"] == BASE_URL + "archive/2.atom"
    assert rels["next-archive"] == BASE_URL + "archive/3.atom"
    page1 = read_xml(out / "archive" / "1.atom")
    assert page1.find(f"{A}link[@rel='prev-archive']") is None
    page3 = read_xml(out / "archive" / "3.atom")
    assert page3.find(f"{A}link[@rel='next-archive']") is None  # the newest page: feed.atom next
    assert page3.find(f"{A}link[@rel='current']").get("href") == BASE_URL + "feed.atom"

    # walking the chain from the feed finds every archived post exactly once, oldest page first
    walked: list[str] = []
    href = prev.get("href")
    while href:
        doc = read_xml(out / href.removeprefix(BASE_URL))
        walked = _archive_ids(out / href.removeprefix(BASE_URL)) + walked
        link = doc.find(f"{A}link[@rel='prev-archive']")
        href = link.get("href") if link is not None else None
    assert sorted(walked) == sorted(entry_id(p.id) for p in posts[:9])
    assert len(set(walked)) == 9
    via_fp = feedparser.parse((out / "archive" / "2.atom").read_bytes())
    assert not via_fp.bozo and len(via_fp.entries) == 3


def _without_next_archive(path: Path) -> bytes:
    root = read_xml(path)
    for link in root.findall(f"{A}link[@rel='next-archive']"):
        root.remove(link)
    return etree.tostring(root, method="c14n")


def test_complete_archive_pages_never_change(tmp_path: Path, now: datetime) -> None:
    """Once written, a page changes once: when the page after it is cut, it gets the
    next-archive link, and nothing else (not even an edit its publisher made since)."""
    posts = [make_post(n) for n in range(7)]
    settings, store = build(tmp_path, posts, feed_entries=3)
    publish_all(store, settings, now)
    archive = settings.output_dir / "archive"
    before = snapshot(archive)
    bytes_before = {p: (archive / p).read_bytes() for p in before}
    page2_before = _without_next_archive(archive / "2.atom")
    assert sorted(before) == [".page-size", "1.atom", "2.atom"]
    assert read_xml(archive / "2.atom").find(f"{A}link[@rel='next-archive']") is None

    # new posts arrive (first seen later), and an archived post is edited by its publisher
    store.posts[0] = replace(store.posts[0], title="Edited title", updated=now)
    store.posts += [make_post(n, first_seen=now + timedelta(minutes=n)) for n in (20, 21, 22)]
    report = publish_all(store, settings, now + timedelta(hours=1))
    assert report.archives == 3
    after = snapshot(archive)
    unchanged = [".page-size", "1.atom"]
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert {p: (archive / p).read_bytes() for p in unchanged} == {
        p: bytes_before[p] for p in unchanged
    }
    assert _without_next_archive(archive / "2.atom") == page2_before
    link = read_xml(archive / "2.atom").find(f"{A}link[@rel='next-archive']")
    assert link is not None and link.get("href") == BASE_URL + "archive/3.atom"
    linked = snapshot(archive)
    publish_all(store, settings, now + timedelta(hours=2))
    assert snapshot(archive) == linked  # linked once, then final
    assert _archive_ids(archive / "3.atom") == [
        entry_id(p.id) for p in (make_post(21), make_post(20), make_post(6))
    ]
    main = read_xml(settings.output_dir / "feed.atom")
    prev = main.find(f"{A}link[@rel='prev-archive']")
    assert prev is not None and prev.get("href") == BASE_URL + "archive/3.atom"


def test_pages_cut_before_next_links_existed_get_them_once(tmp_path: Path, now: datetime) -> None:
    """An earlier release wrote pages without next-archive and an index without "linked"."""
    settings, store = build(tmp_path, [make_post(n) for n in range(10)], feed_entries=3)
    publish_all(store, settings, now)
    archive = settings.output_dir / "archive"
    entries_before = {n: _archive_ids(archive / f"{n}.atom") for n in (1, 2, 3)}
    for n in (1, 2, 3):
        root = read_xml(archive / f"{n}.atom")
        for link in root.findall(f"{A}link[@rel='next-archive']"):
            root.remove(link)
        write_atomic(archive / f"{n}.atom", etree.tostring(root, xml_declaration=True))
    (archive / "1.atom").write_bytes(b"<feed><entry>half a page")  # damaged: cut again
    index = settings.output_dir / archives.ARCHIVE_INDEX
    old = json.loads(index.read_text(encoding="utf-8"))
    del old["linked"]
    index.write_text(json.dumps(old), encoding="utf-8")

    publish_all(store, settings, now)
    for n in (1, 2):
        link = read_xml(archive / f"{n}.atom").find(f"{A}link[@rel='next-archive']")
        assert link is not None and link.get("href") == f"{BASE_URL}archive/{n + 1}.atom"
    assert read_xml(archive / "3.atom").find(f"{A}link[@rel='next-archive']") is None
    assert {n: _archive_ids(archive / f"{n}.atom") for n in (1, 2, 3)} == entries_before
    assert json.loads(index.read_text(encoding="utf-8"))["linked"] == 2
    before = snapshot(archive)
    publish_all(store, settings, now)
    assert snapshot(archive) == before


def test_a_lost_archive_index_cuts_the_pages_afresh(tmp_path: Path, now: datetime) -> None:
    """Early cuts cannot be recomputed: without the index, old pages go and all are cut again."""
    settings, store = build(tmp_path, [make_post(n) for n in range(10)], feed_entries=3)
    publish_all(store, settings, now)
    (settings.output_dir / archives.ARCHIVE_INDEX).unlink()
    (settings.output_dir / "archive" / "2.atom").write_bytes(b"<feed/>")  # whatever was there
    report = publish_all(store, settings, now)
    assert report.archives == 3
    assert read_xml(settings.output_dir / "archive" / "2.atom").tag == f"{A}feed"
    walked = [i for n in (1, 2, 3) for i in _archive_ids(settings.output_dir / f"archive/{n}.atom")]
    assert sorted(walked) == sorted(entry_id(make_post(n).id) for n in range(9))


def test_retention_does_not_shift_the_archive_pages(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(12)], feed_entries=4)
    publish_all(store, settings, now)
    archive = settings.output_dir / "archive"
    pages_before = {n: _archive_ids(archive / f"{n}.atom") for n in (1, 2, 3)}

    del store.posts[:2]  # retention deleted the two oldest posts
    report = publish_all(store, settings, now)
    assert report.archives == 3  # the chain still starts at the newest page
    main = read_xml(settings.output_dir / "feed.atom")
    prev = main.find(f"{A}link[@rel='prev-archive']")
    assert prev is not None and prev.get("href") == BASE_URL + "archive/3.atom"

    store.posts += [make_post(n, first_seen=now + timedelta(minutes=n)) for n in range(20, 24)]
    report = publish_all(store, settings, now)
    assert report.archives == 4
    assert {n: _archive_ids(archive / f"{n}.atom") for n in (1, 2, 3)} == pages_before
    assert _archive_ids(archive / "4.atom") == [
        entry_id(make_post(n).id) for n in (23, 22, 21, 20)
    ]  # exactly the new posts: none skipped, none twice

    (archive / "2.atom").unlink()  # a lost page is cut again where it was
    publish_all(store, settings, now)
    assert _archive_ids(archive / "2.atom") == pages_before[2]


def test_a_new_page_size_rebuilds_the_archives_once(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(9)]
    settings, store = build(tmp_path, posts, feed_entries=3)
    publish_all(store, settings, now)
    archive = settings.output_dir / "archive"
    assert sorted(p.name for p in archive.glob("*.atom")) == ["1.atom", "2.atom", "3.atom"]
    bigger = settings.model_copy(
        update={"site": settings.site.model_copy(update={"feed_entries": 4})}
    )
    report = publish_all(store, bigger, now)
    assert report.archives == 2
    assert sorted(p.name for p in archive.glob("*.atom")) == ["1.atom", "2.atom"]
    assert len(_archive_ids(archive / "1.atom")) == 4
    assert len(_archive_ids(archive / "2.atom")) == 4
    before = snapshot(archive)
    publish_all(store, bigger, now)
    assert snapshot(archive) == before


def test_no_archive_link_before_a_page_is_complete(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(0), make_post(1)], feed_entries=3)
    report = publish_all(store, settings, now)
    assert report.archives == 0
    assert not (settings.output_dir / "archive").exists()
    main = read_xml(settings.output_dir / "feed.atom")
    assert main.find(f"{A}link[@rel='prev-archive']") is None


# --------------------------------------------------------------------------------------------
# WebSub and empty stores


def test_hub_links_in_every_feed_and_none_without_a_hub(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path / "a", [make_post(n) for n in range(5)], feed_entries=2)
    publish_all(store, settings, now)
    for path in settings.output_dir.rglob("*.atom"):
        hub = read_xml(path).find(f"{A}link[@rel='hub']")
        assert hub is not None and hub.get("href") == "https://hub.example.org/", path

    settings, store = build(tmp_path / "b", [make_post(n) for n in range(5)], hub=None)
    publish_all(store, settings, now)
    assert b'rel="hub"' not in (settings.output_dir / "feed.atom").read_bytes()
    assert "hubs" not in json.loads((settings.output_dir / "feed.json").read_text("utf-8"))


def test_an_empty_store_still_publishes_valid_feeds(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [])
    report = publish_all(store, settings, now)
    assert report.posts == 0 and report.feed_entries == 0
    root = read_xml(settings.output_dir / "feed.atom")
    assert root.findall(f"{A}entry") == []
    assert atom_schema().validate(root.getroottree())
    assert (settings.output_dir / "index.html").is_file()


def test_output_files_are_world_readable(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(0)])
    publish_all(store, settings, now)
    for path in settings.output_dir.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o444 == 0o444, path
            # our two bookkeeping dotfiles (never served); no temporary file left behind
            assert not path.name.startswith(".") or path.name in (
                ".publish-memo.json",
                ".page-size",
            )
    assert os.access(settings.output_dir / "feed.atom", os.R_OK)


@pytest.mark.parametrize("bad", ["\x00", "\x1b", "\x07", "\ud800", "\ufffe", "\x85"])
def test_any_single_bad_character_in_any_field_is_harmless(
    tmp_path: Path, now: datetime, bad: str
) -> None:
    post = make_post(
        0,
        title=f"T{bad}",
        excerpt=f"E{bad}",
        content_html=f"<p>C{bad}</p>",
        tags=(f"g{bad}",),
        authors=(Author(f"N{bad}"),),
        language="en",
    )
    settings, store = build(tmp_path, [post])
    publish_all(store, settings, now)
    parsed = feedparser.parse((settings.output_dir / "feed.atom").read_bytes())
    assert not parsed.bozo
    assert parsed.entries[0].title in ("T", "T\ufffd")


ANY_CHAR = st.characters(exclude_categories=[])  # surrogates and controls included


@hypothesis_settings(max_examples=25, deadline=None)
@given(
    title=st.text(ANY_CHAR, max_size=300),
    excerpt=st.text(ANY_CHAR, max_size=300),
    tag=st.text(ANY_CHAR, max_size=40),
    author=st.text(ANY_CHAR, max_size=60),
)
def test_any_text_gives_a_valid_feed(title: str, excerpt: str, tag: str, author: str) -> None:
    """Whatever a member's feed carries, the combined feed stays valid Atom and parseable."""
    post = make_post(0, title=title, excerpt=excerpt, tags=(tag,), authors=(Author(author),))
    with tempfile.TemporaryDirectory() as tmp:
        cfg, store = build(Path(tmp), [post])
        publish_all(store, cfg, T0)
        data = (cfg.output_dir / "feed.atom").read_bytes()
        assert atom_schema().validate(etree.fromstring(data))
        parsed = feedparser.parse(data)
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(parsed.entries) == 1
        assert (cfg.output_dir / "index.html").stat().st_size > 0


# --------------------------------------------------------------------------------------------
# gzip twins: ``serve`` makes them on demand; publish removes them with their outputs


def test_an_output_publish_removes_takes_its_gzip_twin_along(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(13)], feed_entries=4)
    out = settings.output_dir
    publish_all(store, settings, now)
    pages = [p for p in out.rglob("*") if p.is_file() and p.suffix in GZIP_SUFFIXES]
    assert all(fresh_twin(p) for p in pages if not p.name.startswith("."))
    assert (out / "archive" / "3.atom.gz").is_file()
    bigger = settings.model_copy(
        update={"site": settings.site.model_copy(update={"feed_entries": 5})}
    )
    assert publish_all(store, bigger, now).archives == 2  # the archives are cut afresh
    assert not (out / "archive" / "3.atom.gz").exists()
    del store.posts[:12]  # retention leaves fewer posts: the listing pages past the last go
    assert publish_all(store, bigger, now).removed
    for twin in out.rglob("*.gz"):
        assert twin.with_suffix("").is_file(), twin  # no twin outlives its output


# --------------------------------------------------------------------------------------------
# The memo: unchanged outputs are not even rebuilt, and any change is noticed


def test_unchanged_outputs_are_not_rebuilt(
    tmp_path: Path, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(9)], feed_entries=4)
    publish_all(store, settings, now)
    built: list[str] = []
    real_atom, real_pages = publisher.atom_document, publisher.render_page_set

    def counting_atom(site: Any, spec: Any, *args: Any, **kwargs: Any) -> bytes:
        built.append(spec.path)
        return real_atom(site, spec, *args, **kwargs)

    def counting_pages(
        posts: Any, sources: Any, cfg: Any, feeds: Any, language: Any, *rest: Any
    ) -> Any:
        built.append(f"pages:{language}")
        return real_pages(posts, sources, cfg, feeds, language, *rest)

    monkeypatch.setattr(publisher, "atom_document", counting_atom)
    monkeypatch.setattr(archives, "atom_document", counting_atom)
    monkeypatch.setattr(publisher, "render_page_set", counting_pages)
    again = publish_all(store, settings, now)
    assert built == [] and again.written == ()

    store.posts.append(make_post(10))  # French, cemr, migration; archive pages stay at two
    publish_all(store, settings, now)
    assert sorted(built) == sorted(
        [
            "feed.atom",
            "feed-fr.atom",
            "topics/migration.atom",
            "sources/cemr.atom",
            "pages:None",
            "pages:fr",
        ]
    )


def test_the_memo_salt_covers_every_module_of_publish() -> None:
    """A change to any module that shapes an output must rebuild every output."""
    package = Path(memo.__file__).parent
    assert set(package.glob("*.py")) <= set(memo._CODE_FILES)
    assert {"atom.py", "atom_fast.py", "site.py", "pages.py"} <= {p.name for p in memo._CODE_FILES}


def test_the_memo_notices_every_kind_of_change(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(6)], feed_entries=10)
    out = settings.output_dir
    publish_all(store, settings, now)

    renamed = settings.model_copy(
        update={"site": settings.site.model_copy(update={"title": "Renamed network"})}
    )
    publish_all(store, renamed, now)
    assert read_xml(out / "feed.atom").findtext(f"{A}title") == "Renamed network"
    assert "Renamed network" in (out / "fr" / "index.html").read_text(encoding="utf-8")

    store.states["uclg"] = SourceState("uclg", "https://uclg.example.org/feed.xml", title="New")
    publish_all(store, renamed, now)
    uclg = read_xml(out / "sources" / "uclg.atom")
    assert {e.findtext(f"{A}source/{A}title") for e in uclg.findall(f"{A}entry")} == {"New"}

    store.posts[0] = replace(store.posts[0], title="Corrected title")  # same id, same dates
    publish_all(store, renamed, now)
    titles = [e.findtext(f"{A}title") for e in read_xml(out / "feed-en.atom").findall(f"{A}entry")]
    assert "Corrected title" in titles

    (out / "feed-es.atom").unlink()
    (out / "feed-fr.atom").write_bytes(b"vandalised")
    report = publish_all(store, renamed, now)
    assert {out / "feed-es.atom", out / "feed-fr.atom"} <= set(report.written)
    assert atom_schema().validate(etree.parse(str(out / "feed-fr.atom")))

    (out / ".publish-memo.json").write_text("not json", encoding="utf-8")
    assert publish_all(store, renamed, now).written == ()  # rebuilt, same bytes, untouched


def test_the_memo_follows_content_hashes_and_merges(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n, content_hash=f"h{n}") for n in range(6)]
    settings, store = build(tmp_path, posts, feed_entries=10)
    out = settings.output_dir
    publish_all(store, settings, now)

    store.posts[0] = replace(store.posts[0], title="Rewritten", content_hash="h0-v2")
    publish_all(store, settings, now)
    titles = [e.findtext(f"{A}title") for e in read_xml(out / "feed.atom").findall(f"{A}entry")]
    assert "Rewritten" in titles

    # a merge names another member without touching the post's own content (or its hash)
    store.posts[0] = replace(store.posts[0], also_from=("cemr",))
    report = publish_all(store, settings, now)
    assert out / "feed.atom" in report.written
    parsed = feedparser.parse((out / "feed.atom").read_bytes())
    entry = next(e for e in parsed.entries if e.id == entry_id(posts[0].id))
    assert [c.name for c in entry.contributors] == [
        "Council of European Municipalities and Regions"
    ]


# --------------------------------------------------------------------------------------------
# Editions chosen in one pass, batched writes


def test_one_pass_editions_match_each_editions_own_choice(tmp_path: Path, now: datetime) -> None:
    posts = [make_post(n) for n in range(40)]
    posts[3] = replace(posts[3], language="fr-CA", topics=("migration", "migration"))
    settings, store = build(tmp_path, posts)
    loaded = load_site(store, settings, now)
    specs = editions.feed_specs(loaded)
    assert {s.kind for s in specs} == {"all", "language", "topic", "source"}
    chosen = editions.edition_posts(loaded.posts, specs, 5)
    for spec in specs:
        expected = [p for p in loaded.posts if spec.selects(p)][:5]
        assert [p.id for p in chosen[spec.path]] == [p.id for p in expected], spec.path


def test_undated_backlogs_are_held_back_per_source_and_fetch(tmp_path: Path, now: datetime) -> None:
    """Undated posts (dated when first seen) beyond 5 per source and fetch: only the newest
    five in the store's order show; dated posts and small batches are never held back."""
    t1, t2 = T0 + timedelta(days=30), T0 + timedelta(days=31)
    batch = [  # two sources' backlogs seen at the same moment, and a later small batch
        make_post(
            100 + n, source_id=("uclg", "cemr")[n % 2], published=t1, updated=t1, first_seen=t1
        )
        for n in range(16)
    ] + [make_post(200 + n, published=t2, updated=t2, first_seen=t2) for n in range(3)]
    dated = [make_post(n, first_seen=t1) for n in range(6)]  # dated, seen with the backlog
    settings, store = build(tmp_path, batch + dated)
    site = load_site(store, settings, now)
    held = editions.undated_overflow(site.posts, 5)
    newest_first = [p.id for p in site.posts]
    for source in ("uclg", "cemr"):
        mine = [i for i in newest_first if i in {p.id for p in batch[:16] if p.source_id == source}]
        assert len(mine) == 8 and set(mine[5:]) == {i for i in held if i in mine}
    assert len(held) == 6
    assert editions.undated_overflow(site.posts, 8) == frozenset()


def test_topic_labels_follow_each_languages_own_spelling() -> None:
    posts = [
        make_post(1, language="en", tags=("Resilience", "Résilience")),
        make_post(3, language="fr", tags=("Résilience", "Resilience")),
        make_post(5, language="fr", tags=("resilience",)),  # folded: the first such spelling
    ]
    labels = choose_topic_labels({"resilience": ["Résilience", "Resilience"]}, {}, posts)
    assert labels.label("resilience", "en") == "Resilience"
    assert labels.label("resilience", "fr-CA") == "Résilience"
    assert labels.label("resilience", "pt") == "Résilience"  # no evidence: the first spelling
    assert labels.label("resilience") == "Résilience"
    declared = choose_topic_labels(
        {"resilience": ["Résilience", "Resilience"]}, {"resilience": {"en": "Resilience"}}, []
    )
    assert declared.label("resilience", "en-GB") == "Resilience"
    assert labels.spells("RÉSILIENCE", "resilience")
    assert not labels.spells("Migration", "resilience")
    # an English post tagged only in French, whose words say "resilience"
    written = make_post(7, language="en", tags=("Résilience",), excerpt="Cities build resilience.")
    tagged_only = make_post(9, language="en", tags=("Résilience",))
    mixed = choose_topic_labels({"resilience": ["Résilience", "Resilience"]}, {}, [written])
    assert mixed.label("resilience", "en") == "Resilience"
    plain = choose_topic_labels({"resilience": ["Résilience", "Resilience"]}, {}, [tagged_only])
    assert plain.label("resilience", "en") == "Résilience"  # nothing else to go by


def test_batch_writer_writes_changes_only_and_reports_failures(tmp_path: Path) -> None:
    (tmp_path / "same.txt").write_bytes(b"same")
    before = (tmp_path / "same.txt").stat()
    with BatchWriter() as files:
        assert files.put(tmp_path / "same.txt", b"same") is False
        for n in range(30):
            assert files.put(tmp_path / "d" / f"{n}.txt", str(n).encode()) is True
    assert (tmp_path / "same.txt").stat().st_mtime_ns == before.st_mtime_ns
    assert [(tmp_path / "d" / f"{n}.txt").read_bytes() for n in range(30)] == [
        str(n).encode() for n in range(30)
    ]
    assert not list(tmp_path.rglob(".tmp-*"))  # no temporary file left behind

    (tmp_path / "blocker").write_bytes(b"a file where a directory should be")
    files = BatchWriter()
    files.put(tmp_path / "blocker" / "x.txt", b"x")
    with pytest.raises(OSError):
        files.close()


# --------------------------------------------------------------------------------------------
# Stable atom:source ids, also_from in every format


def test_atom_source_id_survives_a_moved_member_feed(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(n) for n in range(3)])
    publish_all(store, settings, now)
    first = feedparser.parse((settings.output_dir / "sources" / "uclg.atom").read_bytes())

    # the member's feed moved (in the demo: a new random port at every run)
    moved = [
        dict(s, url="http://127.0.0.1:41234/feed.xml") if s["id"] == "uclg" else s for s in SOURCES
    ]
    settings2 = Settings.model_validate(
        {**settings.model_dump(exclude={"sources"}), "sources": moved}
    ).model_copy(update={"path": settings.path})
    store2 = FakeStore(store.posts, settings2.source_list())
    publish_all(store2, settings2, now)
    second = feedparser.parse((settings.output_dir / "sources" / "uclg.atom").read_bytes())

    ids = {e.source.id for e in first.entries} | {e.source.id for e in second.entries}
    assert ids == {"tag:news.example.org,2026:sources/uclg"}
    selfs = {
        ln.get("href")
        for ln in read_xml(settings.output_dir / "sources" / "uclg.atom").iter(f"{A}link")
        if ln.get("rel") == "self" and ln.getparent().tag == f"{A}source"
    }
    assert selfs == {"http://127.0.0.1:41234/feed.xml"}  # rel=self still the member's feed


def test_other_publishers_of_a_story_appear_in_every_feed(tmp_path: Path, now: datetime) -> None:
    merged = make_post(1, also_from=("uclg", "platforma", "cemr", "gone-member"))
    settings, store = build(tmp_path, [merged, make_post(0)])
    publish_all(store, settings, now)
    out = settings.output_dir
    expected = [
        "United Cities and Local Governments",
        "PLATFORMA",
        "gone-member",  # a source no longer configured is still named, by its id
    ]  # never the post's own organisation (CEMR)

    atom = feedparser.parse((out / "feed.atom").read_bytes())
    entry = next(e for e in atom.entries if e.id == entry_id(merged.id))
    assert [c.name for c in entry.contributors] == expected
    assert entry.contributors[0].href == "https://uclg.example.org/blog"  # its homepage
    assert atom_schema().validate(etree.parse(str(out / "feed.atom")))
    other = next(e for e in atom.entries if e.id != entry_id(merged.id))
    assert "contributors" not in other

    rss = feedparser.parse((out / "feed.rss").read_bytes())
    item = next(e for e in rss.entries if e.id == entry_id(merged.id))
    assert [c.name for c in item.contributors] == expected

    doc = json.loads((out / "feed.json").read_text("utf-8"))
    item = next(i for i in doc["items"] if i["id"] == entry_id(merged.id))
    assert [o["name"] for o in item["_source"]["also_from"]] == expected


# --------------------------------------------------------------------------------------------
# WebSub announcements to a real hub on loopback


def test_announce_pings_the_hub_for_changed_feeds_only(
    tmp_path: Path, now: datetime, http_server: FixtureServer
) -> None:
    received: list[dict[str, list[str]]] = []

    def hub(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        received.append(parse_qs(handler.rfile.read(length).decode("ascii")))
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hub_url = http_server.route("/hub", handler=hub)
    settings, store = build(tmp_path, [make_post(n) for n in range(6)], hub=hub_url)
    settings = settings.model_copy(
        update={
            "fetch": settings.fetch.model_copy(update={"allow_private": [http_server.hostport]})
        }
    )

    first = publish_all(store, settings, now)
    assert websub.announce(first, settings) == dict.fromkeys(first.changed_feeds, "ok")
    assert [r["hub.mode"] for r in received] == [["publish"]] * len(first.changed_feeds)
    assert {r["hub.url"][0] for r in received} == set(first.changed_feeds)
    assert BASE_URL + "feed.atom" in first.changed_feeds

    received.clear()
    store.posts.append(make_post(7))  # a French post from CEMR, tagged migration
    second = publish_all(store, settings, now)
    websub.announce(second, settings)
    pinged = {r["hub.url"][0] for r in received}
    assert pinged == set(second.changed_feeds)
    assert {BASE_URL + p for p in ("feed.atom", "feed-fr.atom", "sources/cemr.atom")} <= pinged
    assert BASE_URL + "feed-en.atom" not in pinged and BASE_URL + "sources/uclg.atom" not in pinged

    received.clear()
    third = publish_all(store, settings, now)
    assert third.changed_feeds == ()
    assert websub.announce(third, settings) == {}
    assert received == []  # nothing changed: the hub hears nothing

    def down(handler: BaseHTTPRequestHandler) -> None:
        handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    http_server.route("/hub", handler=down)  # a hub that is down never fails the cycle
    store.posts.append(make_post(8))
    results = websub.announce(publish_all(store, settings, now), settings)
    assert results and set(results.values()) == {"http_503"}


def test_announce_needs_a_hub(tmp_path: Path, now: datetime) -> None:
    settings, store = build(tmp_path, [make_post(0)], hub=None)
    report = publish_all(store, settings, now)
    assert report.changed_feeds and websub.announce(report, settings) == {}


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
@hypothesis_settings(max_examples=200, deadline=None)
def test_entry_ids_are_uuid5_for_ever(post_id: str) -> None:
    import uuid

    assert entry_id(post_id) == f"urn:uuid:{uuid.uuid5(ENTRY_NAMESPACE, post_id)}"


@given(st.text(max_size=60))
@hypothesis_settings(max_examples=300, deadline=None)
def test_clean_text_fast_path_agrees_with_the_rules(text: str) -> None:
    cleaned = clean_text(text)
    assert not any(
        ("\x00" <= c <= "\x08")
        or c in "\x0b\x0c\ufffe\uffff"
        or ("\x0e" <= c <= "\x1f")
        or ("\x7f" <= c <= "\x9f")
        or ("\ud800" <= c <= "\udfff")
        for c in cleaned
    )
    assert cleaned == "".join(
        "\ufffd" if "\ud800" <= c <= "\udfff" else c
        for c in text
        if not (
            ("\x00" <= c <= "\x08")
            or c in "\x0b\x0c\ufffe\uffff"
            or ("\x0e" <= c <= "\x1f")
            or ("\x7f" <= c <= "\x9f")
        )
    )


@given(st.text(max_size=40))
@hypothesis_settings(max_examples=300, deadline=None)
def test_clean_line_fast_path_agrees_with_the_rules(text: str) -> None:
    import re

    assert clean_line(text) == re.sub(r"\s+", " ", clean_text(text)).strip()


def test_a_hanging_hub_does_not_hold_the_cycle(
    tmp_path: Path, now: datetime, http_server: FixtureServer
) -> None:
    release = threading.Event()

    def hang(handler: BaseHTTPRequestHandler) -> None:
        release.wait(10)  # accepts the connection, never answers in time

    hub_url = http_server.route("/hub", handler=hang)
    settings, store = build(tmp_path, [make_post(0)], hub=hub_url)
    settings = settings.model_copy(
        update={
            "fetch": settings.fetch.model_copy(update={"allow_private": [http_server.hostport]})
        }
    )
    try:
        results = websub.announce(publish_all(store, settings, now), settings, timeout_s=0.5)
    finally:
        release.set()
    assert results and all(v.startswith("error") for v in results.values())

"""Posts in languages the site does not publish, from a real loopback server to the outputs.

The site publishes en, fr and es.  Before, detection chose among those three only, so it was
always sure and overrode every declaration: Portuguese posts were stored as Spanish, a source
configured ``language: de`` got English posts, a feed declaring ``xml:lang="it"`` got Spanish
ones, and all of them landed in the wrong language edition.  Here one cycle fetches such feeds
(documents written for this test from the posts of ``tests/data/language/labelled.jsonl``),
then the site is published and read back with feedparser, and the digest's editions are chosen.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest

from aggregator import config
from aggregator.config import EditionSettings
from aggregator.cycle import run_cycle
from aggregator.newsletter.editions import select_posts
from aggregator.publish.publisher import publish_all
from aggregator.store import open_store
from aggregator.store.protocol import Store
from tests.httpserver import FixtureServer
from tests.stores import at_head

NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
LABELLED = Path(__file__).resolve().parent / "data" / "language" / "labelled.jsonl"
# titles alone, too short for any detector to be sure of: only the source's setting can tell
GERMAN_TITLES = ("Haushalt 2025", "Neue Kitaplätze", "Stadtfest", "Bürgerhaushalt", "Mietspiegel")


def posts_in(language: str, count: int) -> list[dict[str, str]]:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    return [row for row in rows if row["language"] == language][:count]


def rss(slug: str, posts: list[dict[str, str]], language: str | None) -> bytes:
    items = "".join(
        f"<item><title>{escape(p['title'])}</title><link>https://{slug}.example/{i}</link>"
        f"<pubDate>Mon, {10 + i:02d} May 2026 09:00:00 +0000</pubDate>"
        f"<description>{escape(p['text'])}</description></item>"
        for i, p in enumerate(posts)
    )
    declared = f"<language>{language}</language>" if language else ""
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{slug}</title>'
        f"<link>https://{slug}.example/</link>{declared}{items}</channel></rss>"
    ).encode()


def atom(slug: str, posts: list[dict[str, str]], language: str) -> bytes:
    entries = "".join(
        f"<entry><title>{escape(p['title'])}</title><id>tag:{slug}.example,2026:{i}</id>"
        f'<link href="https://{slug}.example/{i}"/>'
        f"<updated>2026-05-{10 + i:02d}T09:00:00Z</updated>"
        f"<summary>{escape(p['text'])}</summary></entry>"
        for i, p in enumerate(posts)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        f'xml:lang="{language}"><title>{slug}</title><id>tag:{slug}.example,2026:feed</id>'
        f"<updated>2026-05-31T09:00:00Z</updated>{entries}</feed>"
    ).encode()


SOURCES = {
    # id: (path, language setting or None, content type)
    "lisboa": ("/lisboa.xml", None, "application/rss+xml"),  # declares pt-BR
    "porto": ("/porto.xml", None, "application/rss+xml"),  # declares nothing
    "stadt": ("/stadt.xml", "de", "application/rss+xml"),  # declares nothing
    "comune": ("/comune.atom", None, "application/atom+xml"),  # xml:lang="it"
    "member": ("/member.xml", "en", "application/rss+xml"),  # English, the site's language
}


def serve(server: FixtureServer) -> None:
    german = posts_in("de", 10) + [{"title": t, "text": ""} for t in GERMAN_TITLES]
    bodies = {
        "lisboa": rss("lisboa", posts_in("pt", 8), "pt-BR"),
        "porto": rss("porto", posts_in("pt", 16)[8:], None),
        "stadt": rss("stadt", german, None),
        "comune": atom("comune", posts_in("it", 8), "it"),
        "member": rss("member", posts_in("en", 4), "en-GB"),
    }
    for sid, (path, _, ctype) in SOURCES.items():
        server.route(path, body=bodies[sid], headers={"Content-Type": ctype})


def write_config(tmp_path: Path, server: FixtureServer) -> Path:
    lines = [
        "site: {title: Network, base_url: 'https://agg.example/', languages: [en, fr, es]}",
        f"fetch: {{allow_private: ['{server.hostport}']}}",
        "sources:",
    ]
    for sid, (path, language, _) in SOURCES.items():
        setting = f", language: {language}" if language else ""
        lines.append(
            f"  - {{id: {sid}, name: {sid}, organisation: {sid}, url: '{server.url(path)}'"
            f"{setting}}}"
        )
    target = tmp_path / "feeds.yaml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[config.Settings, Store]]:
    server = FixtureServer().start()
    try:
        serve(server)
        settings = config.load(write_config(tmp_path_factory.mktemp("site"), server))
        store = open_store(at_head(settings.storage_url))
        report = run_cycle(settings, store, clock=lambda: NOW, workers=1)
        assert [o.error for o in report.outcomes] == [None] * len(SOURCES)
        publish_all(store, settings, NOW)
        yield settings, store
        store.close()
    finally:
        server.stop()


def languages_of(store: Store, source_id: str) -> Counter[str]:
    return Counter(p.language for p in store.recent_posts(500) if p.source_id == source_id)


def test_portuguese_posts_stay_portuguese(site: tuple[config.Settings, Store]) -> None:
    _, store = site
    assert languages_of(store, "lisboa") == {"pt": 8}  # declared pt-BR
    assert languages_of(store, "porto") == {"pt": 8}  # declared nothing: detected


def test_a_source_configured_in_german_gets_german_posts(
    site: tuple[config.Settings, Store],
) -> None:
    _, store = site
    assert languages_of(store, "stadt") == {"de": 10 + len(GERMAN_TITLES)}


def test_a_feed_declaring_italian_gets_italian_posts(site: tuple[config.Settings, Store]) -> None:
    _, store = site
    assert languages_of(store, "comune") == {"it": 8}


def test_the_sites_own_language_is_unchanged(site: tuple[config.Settings, Store]) -> None:
    _, store = site
    assert languages_of(store, "member") == {"en": 4}


def entries(settings: config.Settings, name: str) -> dict[str, str]:
    """Entry title -> its language (the entry's ``xml:lang``), as a feed reader reads ``name``."""
    parsed = feedparser.parse((settings.output_dir / name).read_bytes())
    assert not parsed.bozo, parsed.get("bozo_exception")
    return {e.title: e.title_detail.language for e in parsed.entries}


def test_posts_in_other_languages_are_in_the_combined_feed_with_their_tag(
    site: tuple[config.Settings, Store],
) -> None:
    settings, _ = site
    combined = Counter(entries(settings, "feed.atom").values())
    assert combined == {"pt": 16, "de": 15, "it": 8, "en": 4}


def test_posts_in_other_languages_are_in_no_language_edition(
    site: tuple[config.Settings, Store],
) -> None:
    settings, _ = site
    assert Counter(entries(settings, "feed-en.atom").values()) == {"en": 4}
    assert entries(settings, "feed-fr.atom") == {}
    assert entries(settings, "feed-es.atom") == {}
    assert not (settings.output_dir / "feed-pt.atom").exists()


def test_the_digest_editions_choose_posts_by_their_true_language(
    site: tuple[config.Settings, Store],
) -> None:
    _, store = site

    def chosen(language: str | None) -> Counter[str]:
        edition = EditionSettings(name=f"weekly-{language or 'all'}", language=language)
        return Counter(p.language for p in select_posts(store, edition, None, NOW).posts)

    assert chosen("en") == {"en": 4}
    assert chosen("es") == {}
    assert chosen(None) == {"pt": 16, "de": 15, "it": 8, "en": 4}

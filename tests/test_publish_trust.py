"""What subscribers' readers see (issue 13, points 6 and 14 to 18), through the real pipeline.

Member feeds are served by a real HTTP server on 127.0.0.1; ``run_cycle`` fetches, parses,
normalises and stores them in a SQLite file; ``publish_all`` writes the outputs; feedparser,
lxml and json read them back as subscribers' software does.  The documents are made here, in
the shapes the issue describes: an undated backlog, entries without an author or with two, a
double-escaped feed title, publishers' tags that spell the network's topics, and seven hundred
posts whose dates do not follow the order they were first seen in.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import feedparser
import pytest
from lxml import etree, html

from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.publish.publisher import publish_all
from aggregator.publish.site import entry_id
from aggregator.store import open_store
from aggregator.store.protocol import Store
from tests.httpserver import FixtureServer
from tests.stores import at_head

A = "{http://www.w3.org/2005/Atom}"
DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"
BASE = "https://network.example/"
T0 = datetime(2026, 9, 14, 8, 0, tzinfo=UTC)

SENTENCES = {
    "en": "Local governments in {city} are expanding public transport, opening new green "
    "spaces and asking residents how the budget for the coming year should be spent.",
    "fr": "Les collectivités locales de {city} développent les transports publics, ouvrent "
    "de nouveaux espaces verts et demandent aux habitants comment dépenser le budget.",
    "es": "Los gobiernos locales de {city} amplían el transporte público, abren nuevos "
    "espacios verdes y preguntan a los vecinos cómo gastar el presupuesto del próximo año.",
}
CITIES = ("Bologna", "Sousse", "Lisbon", "Porto", "Gent", "Rabat", "Quito", "Lyon", "Izmir")


# --------------------------------------------------------------------------------------------
# Member documents


@dataclass
class Item:
    """One entry of a member's feed, as the member writes it."""

    title: str
    link: str
    language: str = "en"
    published: datetime | None = None
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    body: str = ""

    def text(self) -> str:
        city = CITIES[len(self.title) % len(CITIES)]
        return self.body or SENTENCES[self.language].format(city=city)


def rss(title: str, items: Sequence[Item], language: str = "en") -> bytes:
    """RSS 2.0; an item without a date has no pubDate, an author is a dc:creator."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{title}</title><link>https://member.example/</link>"
        f"<language>{language}</language>"
    ]
    for item in items:
        parts.append(f"<item><title>{escape(item.title)}</title><link>{item.link}</link>")
        if item.published:
            parts.append(f"<pubDate>{format_datetime(item.published)}</pubDate>")
        parts.extend(f"<dc:creator>{escape(a)}</dc:creator>" for a in item.authors)
        parts.extend(f"<category>{escape(t)}</category>" for t in item.tags)
        parts.append(f"<description>{escape('<p>' + item.text() + '</p>')}</description></item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def atom(title: str, items: Sequence[Item], language: str = "en") -> bytes:
    """Atom 1.0, with each entry's authors as separate atom:author elements.

    ``title`` is written as given: pass it escaped (or double-escaped) as the member does.
    """
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{language}">'
        f"<title>{title}</title><id>urn:member:{abs(hash(title))}</id>"
        "<updated>2026-09-01T00:00:00Z</updated>"
    ]
    for item in items:
        when = (item.published or T0).isoformat()
        parts.append(
            f"<entry><title>{escape(item.title)}</title><id>{item.link}</id>"
            f'<link href="{item.link}"/><published>{when}</published><updated>{when}</updated>'
        )
        parts.extend(f"<author><name>{escape(a)}</name></author>" for a in item.authors)
        parts.extend(f'<category term="{escape(t)}"/>' for t in item.tags)
        parts.append(f'<content type="html">{escape("<p>" + item.text() + "</p>")}</content>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")


# --------------------------------------------------------------------------------------------
# The network


@dataclass
class Member:
    id: str
    name: str
    organisation: str
    language: str = "en"
    homepage: str = ""


@dataclass
class Network:
    """A feeds.yaml over the loopback server, its store, and the published outputs."""

    tmp_path: Path
    server: FixtureServer
    members: list[Member]
    site: dict[str, Any] = field(default_factory=dict)
    topics: str = ""
    _store: Store | None = None

    @property
    def settings(self) -> config.Settings:
        lines = [
            "site:",
            f"  base_url: '{BASE}'",
            "  title: Network news",
            *(f"  {k}: {json.dumps(v)}" for k, v in self.site.items()),
            f"fetch: {{allow_private: ['{self.server.hostport}']}}",
            self.topics,
            "sources:",
        ]
        for m in self.members:
            lines.append(
                f"  - {{id: {m.id}, name: {json.dumps(m.name)}, organisation: "
                f"{json.dumps(m.organisation)}, url: '{self.server.url('/' + m.id)}', "
                f"language: {m.language}" + (f", homepage: '{m.homepage}'}}" if m.homepage else "}")
            )
        path = self.tmp_path / "feeds.yaml"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return config.load(path)

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(at_head(self.settings.storage_url))
        return self._store

    def serve(self, member_id: str, body: bytes, ctype: str = "application/rss+xml") -> None:
        self.server.route(f"/{member_id}", body, headers={"Content-Type": ctype})

    def cycle(self, when: datetime, only: Sequence[str] | None = None) -> None:
        report = run_cycle(self.settings, self.store, clock=lambda: when, only=only, workers=1)
        assert all(o.error is None for o in report.outcomes), report.outcomes

    def publish(self, when: datetime) -> Path:
        publish_all(self.store, self.settings, when)
        return self.settings.output_dir

    def stored_ids(self) -> set[str]:
        return {entry_id(p.id) for p in self.store.recent_posts(self.store.count_posts())}

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


@pytest.fixture
def network(tmp_path: Path, http_server: FixtureServer) -> Iterator[Network]:
    net = Network(tmp_path, http_server, [])
    yield net
    net.close()


def read(out: Path, url: str) -> bytes:
    assert url.startswith(BASE), url
    return (out / url.removeprefix(BASE)).read_bytes()


def link(doc: Any, rel: str) -> str | None:
    """A feed-level link of a feedparser result, by rel."""
    found = [ln["href"] for ln in doc.feed.get("links", []) if ln.get("rel") == rel]
    assert len(found) <= 1, found
    return found[0] if found else None


def from_source(entries: Sequence[Any], source_id: str) -> list[Any]:
    return [e for e in entries if e.source.id.endswith(f":sources/{source_id}")]


@functools.lru_cache(maxsize=32)
def parsed(document: bytes) -> Any:
    """feedparser's reading of ``document``: the archive walks read each unchanged archive
    page again (every walk, and forwards after backwards), and the same bytes read the same."""
    return feedparser.parse(document)


def walk_archives(out: Path) -> tuple[set[str], list[str]]:
    """(every entry id reachable from feed.atom, the archive pages visited, newest first)."""
    current = parsed(read(out, BASE + "feed.atom"))
    assert not current.bozo, current.get("bozo_exception")
    ids = {e.id for e in current.entries}
    pages: list[str] = []
    href = link(current, "prev-archive")
    while href:
        assert href not in pages, f"a loop at {href}"
        pages.append(href)
        page = parsed(read(out, href))
        assert not page.bozo, page.get("bozo_exception")
        ids |= {e.id for e in page.entries}
        href = link(page, "prev-archive")
    return ids, pages


# --------------------------------------------------------------------------------------------
# 6. An undated backlog does not take over the shared editions


def test_an_undated_backlog_does_not_take_over_the_combined_feed(network: Network) -> None:
    network.members = [
        Member("steady", "Steady blog", "Steady City"),
        Member("newcomer", "Newcomer news", "Newcomer Region"),
    ]
    network.site = {"feed_entries": 40, "page_size": 10}
    network.topics = "topics: {resilience: [Resilience, Résilience]}"
    dated = [
        Item(
            f"Steady post {n}: resilient streets",
            f"https://steady.example/{n}",
            published=T0 - timedelta(hours=5 * n + 1),
            tags=("Resilience",),
        )
        for n in range(30)
    ]
    network.serve("steady", rss("Steady", dated))
    network.cycle(T0, only=["steady"])
    # a new member joins: its hundred entries carry no date at all
    backlog = [
        Item(
            f"Newcomer post {n}: resilient harbours",
            f"https://newcomer.example/{n}",
            tags=("Resilience",),
        )
        for n in range(100)
    ]
    network.serve("newcomer", rss("Newcomer", backlog))
    t1 = T0 + timedelta(hours=2)
    network.cycle(t1)
    out = network.publish(t1)

    for edition in ("feed.atom", "feed-en.atom", "topics/resilience.atom"):
        parsed = feedparser.parse((out / edition).read_bytes())
        assert not parsed.bozo, parsed.get("bozo_exception")
        assert len(from_source(parsed.entries, "newcomer")) == 5, edition
        assert len(from_source(parsed.entries, "steady")) == 30, edition  # nobody pushed out
    own = feedparser.parse((out / "sources/newcomer.atom").read_bytes())
    assert len(own.entries) == 40  # the source's own edition keeps its backlog (to its size)
    rss_items = feedparser.parse((out / "feed.rss").read_bytes()).entries
    assert sum("newcomer.example" in e.link for e in rss_items) == 5
    items = json.loads((out / "feed.json").read_text(encoding="utf-8"))["items"]
    assert sum(i["_source"]["id"] == "newcomer" for i in items) == 5
    page = html.fromstring((out / "index.html").read_bytes())
    assert sum("Newcomer post" in t for t in page.xpath("//h3/a/text()")) == 5

    # the rest of the backlog is in the archives, reachable from feed.atom
    reached, pages = walk_archives(out)
    assert pages
    assert reached == network.stored_ids()
    assert len(reached) == 130


# --------------------------------------------------------------------------------------------
# 14, 18. Every entry names an author; one RSS creator; the 1.0 author in JSON Feed

HOMEPAGE = "https://region.example/"


def _region(network: Network, name: str, organisation: str, feed_title: str) -> Path:
    """One Spanish member whose entries have no author, two authors, and one author."""
    network.members = [Member("region", name, organisation, "es", HOMEPAGE)]
    items = [
        Item("Nadie firma este artículo", HOMEPAGE + "1", "es", T0),
        Item(
            "Dos autoras firman este",
            HOMEPAGE + "2",
            "es",
            T0 - timedelta(hours=1),
            ("Ana Pérez", "Marta Gil"),
        ),
        Item("Una autora", HOMEPAGE + "3", "es", T0 - timedelta(hours=2), ("Eva Castro",)),
    ]
    network.serve("region", atom(feed_title, items, "es"), "application/atom+xml")
    network.cycle(T0)
    return network.publish(T0)


def test_every_entry_names_its_authors_or_its_organisation_in_every_format(
    network: Network,
) -> None:
    org = "Asociación de Municipios del Sur"
    out = _region(network, "Municipios del Sur", org, "Municipios del Sur")
    expected = {
        HOMEPAGE + "1": [(org, HOMEPAGE)],  # nobody signed it: the member organisation did
        HOMEPAGE + "2": [("Ana Pérez", None), ("Marta Gil", None)],
        HOMEPAGE + "3": [("Eva Castro", None)],
    }

    # Atom: an atom:author in every entry, never left to the feed's (the network's)
    data = (out / "feed.atom").read_bytes()
    for entry in etree.fromstring(data).findall(f"{A}entry"):
        href = entry.find(f"{A}link[@rel='alternate']").get("href")
        people = [
            (a.findtext(f"{A}name"), a.findtext(f"{A}uri")) for a in entry.findall(f"{A}author")
        ]
        assert people == expected[href]
    parsed = feedparser.parse(data)
    assert {e.link: [a.name for a in e.authors] for e in parsed.entries} == {
        href: [name for name, _ in people] for href, people in expected.items()
    }
    assert {e.link: e.author for e in parsed.entries}[HOMEPAGE + "1"] == org

    # RSS: exactly one dc:creator per item, naming every author
    rss_data = (out / "feed.rss").read_bytes()
    creators = {
        item.findtext("link"): [c.text for c in item.findall(DC_CREATOR)]
        for item in etree.fromstring(rss_data).iter("item")
    }
    assert creators == {
        HOMEPAGE + "1": [org],
        HOMEPAGE + "2": ["Ana Pérez, Marta Gil"],
        HOMEPAGE + "3": ["Eva Castro"],
    }
    rss_authors = {e.link: e.author for e in feedparser.parse(rss_data).entries}
    assert rss_authors[HOMEPAGE + "2"] == "Ana Pérez, Marta Gil"

    # JSON Feed: authors (1.1) and author (1.0) on every item and on the feed
    doc = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert doc["author"]["name"] == doc["authors"][0]["name"] == "Network news"
    by_url = {i["url"]: i for i in doc["items"]}
    assert by_url[HOMEPAGE + "1"]["authors"] == [{"name": org, "url": HOMEPAGE}]
    assert by_url[HOMEPAGE + "1"]["author"] == {"name": org, "url": HOMEPAGE}
    assert [a["name"] for a in by_url[HOMEPAGE + "2"]["authors"]] == ["Ana Pérez", "Marta Gil"]
    assert by_url[HOMEPAGE + "2"]["author"] == {"name": "Ana Pérez, Marta Gil"}
    assert by_url[HOMEPAGE + "3"]["author"] == {"name": "Eva Castro"}

    # the pages name the organisation under every post, as the seeds do
    page = html.fromstring((out / "index.html").read_bytes())
    lines = [p.text_content() for p in page.xpath("//p[@class='source']")]
    assert len(lines) == 3 and all(org in line for line in lines)


# --------------------------------------------------------------------------------------------
# 15. Names escaped once


def test_feed_and_member_names_are_escaped_once(network: Network) -> None:
    """The member double-escapes its feed's title, as many CMSs do, and ``feeds add`` copied
    the title into feeds.yaml: subscribers read ``Región & Municipios``."""
    out = _region(
        network,
        "Región &amp; Municipios",
        "Región &amp; Municipios asociados",
        "Región &amp;amp; Municipios",
    )
    name = "Región & Municipios"
    data = (out / "feed.atom").read_bytes()
    root = etree.fromstring(data)
    assert {e.findtext(f"{A}source/{A}title") for e in root.findall(f"{A}entry")} == {name}
    assert "Región &amp; Municipios".encode() in data and b"&amp;amp;" not in data
    assert {e.source.title for e in feedparser.parse(data).entries} == {name}
    edition = feedparser.parse((out / "sources/region.atom").read_bytes())
    assert edition.feed.title == f"Network news: {name}"

    rss_data = (out / "feed.rss").read_bytes()
    assert {i.findtext("source") for i in etree.fromstring(rss_data).iter("item")} == {name}
    assert b"&amp;amp;" not in rss_data
    doc = json.loads((out / "feed.json").read_text(encoding="utf-8"))
    assert {i["_source"]["title"] for i in doc["items"]} == {name}
    assert {i["author"]["name"] for i in doc["items"]} >= {f"{name} asociados"}
    opml = etree.fromstring((out / "sources.opml").read_bytes())
    assert [o.get("text") for o in opml.iter("outline")] == [name]
    page = html.fromstring((out / "index.html").read_bytes())
    lines = [p.text_content() for p in page.xpath("//p[@class='source']")]
    assert lines and all(f"{name} asociados ({name})" in line for line in lines), lines


# --------------------------------------------------------------------------------------------
# 17. One category per topic, in the post's language, the label as the term


TOPICS = (
    "topics:\n"
    "  resilience: [Résilience, Resiliencia, Resilience]\n"
    "  migration: [Migration, Migración]"
)


def _tagged_members(network: Network) -> None:
    network.members = [
        Member("en-city", "English city", "English City", "en"),
        Member("fr-ville", "Ville française", "Ville", "fr"),
        Member("es-ciudad", "Ciudad española", "Ciudad", "es"),
    ]
    # members tag in several languages, the English one in French and Spanish only, as in the
    # issue ("an English post shows Résilience"); its words say "resilience"
    english = "How {city} builds local resilience: residents map flood risks street by street."
    spellings = {
        "en-city": ("en", ("Résilience", "Resiliencia", "Migration", "Migration", "Urban design")),
        "fr-ville": ("fr", ("Résilience", "Resiliencia")),
        "es-ciudad": ("es", ("Resiliencia", "Résilience", "Migración")),
    }
    for n, (member, (lang, tags)) in enumerate(spellings.items()):
        items = [
            Item(
                f"{member} story {k}",
                f"https://{member}.example/{k}",
                lang,
                T0 - timedelta(hours=3 * k + n),
                ("Someone",),
                tags,
                english.format(city=CITIES[k]) if lang == "en" else "",
            )
            for k in range(3)
        ]
        network.serve(member, rss(member, items, lang))


def _atom_categories(path: Path) -> dict[str, list[tuple[str | None, ...]]]:
    """Each entry's categories by its link: (term, scheme, label)."""
    root = etree.fromstring(path.read_bytes())
    return {
        e.find(f"{A}link[@rel='alternate']").get("href"): [
            (c.get("term"), c.get("scheme"), c.get("label")) for c in e.findall(f"{A}category")
        ]
        for e in root.findall(f"{A}entry")
    }


def test_one_category_per_topic_labelled_in_the_posts_language(network: Network) -> None:
    _tagged_members(network)
    network.topics = TOPICS
    network.cycle(T0)
    out = network.publish(T0)
    resilience = BASE + "topics/resilience"
    migration = BASE + "topics/migration"
    expected = {
        "en-city": [
            ("Resilience", resilience, "Resilience"),
            ("Migration", migration, "Migration"),
            ("Urban design", None, "Urban design"),
        ],
        # a member that tags in two languages, its own first: the first spelling counts
        "fr-ville": [("Résilience", resilience, "Résilience")],
        "es-ciudad": [
            ("Resiliencia", resilience, "Resiliencia"),
            ("Migración", migration, "Migración"),
        ],
    }
    for document in ("feed.atom", "topics/resilience.atom", "sources/es-ciudad.atom"):
        for href, cats in _atom_categories(out / document).items():
            member = href.split("//")[1].split(".")[0]
            assert cats == expected[member], (document, href)
    for lang, member in (("en", "en-city"), ("fr", "fr-ville"), ("es", "es-ciudad")):
        cats = _atom_categories(out / f"feed-{lang}.atom")
        assert set(map(tuple, cats.values())) == {tuple(expected[member])}, lang

    # what readers show: the label, once
    parsed = feedparser.parse((out / "feed.atom").read_bytes())
    terms = {e.link.split("//")[1].split(".")[0]: [t.term for t in e.tags] for e in parsed.entries}
    assert terms["en-city"] == ["Resilience", "Migration", "Urban design"]
    assert terms["fr-ville"] == ["Résilience"]
    rss_root = etree.fromstring((out / "feed.rss").read_bytes())
    for item in rss_root.iter("item"):
        member = item.findtext("link").split("//")[1].split(".")[0]
        assert [c.text for c in item.findall("category")] == [c[2] for c in expected[member]]
    items = json.loads((out / "feed.json").read_text(encoding="utf-8"))["items"]
    for item in items:
        member = item["url"].split("//")[1].split(".")[0]
        assert item["tags"] == [c[2] for c in expected[member]]


def test_labels_declared_per_language_win_over_what_the_posts_suggest(network: Network) -> None:
    _tagged_members(network)
    network.topics = (
        "topics:\n"
        "  resilience: {en: Resilience, fr: Résilience, es: [Resiliencia, Resiliencias]}\n"
        "  migration: [Migration, Migración]"
    )
    network.serve(
        "es-ciudad",
        rss(
            "es",
            [
                Item("Una historia", "https://es-ciudad.example/1", "es", T0, (), ("Résilience",)),
                Item(
                    "Otra historia", "https://es-ciudad.example/2", "es", T0, (), ("Resiliencias",)
                ),
            ],
            "es",
        ),
    )
    network.cycle(T0)
    out = network.publish(T0)
    by_member: dict[str, set[str]] = {}
    for href, cats in _atom_categories(out / "feed.atom").items():
        by_member.setdefault(href.split("//")[1].split(".")[0], set()).update(
            c[0] for c in cats if c[1]
        )
    # the Spanish member tagged in French: its readers still see the Spanish label
    assert by_member == {
        "en-city": {"Resilience", "Migration"},
        "fr-ville": {"Résilience"},
        "es-ciudad": {"Resiliencia"},
    }


# --------------------------------------------------------------------------------------------
# 16. Every post reachable through RFC 5005 links, both ways


def _steady_items(member: str, count: int, newest: datetime, step_h: int) -> list[Item]:
    return [
        Item(
            f"{member} report {k}: street by street",
            f"https://{member}.example/{k}",
            published=newest - timedelta(hours=step_h * k),
        )
        for k in range(count)
    ]


def _fresh(member: str, count: int, after: datetime) -> list[Item]:
    return [
        Item(
            f"{member} fresh {k}: new today",
            f"https://{member}.example/fresh/{after:%H}/{k}",
            published=after + timedelta(minutes=k),
        )
        for k in range(count)
    ]


def test_every_post_is_reachable_from_the_feed_and_pages_link_both_ways(
    network: Network,
) -> None:
    early = [f"m{i}" for i in range(7)]
    network.members = [Member(m, f"Member {m}", f"Organisation {m}") for m in early]
    network.members += [Member("late", "Late", "Late org"), Member("later", "Later", "Later org")]
    backlog = {m: _steady_items(m, 100, T0 - timedelta(hours=i), 7) for i, m in enumerate(early)}
    for member, items in backlog.items():
        network.serve(member, rss(member, items))
    network.cycle(T0, only=early)  # 700 posts: seven complete pages of 100
    # new posts dated before the newest hundred: first seen last, dated early (the 17)
    network.serve("late", rss("late", _steady_items("late", 17, T0 - timedelta(days=400), 5)))
    network.cycle(T0 + timedelta(hours=1), only=["late"])
    out = network.publish(T0 + timedelta(hours=1))
    reached, pages = walk_archives(out)
    assert len(network.stored_ids()) == 717
    assert reached == network.stored_ids()  # none of the 17 is lost
    assert len(pages) == 8  # they could not wait in feed.atom: a page of their own

    # a mixed arrival: 90 old-dated posts beside 5 fresh ones, then 3 fresh ones alone
    t2, t3 = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    network.serve("later", rss("later", _steady_items("later", 90, T0 - timedelta(days=300), 3)))
    network.serve("m0", rss("m0", _fresh("m0", 5, t2) + backlog["m0"]))
    network.cycle(t2, only=["later", "m0"])
    network.publish(t2)
    network.serve("m1", rss("m1", _fresh("m1", 3, t3) + backlog["m1"]))
    network.cycle(t3, only=["m1"])
    out = network.publish(t3)
    reached, pages = walk_archives(out)
    assert len(reached) == 815 and reached == network.stored_ids()
    assert pages == [BASE + f"archive/{n}.atom" for n in range(9, 0, -1)]
    current = parsed((out / "feed.atom").read_bytes())
    assert len(current.entries) == 100  # the newest hundred by date, no more
    assert sum("/fresh/" in e.link for e in current.entries) == 8

    # and forward: from the oldest page, next-archive links walk back to the newest, then current
    href: str | None = pages[-1]
    forward = []
    while href:
        forward.append(href)
        page = parsed(read(out, href))
        assert link(page, "current") == BASE + "feed.atom"
        following = link(page, "next-archive")
        if following:
            assert link(parsed(read(out, following)), "prev-archive") == href
        href = following
    assert forward == list(reversed(pages))

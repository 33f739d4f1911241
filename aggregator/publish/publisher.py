"""Write what subscribers read: the combined feeds, their editions, archives, OPML and pages.

This is the only module that imports feedgen.  Everything it writes is a pure function of the
store's contents and the settings, so that publishing twice with nothing new produces the same
bytes and ``write_atomic`` leaves every file alone (stable ETags, 304s for feed readers):

* a feed's ``updated`` is its newest entry's, never the clock;
* entry ids are derived from ``Post.id`` (``urn:uuid:`` v5), not from URLs that may move;
* RFC 5005 archive pages are cut in first-seen order, which only ever grows at the end, and a
  complete page is written once and never again.

Text from members' feeds can hold characters XML cannot carry (ESC, BEL, lone surrogates);
feedgen raises on them, so every string goes through ``clean_text`` first.

Cost (issue 5: every output from 10,000 posts in under 2 s): feedgen writes each document's
feed element, but each post's atom:entry is serialized once per publish (``entry_xml``) and
spliced into every document that carries it; outputs whose inputs did not change are not
rebuilt (``_Memo``); files are written through ``BatchWriter``, whose fsyncs overlap the
building of the next document.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from feedgen.ext.base import BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.config import Settings
from aggregator.i18n import TEMPLATES_DIR, catalog_files
from aggregator.models import Post, Source, SourceState
from aggregator.publish.outputs import BatchWriter, clean_line, clean_text, write_atomic
from aggregator.publish.pages import (
    FeedLink,
    base_language,
    page_sets,
    render_page_set,
    set_posts,
)
from aggregator.store.protocol import Store

FH_NS = "http://purl.org/syndication/history/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"
JSON_TYPE = "application/feed+json"
GENERATOR_NAME = "localgov-aggregator"
GENERATOR_URI = "https://github.com/localgov-aggregator/localgov-aggregator"
# Fixed forever: entry ids are uuid5(ENTRY_NAMESPACE, Post.id); changing it re-announces every post.
ENTRY_NAMESPACE = uuid.UUID("6f1d2f0e-8d5b-4f0c-9a51-3c1b8f0b7e21")
_NAMESPACE_BYTES = ENTRY_NAMESPACE.bytes
_LANG_TAG = re.compile(r"^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$")  # RFC 4287's atomLanguageTag
ARCHIVE_MARKER = "archive/.page-size"
ARCHIVE_INDEX = ".archive-index.json"  # where each page ends, so retention cannot shift them
MEMO_FILE = ".publish-memo.json"
# the code whose changes must rebuild every output (the templates are hashed separately)
_PACKAGE = Path(__file__).resolve().parent
# The code that shapes an output: a change to it rewrites every file (see ``_salt``).
_CODE_FILES = (
    *sorted(_PACKAGE.glob("*.py")),
    *sorted((_PACKAGE.parent / "i18n").glob("*.py")),
    *catalog_files(),  # a reworded translation rewrites the pages that show it
)
_ARCHIVE_FILE = re.compile(r"^[0-9]+\.atom$")
_PAGE_FILE = re.compile(r"^page-[0-9]+\.html$")
_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
log = logging.getLogger("aggregator.publish")


# --------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True, slots=True)
class PublishReport:
    """What one publish did; ``changed_feeds`` are the public URLs to ping a WebSub hub with."""

    written: tuple[Path, ...]
    unchanged: tuple[Path, ...]
    posts: int  # posts in the store
    feed_entries: int  # entries in feed.atom
    archives: int  # complete RFC 5005 archive pages
    changed_feeds: tuple[str, ...] = ()
    removed: tuple[Path, ...] = ()  # listing pages past the last one (fewer posts, bigger pages)

    @property
    def changed(self) -> bool:
        return bool(self.written)


# --------------------------------------------------------------------------------------------
# Text hygiene


def safe_url(value: str | None) -> str | None:
    """Only absolute http(s) URLs are republished; anything else (javascript:, file:) is dropped."""
    url = clean_line(value)
    head = url[:8].lower()
    for prefix in ("https://", "http://"):
        if head.startswith(prefix):
            rest = url[len(prefix) :]
            return url if rest and rest[0] not in "/?#" else None  # a host must follow
    return None


def entry_id(post_id: str) -> str:
    """A stable URN for a post, independent of the site's domain and of the member's URLs.

    ``uuid.uuid5(ENTRY_NAMESPACE, post_id)`` spelled out (RFC 4122 §4.3): the same value at a
    fifth of the cost, which counts at 10,000 entries a publish.
    """
    name = _NAMESPACE_BYTES + post_id.encode("utf-8")
    raw = bytearray(hashlib.sha1(name, usedforsecurity=False).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return _utc(value).isoformat()


# --------------------------------------------------------------------------------------------
# The site: what every output needs, computed once per publish


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed edition: where it lives, what it is called, which posts it carries."""

    path: str  # relative to output_dir, e.g. "topics/water.atom"
    title: str
    language: str | None = None  # xml:lang of the feed element
    html_path: str = ""  # the page this feed is the alternate of (relative to base_url)
    kind: str = "all"  # "all", "language", "topic" or "source"
    key: str = ""  # the language, topic key or source id

    def selects(self, post: Post) -> bool:
        if self.kind == "language":
            return base_language(post.language) == base_language(self.key)
        if self.kind == "topic":
            return self.key in post.topics
        if self.kind == "source":
            return post.source_id == self.key
        return True


@dataclass(frozen=True)
class _Site:
    settings: Settings
    sources: Mapping[str, Source]
    states: Mapping[str, SourceState]
    posts: Sequence[Post]  # newest first by (published, id)
    now: datetime
    newest_updated: datetime  # of any post; the clock only when the store is empty
    # per-publish caches: a post appears in up to five editions, a source in many entries
    _entries: dict[str, bytes] = field(default_factory=dict)
    _sources: dict[str, dict[str, str]] = field(default_factory=dict)
    _source_xml: dict[str, str] = field(default_factory=dict)
    _digests: dict[str, str] = field(default_factory=dict)
    _categories: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return self.settings.site.base_url

    def url(self, path: str) -> str:
        return self.base + path

    def topic_label(self, key: str) -> str:
        labels = self.settings.topics.get(key) or []
        return clean_line(labels[0]) if labels else key

    def organisation(self, source_id: str) -> tuple[str, str]:
        """(name, homepage or "") of the member organisation behind a source."""
        source = self.sources.get(source_id)
        if source is None:
            return clean_line(source_id), ""
        name = clean_line(source.organisation) or clean_line(source.name) or clean_line(source_id)
        return name, safe_url(source.homepage) or ""


def _load_site(store: Store, settings: Settings, now: datetime) -> _Site:
    total = store.count_posts()
    posts = store.recent_posts(total) if total > 0 else []
    posts = sorted(posts, key=lambda p: (_utc(p.published), p.id), reverse=True)
    overall = max((_utc(p.updated) for p in posts), default=_utc(now))
    return _Site(settings, store.get_sources(), store.get_states(), posts, now, overall)


# --------------------------------------------------------------------------------------------
# feedgen extension: what feedgen cannot write by itself


class _FeedExtras(BaseExtension):  # type: ignore[misc]
    """fh:archive on archive pages (RFC 5005) and WebSub hub links in RSS."""

    def __init__(self) -> None:
        self.archive = False
        self.hub: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"fh": FH_NS} if self.archive else {}

    def extend_atom(self, feed: etree._Element) -> etree._Element:
        if self.archive:
            etree.SubElement(feed, f"{{{FH_NS}}}archive")
        return feed

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed.find("channel")
        if self.hub and channel is not None:
            etree.SubElement(channel, "{http://www.w3.org/2005/Atom}link", href=self.hub, rel="hub")
        return feed


# --------------------------------------------------------------------------------------------
# Atom entries


def _esc(text: str) -> str:
    """Escape character data; a CR is kept as a reference (a parser would turn it into LF)."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("\r", "&#13;") if "\r" in text else text


def _attr(value: str) -> str:
    """Escape an attribute value (quoted with "), whitespace kept through normalisation."""
    value = _esc(value).replace('"', "&quot;")
    if "\n" in value or "\t" in value:
        value = value.replace("\n", "&#10;").replace("\t", "&#9;")
    return value


def _attrs(values: Mapping[str, str]) -> str:
    return "".join(f' {name}="{_attr(value)}"' for name, value in values.items())


def source_xml(info: Mapping[str, str]) -> str:
    """atom:source up to its updated (added per entry): written once per source per publish."""
    lines = [
        "    <source>\n",
        f"      <id>{_esc(info['id'])}</id>\n",
        f"      <title>{_esc(info['title'])}</title>\n",
    ]
    if info.get("alternate"):
        lines.append(f'      <link rel="alternate" href="{_attr(info["alternate"])}"/>\n')
    # no type: the member's feed may be RSS, Atom or JSON, and a wrong hint is worse than none
    lines.append(f'      <link rel="self" href="{_attr(info["self"])}"/>\n')
    return "".join(lines)


def source_id_uri(base_url: str, source_id: str) -> str:
    """A ``tag:`` URI naming a member's feed for good (RFC 4151).

    The member's fetch URL is no id: it moves (301s, a new CMS) and in the demo it even holds
    a random port, and readers group entries by atom:source/id.  The site's host and the
    operator's source id are what stay put; the date is fixed forever, as the RFC requires of
    one minting authority.
    """
    host = (urlsplit(base_url).hostname or "localhost").lower()
    return f"tag:{host},2026:sources/{quote(source_id, safe='-_.')}"


def _source_info(site: _Site, source_id: str) -> dict[str, str]:
    cached = site._sources.get(source_id)
    if cached is None:
        cached = site._sources[source_id] = _build_source_info(site, source_id)
    return cached


def _source_template(site: _Site, source_id: str) -> str:
    cached = site._source_xml.get(source_id)
    if cached is None:
        cached = site._source_xml[source_id] = source_xml(_source_info(site, source_id))
    return cached


def _build_source_info(site: _Site, source_id: str) -> dict[str, str]:
    source = site.sources.get(source_id)
    state = site.states.get(source_id)
    title = (state.title if state and state.title else None) or (source.name if source else "")
    feed_url = source.url if source else (state.url if state else "")
    alternate = safe_url(source.homepage if source else None) or safe_url(
        state.link if state else None
    )
    return {
        "id": source_id_uri(site.base, source_id),
        "title": clean_line(title) or clean_line(source_id),
        "alternate": alternate or "",
        "self": safe_url(feed_url) or site.url(f"sources/{source_id}.atom"),
    }


def _post_title(post: Post) -> str:
    title = clean_line(post.title)
    if title:
        return title
    return clean_line(post.excerpt)[:80] or clean_line(post.link) or "…"


def _categories(site: _Site, post: Post) -> list[dict[str, str]]:
    cats = [{"term": t, "label": t} for t in (clean_line(x) for x in post.tags) if t]
    scheme = site.url("topics/")
    for key in post.topics:
        term = clean_line(key)
        if term:
            cats.append({"term": term, "scheme": scheme, "label": site.topic_label(key)})
    return cats


def _categories_xml(site: _Site, post: Post) -> str:
    """The entry's atom:category lines; posts share label sets, so each set is written once."""
    key = (post.tags, post.topics)
    found = site._categories.get(key)
    if found is None:
        cats = _categories(site, post)
        found = site._categories[key] = "".join(f"    <category{_attrs(c)}/>\n" for c in cats)
    return found


def _also_from(site: _Site, post: Post) -> list[tuple[str, str]]:
    """(organisation, homepage) of every *other* member that published the same story."""
    if not post.also_from:
        return []
    own = site.organisation(post.source_id)[0]
    found: dict[str, str] = {}
    for sid in post.also_from:
        if sid == post.source_id:
            continue
        name, homepage = site.organisation(sid)
        if name and name != own and name not in found:
            found[name] = homepage
    return list(found.items())


def _entry_bytes(site: _Site, post: Post) -> bytes:
    """One post's atom:entry, serialized once per publish and spliced into every document."""
    cached = site._entries.get(post.id)
    if cached is None:
        cached = site._entries[post.id] = entry_xml(site, post).encode("utf-8")
    return cached


def _person(tag: str, name: str, uri: str | None) -> str:
    uri_line = f"      <uri>{_esc(uri)}</uri>\n" if uri else ""
    return f"    <{tag}>\n      <name>{_esc(name)}</name>\n{uri_line}    </{tag}>\n"


def entry_xml(site: _Site, post: Post) -> str:
    """One post as an un-namespaced atom:entry, as feedgen places entries under its root.

    Written as text, not with feedgen's FeedEntry or lxml: a first publish puts 10,000 posts
    into the archives, FeedEntry cost ~200 µs a post (and dropped link rel/type/hreflang and
    most of atom:source, which had to be patched back) and an lxml tree ~100 µs.  Every value
    is cleaned (``clean_text``) and escaped here; the tests parse every document with lxml and
    validate it against RFC 4287's schema.  feedgen still writes every document around them.
    """
    language = clean_line(post.language)
    head = (
        f'  <entry xml:lang="{_attr(language)}">\n' if _LANG_TAG.match(language) else "  <entry>\n"
    )
    title = _post_title(post)
    updated = _iso(post.updated)
    parts = [
        head,
        f"    <id>{entry_id(post.id)}</id>\n",
        f"    <title>{_esc(title)}</title>\n",
        f"    <updated>{updated}</updated>\n",
    ]
    for author in post.authors:
        name = clean_line(author.name)
        if name:
            parts.append(_person("author", name, safe_url(author.uri)))
    link = safe_url(post.link)
    summary = clean_text(post.excerpt).strip()
    content = clean_text(post.content_html).strip()
    if content:
        parts.append(f'    <content type="html">{_esc(content)}</content>\n')
    elif not link:  # Atom wants content or an alternate link
        parts.append(f'    <content type="text">{_esc(summary or title)}</content>\n')
    if link:
        parts.append(f'    <link rel="alternate" type="text/html" href="{_attr(link)}"/>\n')
    for tr in post.translations:
        href = safe_url(tr.href)
        lang = clean_line(tr.hreflang)
        if href and lang and _LANG_TAG.match(lang) and base_language(lang) != post.language:
            # "related", not "alternate": readers take the first or the last alternate as
            # the entry's link (feedparser the last), and a translation must not win that
            parts.append(
                f'    <link rel="related" type="text/html" href="{_attr(href)}"'
                f' hreflang="{_attr(lang)}"/>\n'
            )
    if summary:
        parts.append(f'    <summary type="text">{_esc(summary)}</summary>\n')
    parts.append(_categories_xml(site, post))
    # Other members that published the same story: atom:contributor is what RFC 4287 has for
    # "others who took part", and readers that list people (feedparser's ``contributors``)
    # show them; the pages say the same in words.
    parts.extend(_person("contributor", name, home) for name, home in _also_from(site, post))
    parts.append(f"    <published>{_iso(post.published)}</published>\n")
    # The source feed was updated at least when this entry was; the entry's own time keeps the
    # element stable, where the source's newest post would rewrite every edition holding any
    # of its posts whenever it publishes.
    parts.append(_source_template(site, post.source_id))
    parts.append(f"      <updated>{updated}</updated>\n    </source>\n  </entry>\n")
    return "".join(parts)


def _feed_generator(site: _Site, spec: FeedSpec, updated: datetime) -> FeedGenerator:
    settings = site.settings.site
    fg = FeedGenerator()
    fg.id(site.url(spec.path))
    fg.title(clean_line(spec.title))
    if settings.description:
        fg.subtitle(clean_line(settings.description))
    fg.author({"name": clean_line(settings.author or settings.title), "uri": site.base})
    fg.link(href=site.url(spec.path), rel="self", type=ATOM_TYPE)
    fg.link(href=site.url(spec.html_path), rel="alternate", type="text/html")
    if settings.hub:
        fg.link(href=settings.hub, rel="hub")
    fg.updated(updated)
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    if settings.icon:
        fg.icon(urljoin(site.base, settings.icon))
    if settings.logo:
        fg.logo(urljoin(site.base, settings.logo))
    if spec.language:
        fg.language(spec.language)
    return fg


def atom_document(
    site: _Site,
    spec: FeedSpec,
    posts: Sequence[Post],
    *,
    archive: bool = False,
    prev_archive: str | None = None,
    current: str | None = None,
) -> bytes:
    """Serialize one Atom document; ``posts`` are written in the given order.

    feedgen writes the feed element and everything in it but the entries; the entries are
    serialized once per publish (``_entry_bytes``) and spliced in before ``</feed>``.  A post
    sits in up to six documents (combined, language, topic, source, archive, …), so this
    turns six tree copies and serializations into one.  The splice is safe because entries
    are un-namespaced elements, exactly as feedgen would have placed them under the
    ``xmlns``-carrying root, and carry no namespace prefix of their own but ``xml:``.
    """
    updated = max((_utc(p.updated) for p in posts), default=site.newest_updated)
    fg = _feed_generator(site, spec, updated)
    if prev_archive:
        fg.link(href=site.url(prev_archive), rel="prev-archive", type=ATOM_TYPE)
    if current:
        fg.link(href=site.url(current), rel="current", type=ATOM_TYPE)
    fg.register_extension("lgfeed", _FeedExtras, None, atom=True, rss=False)
    fg.lgfeed.archive = archive
    head: bytes = fg.atom_str(pretty=True)
    cut = head.rindex(b"</feed>")
    return b"".join([head[:cut], *(_entry_bytes(site, p) for p in posts), head[cut:]])


# --------------------------------------------------------------------------------------------
# Editions


def feed_specs(site: _Site) -> list[FeedSpec]:
    """Every Atom edition, in a stable order: combined, languages, topics, sources."""
    title = site.settings.site.title
    specs = [FeedSpec("feed.atom", title)]
    for lang in site.settings.site.languages:
        if _SAFE_NAME.match(lang):
            path = f"feed-{lang}.atom"
            specs.append(FeedSpec(path, f"{title} ({lang})", lang, f"{lang}/", "language", lang))
    topics = set(site.settings.topics) | {t for p in site.posts for t in p.topics}
    for key in sorted(t for t in topics if _SAFE_NAME.match(t)):
        label = f"{title}: {site.topic_label(key)}"
        specs.append(FeedSpec(f"topics/{key}.atom", label, kind="topic", key=key))
    for sid in sorted(s for s in site.sources if _SAFE_NAME.match(s)):
        label = f"{title}: {site.sources[sid].name}"
        specs.append(FeedSpec(f"sources/{sid}.atom", label, kind="source", key=sid))
    return specs


def _edition_key(kind: str, key: str) -> tuple[str, str]:
    return (kind, base_language(key) if kind == "language" else key)


def edition_posts(
    posts: Iterable[Post], specs: Sequence[FeedSpec], limit: int
) -> dict[str, list[Post]]:
    """The newest ``limit`` posts of every edition (by path), in one pass over ``posts``.

    Same choice as ``FeedSpec.selects`` applied edition by edition; asking each of ~60
    editions to scan 10,000 posts was a quarter of an unchanged publish.
    """
    lists: dict[tuple[str, str], list[Post]] = {}
    for spec in specs:
        lists.setdefault(_edition_key(spec.kind, spec.key), [])
    filling = dict(lists)
    for post in posts:
        if not filling:
            break
        keys = [("all", ""), ("language", base_language(post.language)), ("source", post.source_id)]
        keys.extend(("topic", t) for t in post.topics)
        for key in dict.fromkeys(keys):
            target = filling.get(key)
            if target is not None:
                target.append(post)
                if len(target) >= limit:
                    del filling[key]
    return {spec.path: lists[_edition_key(spec.kind, spec.key)] for spec in specs}


# --------------------------------------------------------------------------------------------
# RFC 5005 archives


ArchiveKey = tuple[datetime, str]  # a post's place in first-seen order: (first_seen, id)


def _archive_key(post: Post) -> ArchiveKey:
    return (_utc(post.first_seen), post.id)


def archive_pages(
    posts: Iterable[Post], size: int, ends: Sequence[ArchiveKey] = ()
) -> list[list[Post]]:
    """Complete pages of ``size`` posts in first-seen order (oldest page first).

    New posts are first seen *now*, after every stored one, so they only ever extend the tail:
    a complete page keeps its members for good.  ``ends`` are the last keys of the pages cut
    by earlier publishes: those pages keep their boundaries even when retention has since
    deleted their oldest posts (cutting afresh would shift every boundary, hide the newest
    existing page from the chain and never archive the posts the shift skipped); only the
    posts after the last end are cut into new pages.
    """
    ordered = sorted(posts, key=_archive_key)
    keys = [_archive_key(p) for p in ordered]
    pages: list[list[Post]] = []
    start = 0
    for end in ends:
        stop = bisect.bisect_right(keys, end, lo=start)
        pages.append(ordered[start:stop])
        start = stop
    tail = ordered[start:]
    pages.extend(tail[i * size : (i + 1) * size] for i in range(len(tail) // size))
    return pages


def _load_archive_ends(root: Path, size: int) -> list[ArchiveKey]:
    """The boundaries earlier publishes cut at this page size; [] when unknown or unusable."""
    try:
        data = json.loads((root / ARCHIVE_INDEX).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("size") != size:
            return []
        ends = [(_utc(datetime.fromisoformat(when)), str(pid)) for when, pid in data["ends"]]
    except (OSError, ValueError, TypeError, KeyError):
        return []
    return ends if ends == sorted(ends) else []


def _save_archive_ends(
    root: Path, size: int, ends: Sequence[ArchiveKey], pages: Sequence[Sequence[Post]]
) -> None:
    known = list(ends[: len(pages)])
    known += [_archive_key(page[-1]) for page in pages[len(known) :]]
    if not known:
        return
    data = {"size": size, "ends": [[when.isoformat(), pid] for when, pid in known]}
    write_atomic(root / ARCHIVE_INDEX, json.dumps(data).encode("utf-8"))


def archive_path(number: int) -> str:
    return f"archive/{number}.atom"


# --------------------------------------------------------------------------------------------
# RSS 2.0, JSON Feed 1.1, OPML 2.0


def rss_document(site: _Site, posts: Sequence[Post]) -> bytes:
    settings = site.settings.site
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("lgfeed", _FeedExtras, None, atom=False, rss=True)
    fg.lgfeed.hub = settings.hub
    fg.title(clean_line(settings.title))
    fg.description(clean_line(settings.description) or clean_line(settings.title))
    fg.link(href=site.url("feed.rss"), rel="self")
    fg.link(href=site.base, rel="alternate")  # feedgen uses the last link as <link>
    updated = max((_utc(p.updated) for p in posts), default=site.newest_updated)
    fg.lastBuildDate(updated)
    fg.pubDate(updated)
    fg.generator(GENERATOR_NAME, version=__version__, uri=GENERATOR_URI)
    if settings.logo:
        fg.image(urljoin(site.base, settings.logo), clean_line(settings.title), site.base)
    for post in posts:
        fe = fg.add_entry(order="append")
        fe.guid(entry_id(post.id), permalink=False)
        fe.title(_post_title(post))
        link = safe_url(post.link)
        if link:
            fe.link(href=link)
        fe.description(clean_text(post.excerpt).strip() or _post_title(post))
        content = clean_text(post.content_html).strip()
        if content:
            fe.content(content)
        fe.pubDate(_utc(post.published))
        for cat in _categories(site, post):
            fe.category(cat)
        names = [clean_line(a.name) for a in post.authors if clean_line(a.name)]
        if names:
            fe.dc.dc_creator(names)
        others = [name for name, _ in _also_from(site, post)]
        if others:
            fe.dc.dc_contributor(others)
        info = _source_info(site, post.source_id)
        fe.source(url=info["self"], title=info["title"])
    data: bytes = fg.rss_str(pretty=True)
    return data


def json_feed_document(site: _Site, posts: Sequence[Post]) -> bytes:
    settings = site.settings.site
    doc: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": clean_line(settings.title),
        "home_page_url": site.base,
        "feed_url": site.url("feed.json"),
        "description": clean_line(settings.description),
        "authors": [{"name": clean_line(settings.author or settings.title), "url": site.base}],
    }
    if settings.icon:
        doc["icon"] = urljoin(site.base, settings.icon)
    if settings.hub:
        doc["hubs"] = [{"type": "WebSub", "url": settings.hub}]
    doc["items"] = [_json_item(site, post) for post in posts]
    return (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def _json_item(site: _Site, post: Post) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id(post.id)}
    link = safe_url(post.link)
    if link:
        item["url"] = link
    item["title"] = _post_title(post)
    item["content_html"] = clean_text(post.content_html) or clean_text(post.excerpt)
    if post.excerpt:
        item["summary"] = clean_text(post.excerpt)
    image = safe_url(post.image)
    if image:
        item["image"] = image
    item["date_published"] = _iso(post.published)
    item["date_modified"] = _iso(post.updated)
    authors = [
        {"name": clean_line(a.name), **({"url": u} if (u := safe_url(a.uri)) else {})}
        for a in post.authors
        if clean_line(a.name)
    ]
    if authors:
        item["authors"] = authors
    tags = [c["label"] for c in _categories(site, post)]
    if tags:
        item["tags"] = list(dict.fromkeys(tags))
    if post.language:
        item["language"] = clean_line(post.language)
    info = _source_info(site, post.source_id)
    item["_source"] = {"id": post.source_id, "title": info["title"], "feed_url": info["self"]}
    others = [{"name": n, **({"url": h} if h else {})} for n, h in _also_from(site, post)]
    if others:
        item["_source"]["also_from"] = others
    return item


def opml_document(site: _Site) -> bytes:
    """Every configured, enabled source, so a reader can follow the members one by one."""
    settings = site.settings
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = clean_line(settings.site.title)
    etree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = etree.SubElement(root, "body")
    for source in sorted(settings.source_list(), key=lambda s: (s.organisation, s.name, s.id)):
        if not source.enabled:
            continue
        attrs = {
            "type": "rss",
            "text": clean_line(source.name),
            "title": clean_line(source.name),
            "xmlUrl": clean_line(source.url),
        }
        if source.homepage:
            attrs["htmlUrl"] = clean_line(source.homepage)
        attrs["language"] = source.language
        if source.tags:
            attrs["category"] = ",".join(clean_line(t).replace(",", " ") for t in source.tags)
        attrs["description"] = clean_line(source.organisation)
        etree.SubElement(body, "outline", attrs)
    data: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


# --------------------------------------------------------------------------------------------
# The entry point


@dataclass
class _Writer:
    """Every output file of one publish goes through here (atomic, change-only, batched)."""

    root: Path
    files: BatchWriter
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)

    def put(self, relative: str, data: bytes) -> bool:
        path = self.root / relative
        changed = self.files.put(path, data)
        (self.written if changed else self.unchanged).append(path)
        return changed

    def keep(self, relatives: Iterable[str]) -> None:
        self.unchanged.extend(self.root / r for r in relatives)


@dataclass
class _Memo:
    """What each output was last built from, so that an output whose inputs did not change is
    not even rebuilt (feedgen and jinja2 are most of a publish's cost).

    A fingerprint covers the output's posts (a digest of every field) and a salt over
    everything else its bytes depend on: the settings, the sources and their states, the
    templates and the code that writes them.  A file changed or deleted behind our back
    (size or mtime differ from what we wrote) is rebuilt.  Kept in a dotfile the server never
    serves; deleting it only costs one full rebuild.
    """

    root: Path
    salt: str
    entries: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, root: Path, salt: str) -> _Memo:
        try:
            data = json.loads((root / MEMO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(root, salt)
        if not isinstance(data, dict) or data.get("salt") != salt:
            return cls(root, salt)
        entries = data.get("outputs")
        return cls(root, salt, entries if isinstance(entries, dict) else {})

    def fingerprint(self, *parts: str) -> str:
        digest = hashlib.sha256(self.salt.encode())
        for part in parts:
            digest.update(b"\0" + part.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def fresh(self, key: str, fp: str) -> list[str] | None:
        """The files ``key`` wrote when built from the same inputs, if all are still as written."""
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or entry.get("fp") != fp:
            return None
        files = entry.get("files")
        if not isinstance(files, dict) or not files:
            return None
        for relative, seen in files.items():
            try:
                st = (self.root / relative).stat()
            except OSError:
                return None
            if [st.st_size, st.st_mtime_ns] != seen:
                return None
        return list(files)

    def remember(self, key: str, fp: str, relatives: Iterable[str]) -> None:
        """Note what ``key`` was built from; its files are stat-ed by ``save``, once written."""
        self.entries[key] = {"fp": fp, "files": dict.fromkeys(relatives)}

    def save(self) -> None:
        """Record every output's files as they now are (call after the writes completed)."""
        for entry in self.entries.values():
            files = entry.get("files") if isinstance(entry, dict) else None
            if not isinstance(files, dict):
                continue
            for relative, seen in files.items():
                if seen is None:
                    st = (self.root / relative).stat()
                    files[relative] = [st.st_size, st.st_mtime_ns]
        data = {"salt": self.salt, "outputs": self.entries}
        write_atomic(self.root / MEMO_FILE, json.dumps(data, sort_keys=True).encode("utf-8"))


def _salt(site: _Site) -> str:
    """Everything but the posts that an output's bytes depend on."""
    digest = hashlib.sha256(__version__.encode())
    for path in _CODE_FILES:
        with contextlib.suppress(OSError):  # an install without sources still has __version__
            digest.update(path.read_bytes())
    for path in sorted(TEMPLATES_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    digest.update(site.settings.model_dump_json().encode())
    for sid in sorted(site.sources):
        digest.update(repr((site.sources[sid], _source_info(site, sid))).encode())
    for sid in sorted(site.states):
        state = site.states[sid]
        digest.update(repr((sid, state.title, state.link, state.url)).encode())
    return digest.hexdigest()


def _post_digests(site: _Site, posts: Iterable[Post]) -> list[str]:
    """What each post's outputs depend on, as a short string for the memo's fingerprints."""
    out = []
    for post in posts:
        found = site._digests.get(post.id)
        if found is None:
            found = site._digests[post.id] = _post_digest(post)
        out.append(found)
    return out


def _post_digest(post: Post) -> str:
    """The content hash covers every normalised field (and the store rewrites a post only when
    it changes); first_seen and also_from are the store's own and outside it.  A post without
    a hash (hand-made, or from an old release) is digested whole."""
    if not post.content_hash:
        raw = repr(post).encode("utf-8", "surrogatepass")
        return hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    seen = _iso(post.first_seen)
    return "\x1f".join((post.id, post.content_hash, seen, *post.also_from))


def publish_all(store: Store, settings: Settings, now: datetime) -> PublishReport:
    """Rewrite every output whose bytes changed; return what was written for logs and WebSub.

    ``now`` only dates feeds of an empty store; with posts, every date comes from the posts.
    """
    site = _load_site(store, settings, now)
    with BatchWriter() as files:
        out = _Writer(settings.output_dir, files)
        memo = _Memo.load(out.root, _salt(site))
        pages = _archive_plan(site, out.root)
        _write_archives(site, out, pages)
        links, changed_feeds, main_entries = _write_feeds(
            site, out, memo, archive_path(len(pages)) if pages else None
        )
        out.put("sources.opml", opml_document(site))
        removed = _write_pages(site, out, memo, links)
        _copy_static(out)
    memo.save()
    return PublishReport(
        written=tuple(out.written),
        unchanged=tuple(out.unchanged),
        posts=len(site.posts),
        feed_entries=main_entries,
        archives=len(pages),
        changed_feeds=tuple(changed_feeds),
        removed=removed,
    )


def _write_feeds(
    site: _Site, out: _Writer, memo: _Memo, newest_archive: str | None
) -> tuple[list[FeedLink], list[str], int]:
    """Every Atom edition, RSS and JSON Feed: (links to announce, changed URLs, main entries)."""
    size = site.settings.site.feed_entries
    title = clean_line(site.settings.site.title)
    links: list[FeedLink] = []
    changed: list[str] = []
    main_entries = 0

    def emit(relative: str, posts: Sequence[Post], build: Callable[[], bytes], *extra: str) -> None:
        fp = memo.fingerprint(relative, *extra, *_post_digests(site, posts))
        kept = memo.fresh(relative, fp)
        if kept is not None:
            out.keep(kept)
            return
        if out.put(relative, build()):
            changed.append(site.url(relative))
        memo.remember(relative, fp, [relative])

    specs = feed_specs(site)
    editions = edition_posts(site.posts, specs, size)
    for spec in specs:
        chosen = editions[spec.path]
        prev = newest_archive if spec.path == "feed.atom" else None
        main_entries = len(chosen) if spec.path == "feed.atom" else main_entries
        emit(
            spec.path,
            chosen,
            lambda spec=spec, chosen=chosen, prev=prev: atom_document(  # type: ignore[misc]
                site, spec, chosen, prev_archive=prev
            ),
            prev or "",
        )
        links.append(
            FeedLink(clean_line(spec.title), site.url(spec.path), ATOM_TYPE, spec.language)
        )
    newest = list(site.posts[:size])
    emit("feed.rss", newest, lambda: rss_document(site, newest))
    emit("feed.json", newest, lambda: json_feed_document(site, newest))
    links.insert(1, FeedLink(f"{title} (RSS)", site.url("feed.rss"), RSS_TYPE))
    links.insert(2, FeedLink(f"{title} (JSON)", site.url("feed.json"), JSON_TYPE))
    return links, changed, main_entries


def _write_pages(
    site: _Site, out: _Writer, memo: _Memo, links: Sequence[FeedLink]
) -> tuple[Path, ...]:
    """Each page set, rebuilt only when its posts or the announced feeds changed."""
    removed: list[Path] = []
    for language in page_sets(site.settings):
        chosen = set_posts(site.posts, site.settings, language)
        key = f"pages:{language or '*'}"
        fp = memo.fingerprint(key, repr(list(links)), *_post_digests(site, chosen))
        kept = memo.fresh(key, fp)
        if kept is not None:
            out.keep(kept)
            continue
        rendered = render_page_set(chosen, site.sources, site.settings, links, language)
        for relative, data in rendered.items():
            out.put(relative, data)
        removed += _remove_stale_pages(out.root, rendered.keys())
        memo.remember(key, fp, rendered.keys())
    return tuple(removed)


def _archive_plan(site: _Site, root: Path) -> list[list[Post]]:
    """This publish's archive pages, cut where earlier publishes cut them (see archive_pages).

    Page boundaries depend on the page size (``site.feed_entries``), remembered in a dotfile
    the server never serves: when the operator changes it, the old pages are cut wrong, so
    they are deleted (``_write_archives``) and cut afresh.
    """
    size = site.settings.site.feed_entries
    marker = root / ARCHIVE_MARKER
    same_size = not marker.is_file() or marker.read_bytes() == str(size).encode()
    ends = _load_archive_ends(root, size) if same_size else []
    pages = archive_pages(site.posts, size, ends)
    _save_archive_ends(root, size, ends, pages)
    return pages


def _write_archives(site: _Site, out: _Writer, pages: Sequence[Sequence[Post]]) -> None:
    """Write complete archive pages that do not exist yet; existing ones are final.

    Page boundaries depend on the page size (``site.feed_entries``), remembered in a dotfile
    the server never serves: when the operator changes it, the old pages are cut wrong, so
    they are deleted and rebuilt once.
    """
    title = site.settings.site.title
    marker = out.root / ARCHIVE_MARKER
    size = str(site.settings.site.feed_entries).encode()
    if marker.is_file() and marker.read_bytes() != size:
        for old in (out.root / "archive").glob("*.atom"):
            if _ARCHIVE_FILE.match(old.name):
                old.unlink(missing_ok=True)
    if pages:
        write_atomic(marker, size)
    for number, members in enumerate(pages, start=1):
        relative = archive_path(number)
        if (out.root / relative).is_file():
            out.unchanged.append(out.root / relative)
            continue
        spec = FeedSpec(relative, f"{title} (archive {number})")
        newest_first = list(reversed(members))
        data = atom_document(
            site,
            spec,
            newest_first,
            archive=True,
            prev_archive=archive_path(number - 1) if number > 1 else None,
            current="feed.atom",
        )
        out.put(relative, data)


def _remove_stale_pages(root: Path, current: Iterable[str]) -> tuple[Path, ...]:
    """Delete ``page-N.html`` files a previous publish wrote but this one did not.

    Only files named like our own pagination, and only in directories holding a page set, are
    ever touched: the output directory may hold other people's files.
    """
    keep = {root / name for name in current}
    removed = []
    for directory in sorted({p.parent for p in keep}):
        for path in sorted(directory.glob("page-*.html")):
            if path not in keep and _PAGE_FILE.match(path.name):
                path.unlink(missing_ok=True)
                removed.append(path)
    return tuple(removed)


def _copy_static(out: _Writer) -> None:
    """The pages' stylesheet lives beside the templates; publish it with the pages."""
    static = TEMPLATES_DIR / "static"
    if not static.is_dir():
        return
    for item in sorted(static.iterdir()):
        if item.is_file() and not item.name.startswith("."):
            out.put(f"static/{item.name}", item.read_bytes())


__all__ = [
    "FeedSpec",
    "PublishReport",
    "archive_pages",
    "clean_line",
    "clean_text",
    "entry_id",
    "publish_all",
    "safe_url",
]

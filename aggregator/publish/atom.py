"""Atom documents (RFC 4287, with RFC 5005 archive links): the only module that imports feedgen.

Enters: the ``Site``, a ``FeedSpec`` and the posts of one document.  Leaves: the document's
bytes.  Also hands ``rss`` a feedgen generator set up for RSS, so that one module owns feedgen.

feedgen writes each document's feed element and everything in it but the entries.  Each post's
atom:entry is serialized once per publish (``entry_bytes``, cached on the ``Site``) and spliced
in before ``</feed>``: a post sits in up to six documents (combined, language, topic, source,
archive, ...).  The splice is safe because entries are un-namespaced elements, exactly as
feedgen places them under its ``xmlns``-carrying root, and carry no namespace prefix of their
own but ``xml:``.

Two entry writers give the same entries: ``reference_entry`` here (feedgen's FeedEntry plus what
feedgen cannot write) and the faster ``atom_fast.entry_xml``, used unless its switch
(``atom_fast.ENABLED``, env ``AGGREGATOR_FAST_ATOM=0``) turns it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from aggregator import __version__
from aggregator.models import Post
from aggregator.publish import atom_fast
from aggregator.publish.editions import FeedSpec
from aggregator.publish.outputs import clean_line, clean_text
from aggregator.publish.pages import base_language
from aggregator.publish.site import (
    ATOM_TYPE,
    GENERATOR_NAME,
    GENERATOR_URI,
    LANG_TAG,
    Site,
    also_from,
    bylines,
    categories,
    entry_id,
    iso,
    post_title,
    safe_url,
    source_info,
    utc,
)

FH_NS = "http://purl.org/syndication/history/1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


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
# Entries: the reference writer, and the switch between it and the fast one


class _EntryExtras(BaseEntryExtension):  # type: ignore[misc]
    """What feedgen 1.0 cannot write of an entry: xml:lang, link attributes, a full atom:source.

    feedgen reads a link's rel, type and hreflang back from the element it just made instead
    of from its input, so they are set again here; its ``source()`` writes only title and link,
    where RFC 4287 wants id and updated too.
    """

    def __init__(self) -> None:
        self.language: str | None = None
        self.links: list[dict[str, str]] = []
        self.source: dict[str, str] = {}
        self.source_updated = ""

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.language:
            entry.set(XML_LANG, self.language)
        for element, attrs in zip(entry.findall("link"), self.links, strict=True):
            for name in ("rel", "type", "hreflang"):
                if attrs.get(name):
                    element.set(name, attrs[name])
        entry.append(_source_element(self.source, self.source_updated))
        return entry


def _source_element(info: dict[str, str], updated: str) -> etree._Element:
    source = etree.Element("source")  # un-namespaced, as feedgen builds its elements
    etree.SubElement(source, "id").text = info["id"]
    etree.SubElement(source, "title").text = info["title"]
    if info.get("alternate"):
        etree.SubElement(source, "link", rel="alternate", href=info["alternate"])
    # no type: the member's feed may be RSS, Atom or JSON, and a wrong hint is worse than none
    etree.SubElement(source, "link", rel="self", href=info["self"])
    etree.SubElement(source, "updated").text = updated
    return source


def _entry_links(post: Post) -> list[dict[str, str]]:
    links = []
    link = safe_url(post.link)
    if link:
        links.append({"rel": "alternate", "type": "text/html", "href": link})
    for tr in post.translations:
        href = safe_url(tr.href)
        lang = clean_line(tr.hreflang)
        if href and lang and LANG_TAG.match(lang) and base_language(lang) != post.language:
            # "related", not "alternate": readers take the first or the last alternate as
            # the entry's link (feedparser the last), and a translation must not win that
            links.append({"rel": "related", "type": "text/html", "href": href, "hreflang": lang})
    return links


def _feed_entry(site: Site, post: Post) -> Any:
    """The post as feedgen's FeedEntry, every value cleaned first (feedgen raises on ESC)."""
    fe = FeedEntry()
    fe.register_extension("lg", _EntryExtras, atom=True, rss=False)
    language = clean_line(post.language)
    fe.lg.language = language if LANG_TAG.match(language) else None
    fe.id(entry_id(post.id))
    fe.title(post_title(post))
    fe.updated(utc(post.updated))
    fe.published(utc(post.published))
    for name, uri in bylines(site, post):
        fe.author({"name": name, "uri": uri} if uri else {"name": name})
    summary = clean_text(post.excerpt).strip()
    content = clean_text(post.content_html).strip()
    links = _entry_links(post)
    if content:
        fe.content(content, type="html")
    elif not safe_url(post.link):  # Atom wants content or an alternate link
        fe.content(summary or post_title(post), type="text")
    fe.lg.links = links
    for link in links:
        fe.link(link)
    if summary:
        fe.summary(summary, type="text")
    cats = categories(site, post)
    if cats:
        fe.category(cats)
    for name, home in also_from(site, post):
        fe.contributor({"name": name, "uri": home} if home else {"name": name})
    fe.lg.source = source_info(site, post.source_id)
    fe.lg.source_updated = iso(post.updated)
    return fe


def reference_entry(site: Site, post: Post) -> bytes:
    """One post's atom:entry through feedgen: what ``atom_fast.entry_xml`` must agree with."""
    element = _feed_entry(site, post).atom_entry()
    etree.indent(element, space="  ", level=1)
    return b"  " + etree.tostring(element, encoding="utf-8") + b"\n"


def entry_bytes(site: Site, post: Post, remember: bool = True, spare: bool = False) -> bytes:
    """One post's atom:entry, serialized once per publish and spliced into every document.

    Only the shared editions' entries are ``remember``-ed: they are few and each is in several
    documents, where archive pages and members' editions together hold every stored post.
    An archive page's entries are kept as ``spare`` ones, the newest within a budget
    (``site.SpareEntries``), for the members' editions written after them."""
    cached = site.entries.get(post.id) or site.spare_entries.get(post.id)
    if cached is None:
        if atom_fast.ENABLED:
            cached = atom_fast.entry_xml(site, post).encode("utf-8")
        else:
            cached = reference_entry(site, post)
        if remember:
            site.entries[post.id] = cached
        elif spare:
            site.spare_entries.keep(post.id, cached)
    return cached


# --------------------------------------------------------------------------------------------
# Documents


def _feed_generator(site: Site, spec: FeedSpec, updated: datetime) -> Any:
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
    site: Site,
    spec: FeedSpec,
    posts: Sequence[Post],
    *,
    archive: bool = False,
    prev_archive: str | None = None,
    current: str | None = None,
    next_archive: str | None = None,
    remember: bool = True,
    spare: bool = False,
) -> bytes:
    """Serialize one Atom document; ``posts`` are written in the given order.

    The feed's ``updated`` is its newest entry's, never the clock, so an unchanged edition
    keeps its bytes.  ``next_archive`` comes last among the links, where
    ``archives.with_next_archive`` adds it to a page written before its successor existed.
    ``remember``: keep the entries for the next documents; ``spare``: keep the newest of
    them within a budget (see ``entry_bytes``).
    """
    updated = max((utc(p.updated) for p in posts), default=None) or site.empty_updated()
    fg = _feed_generator(site, spec, updated)
    if prev_archive:
        fg.link(href=site.url(prev_archive), rel="prev-archive", type=ATOM_TYPE)
    if current:
        fg.link(href=site.url(current), rel="current", type=ATOM_TYPE)
    if next_archive:
        fg.link(href=site.url(next_archive), rel="next-archive", type=ATOM_TYPE)
    fg.register_extension("lgfeed", _FeedExtras, None, atom=True, rss=False)
    fg.lgfeed.archive = archive
    head: bytes = fg.atom_str(pretty=True)
    cut = head.rindex(b"</feed>")
    entries = (entry_bytes(site, p, remember, spare) for p in posts)
    return b"".join([head[:cut], *entries, head[cut:]])


def rss_feed_generator(hub: str | None) -> Any:
    """A feedgen generator set up for RSS 2.0 (Dublin Core, WebSub hub link): ``rss`` fills it."""
    fg = FeedGenerator()
    fg.load_extension("dc", atom=False, rss=True)
    fg.register_extension("lgfeed", _FeedExtras, None, atom=False, rss=True)
    fg.lgfeed.hub = hub
    return fg

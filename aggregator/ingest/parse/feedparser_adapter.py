"""feedparser's result -> ``ParsedFeed``.  The only module that imports feedparser.

What enters: defused UTF-8 bytes (``defuse``) with the response headers, or the dictionary the
fast path (``fast``) builds in feedparser's shape.  What leaves: a ``ParsedFeed`` of plain
records, or ``ParseError`` when the document holds no feed.

feedparser is never given a URL or a string (it would fetch it or open a local file): it reads
``io.BytesIO(data)`` with the headers we already have, its sanitizer and URI resolution off
(``sanitize`` does that work later, with a better sanitizer).  Its dates are not used: the raw
text goes to ``ingest.dates``, which reads what feedparser misreads (``25/03/2022``, year 0,
30 February rolled into March).  Its other slips are repaired here: authors' addresses it cut,
one author's e-mail leaking to the next, Atom content copied into the summary.

The fast path reproduces some of feedparser's own rules, so the helpers it needs are exported
from here (``feedparser_urljoin``, ``CP1252_REPAIR``, ``safe_absolute_uri``) rather than
imported from feedparser a second time.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import feedparser
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri

from aggregator.errors import ParseError
from aggregator.ingest.dates import read_date
from aggregator.ingest.parse.entries import drop_empty_entries
from aggregator.ingest.parse.fields import (
    MAX_HTML_CHARS,
    MAX_TITLE_CHARS,
    absolute,
    authors_from,
    bounded,
    keep_newest,
    optional_count,
    optional_text,
    raw_rss_authors,
    strip_unsafe_chars,
)
from aggregator.ingest.parse.html import not_a_feed
from aggregator.models import Link, ParsedEntry, ParsedFeed

__all__ = [
    "CP1252_REPAIR",
    "feedparser_urljoin",
    "map_feedparser",
    "run_feedparser",
    "safe_absolute_uri",
]

#: feedparser's own rules, reused by the fast path so that both paths give the same strings.
feedparser_urljoin = _urljoin
safe_absolute_uri = make_safe_absolute_uri
CP1252_REPAIR: dict[int, str] = _cp1252

_LENIENT = "; read it leniently"
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.IGNORECASE)


def run_feedparser(data: bytes, response_headers: Mapping[str, str]) -> Any:
    """feedparser's reading of ``data``: never a URL or a file name, sanitizer off."""
    return feedparser.parse(
        io.BytesIO(data),
        response_headers=dict(response_headers),
        sanitize_html=False,
        resolve_relative_uris=False,
    )


def map_feedparser(
    result: Any,
    *,
    data: bytes,
    url: str,
    doctype: str,
    warnings: list[str],
    cut_short: bool,
    headers: Mapping[str, str],
    max_entries: int,
    day_first: bool,
) -> ParsedFeed:
    """The ``ParsedFeed`` for feedparser's (or the fast path's) ``result``.

    ``warnings`` holds what the earlier stages noted (it is added to); ``cut_short`` says the
    document stops inside its last entry, which is then dropped (``entries``).
    """
    version = str(result.get("version") or "")
    if version == "rss091u" and "netscape" in doctype.lower():
        version = "rss091n"
    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    if "[" in doctype:
        warnings.append("removed a DOCTYPE with an internal subset; entities are never expanded")
    exc = result.get("bozo_exception") if result.get("bozo") else None
    note = _bozo_warning(exc) if exc is not None else None
    if note:
        warnings.append(note)
    if cut_short and raw_entries:
        raw_entries = raw_entries[:-1]
        warnings.append("the document is cut short: its last, incomplete entry was dropped")
    if not raw_entries and not version:
        if "html" in headers.get("content-type", ""):
            raise not_a_feed(b"", url)
        raise ParseError("not a feed: no RSS, Atom or JSON Feed document found", "not_a_feed")
    feed_language = optional_text(feed.get("language"))
    raw_authors = raw_rss_authors(data) if version.startswith("rss") else []
    mapped = [
        _map_entry(
            e,
            raw_authors=raw_authors,
            url=url,
            feed_language=feed_language,
            day_first=day_first,
            warnings=warnings,
        )
        for e in raw_entries
    ]
    entries = drop_empty_entries(mapped, warnings)
    if not entries and note and type(exc).__name__ != "CharacterEncodingOverride":
        raise ParseError(
            f"not a valid feed: {note.removesuffix(_LENIENT)} and holds no complete entry",
            "invalid",
        )
    kept = keep_newest(entries, max_entries)
    if len(kept) < len(entries):
        warnings.append(f"{len(entries)} entries in the document; kept the newest {len(kept)}")
    return ParsedFeed(
        url=strip_unsafe_chars(url),
        format=version or "unknown",
        title=optional_text(feed.get("title")),
        link=optional_text(feed.get("link")),
        self_link=_first_href(feed.get("links") or [], "self", url),
        language=feed_language,
        authors=authors_from(feed.get("authors") or [], raw_authors),
        entries=kept,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _map_entry(
    e: Mapping[str, Any],
    *,
    raw_authors: Sequence[str],
    url: str,
    feed_language: str | None,
    day_first: bool,
    warnings: list[str],
) -> ParsedEntry:
    content_detail = _pick_content(e.get("content") or [])
    summary_detail = e.get("summary_detail") or {}
    content = _as_html(content_detail) if content_detail else None
    summary = _as_html(summary_detail) if summary_detail else None
    if summary is not None and content is not None and summary == content:
        summary = None  # feedparser copies Atom content into summary when there is none
    details = [d for d in (content_detail, summary_detail, e.get("title_detail")) if d]
    base = next((str(d["base"]) for d in details if d.get("base")), None) or url
    language = next((str(d["language"]) for d in details if d.get("language")), None)
    published_raw = optional_text(e.get("published"))
    updated_raw = optional_text(_own(e, "updated"))
    links = e.get("links") or []
    main = _main_link(links, base) or absolute(base, e.get("link"))
    return ParsedEntry(
        guid=optional_text(e.get("id")),
        link=main,
        title=bounded(optional_text(e.get("title")), MAX_TITLE_CHARS, "title", warnings),
        summary=bounded(summary, MAX_HTML_CHARS, "summary", warnings),
        content=bounded(content, MAX_HTML_CHARS, "content", warnings),
        authors=authors_from(e.get("authors") or [], raw_authors),
        tags=_tags(e.get("tags") or []),
        published=read_date(published_raw, day_first=day_first),
        updated=read_date(updated_raw, day_first=day_first),
        published_raw=published_raw,
        updated_raw=updated_raw,
        language=optional_text(e.get("language")) or optional_text(language) or feed_language,
        base=optional_text(base),
        links=_other_links(links, main, base),
        images=_images(e, base),
    )


def _own(e: Mapping[str, Any], key: str) -> Any:
    """The value the document set; feedparser's ``get("updated")`` falls back to published."""
    return dict.get(e, key) if isinstance(e, dict) else e.get(key)


def _pick_content(contents: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The richest ``content`` element: HTML or XHTML before plain text."""
    for wanted in ("text/html", "application/xhtml+xml"):
        for c in contents:
            if str(c.get("type") or "").lower() == wanted:
                return c
    return contents[0] if contents else None


def _as_html(detail: Mapping[str, Any]) -> str | None:
    value = detail.get("value")
    if value is None:
        return None
    text = strip_unsafe_chars(str(value))
    kind = str(detail.get("type") or "text/html").lower()
    if kind == "text/plain":
        return html.escape(text, quote=False)
    return text


def _main_link(links: Sequence[Mapping[str, Any]], base: str) -> str | None:
    """The entry's page: an HTML alternate, preferring one without ``hreflang``."""
    alternates = [
        link
        for link in links
        if (link.get("rel") or "alternate") == "alternate"
        and str(link.get("type") or "text/html").lower() in ("text/html", "application/xhtml+xml")
        and link.get("href")
    ]
    alternates.sort(key=lambda link: link.get("hreflang") is not None)
    return absolute(base, alternates[0]["href"]) if alternates else None


def _other_links(
    links: Sequence[Mapping[str, Any]], main: str | None, base: str
) -> tuple[Link, ...]:
    out: list[Link] = []
    for link in links:
        rel = str(link.get("rel") or "alternate")
        href = absolute(base, link.get("href"))
        if rel not in ("enclosure", "alternate") or not href or href == main:
            continue
        out.append(
            Link(
                href=href,
                rel=rel,
                type=optional_text(link.get("type")),
                hreflang=optional_text(link.get("hreflang")),
                length=optional_count(link.get("length")),
            )
        )
    return tuple(dict.fromkeys(out))


def _images(e: Mapping[str, Any], base: str) -> tuple[str, ...]:
    urls: list[str] = []
    for thumb in e.get("media_thumbnail") or []:
        urls.append(thumb.get("url") or "")
    for media in e.get("media_content") or []:
        kind = str(media.get("type") or "").lower()
        medium = str(media.get("medium") or "").lower()
        href = str(media.get("url") or "")
        if (
            medium == "image"
            or kind.startswith("image/")
            or (not kind and not medium and _IMAGE_EXT.search(href))
        ):
            urls.append(href)
    resolved = (absolute(base, u) for u in urls if u)
    return tuple(dict.fromkeys(u for u in resolved if u))


def _tags(items: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    out = (optional_text(item.get("term")) or optional_text(item.get("label")) for item in items)
    return tuple(dict.fromkeys(t for t in out if t))


def _first_href(links: Sequence[Mapping[str, Any]], rel: str, base: str) -> str | None:
    for link in links:
        if link.get("rel") == rel and link.get("href"):
            return absolute(base, link["href"])
    return None


def _bozo_warning(exc: object) -> str | None:
    """A warning for a real well-formedness problem; content-type quibbles are not one."""
    name = type(exc).__name__
    if name in ("NonXMLContentType",):
        return None
    if name == "CharacterEncodingOverride":
        # text/* without a charset "declares" us-ascii (RFC 3023): not the publisher's mistake
        return None if "us-ascii" in str(exc) else f"declared character encoding was wrong: {exc}"
    return strip_unsafe_chars(f"feed is not well-formed XML ({exc}){_LENIENT}")

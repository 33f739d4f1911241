"""Fetched bytes -> ``ParsedFeed``.  The only module that imports feedparser.

Why this module is more than a call to ``feedparser.parse``:

* feedparser is never given a URL or a string (it would fetch it or open a local file); it reads
  ``io.BytesIO(body)`` with the response headers we already have.
* Its lenient fallback parser expands internal entities itself, so a small document can grow to
  hundreds of megabytes.  Every DOCTYPE is therefore removed from the prolog *before* feedparser
  sees the document, and one that still declares entities where feedparser looks is refused as
  hostile.  The checks run on decoded text (we pick the encoding, then hand feedparser UTF-8
  that says so): declarations hidden by UTF-16, UTF-7 or ISO-2022 escapes (``<!DOC\x1b(BTYPE``,
  which feedparser's own DOCTYPE filter misses and then expands) are seen like plain ones.
* It raises, despite its "bozo" contract, on numeric references beyond U+10FFFF or to
  surrogates; those references are rewritten to U+FFFD first, and any exception left is turned
  into ``ParseError`` so one broken feed never stops a cycle.
* Its dates can be impossible (year 0, year 10000, 30 February rolled into March) and it misreads
  ``25/03/2022``; dates are rebuilt here, and the raw text is always kept.
* It does not read JSON Feed, which is mapped here by hand.
* It costs about 0.7 ms per entry even with its sanitizer off, most of a cycle's CPU; lxml
  reads the same bytes about 80 times faster.  So plain, well-formed RSS 2.0 and Atom 1.0
  (most member feeds) take a **fast path** (``_fast_parse``): lxml with entities, DTDs and the
  network off, then feedparser's own rules re-applied (whitespace stripping, relative URIs
  joined with its ``_urljoin``, its UTF-8-read-as-Latin-1 repair and cp1252 mapping, its date
  parser, ``guid``/``id`` standing in for a missing link, ``xml:lang`` inheritance), giving the
  dictionary feedparser would give, which the same ``_map_feedparser`` maps.  Anything it does
  not model falls back to feedparser, unchanged: a document that is not well-formed, a
  DOCTYPE, a ``Content-Language`` header, a non-XML content type, other formats or versions,
  any namespace beyond Atom's, ``xml:base``, markup or comments inside a text element, text
  between elements, a repeated single-valued element, or any element or attribute outside a
  short list (authors, enclosures, media, ``content:encoded``… all go to feedparser).
  ``tests/test_parse_fastpath.py`` runs fixtures, the benchmark corpus and generated feeds
  both ways and compares every field, so the two paths cannot silently drift apart.

Everything returned is plain data (``models``), every string is free of control characters and
lone surrogates, and ``parse_document`` is a module-level function of bytes and plain values so
that it can run in a ``ProcessPoolExecutor``.
"""

from __future__ import annotations

import calendar
import codecs
import html
import io
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html
from feedparser.datetimes import _parse_date as _fp_parse_date
from feedparser.html import _cp1252
from feedparser.urls import _urljoin, make_safe_absolute_uri

from aggregator.errors import ParseError
from aggregator.models import Author, Link, ParsedEntry, ParsedFeed

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "clean_text",
    "find_feed_links",
    "html_encoding",
    "keep_newest",
    "parse_document",
]

#: Larger documents are refused before any parser runs (the fetcher caps bodies too).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
#: How far into the document the prolog (XML declaration, comments, DOCTYPE) may extend.
MAX_PROLOG_BYTES = 256 * 1024
#: Longest title / HTML field kept; longer ones are cut and a warning is recorded.
MAX_TITLE_CHARS = 4_000
MAX_HTML_CHARS = 1_000_000
#: Deeper HTML is flattened to text: sanitizing it costs time quadratic in the depth.
MAX_HTML_DEPTH = 1_000

FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)

_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_LIST = tuple(c for c in map(chr, range(0x80)) if _CONTROL_CHARS.match(c))
#: Byte tables for ``bytes.translate``: 0 where the byte is unsafe, 1 elsewhere.
_LATIN1_UNSAFE = bytes(0 if _UNSAFE_CHARS.match(chr(i)) else 1 for i in range(256))
_UTF8_CONTROL = bytes(0 if _CONTROL_CHARS.match(chr(i)) else 1 for i in range(256))
_LATIN1_C1 = bytes(0 if 0x80 <= i <= 0x9F else 1 for i in range(256))
_UTF8_C1 = re.compile(b"\xc2[\x80-\x9f]")
#: Below this length the regex is as cheap as the byte-level checks.
_SCAN_MIN_CHARS = 128
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")
_FEEDPARSER_HEAD_END = re.compile(r"<\w", re.ASCII)
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT)", re.IGNORECASE)
_ROOT_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})""")
_XML_ENCODING_TEXT = re.compile(r"""^(\s*<\?xml[^>]{0,200}?encoding\s*=\s*["'])[^"']*""")
_HTML_ROOTS = frozenset({"html", "head", "body", "meta", "title", "div", "p", "script"})
_IMAGE_EXT = re.compile(r"\.(?:jpe?g|png|gif|webp|avif)(?:[?#]|$)", re.IGNORECASE)


# ------------------------------------------------------------------------------------------
# Public API


def parse_document(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str],
    max_entries: int = 200,
    day_first: bool = False,
) -> ParsedFeed:
    """Turn one fetched document into a ``ParsedFeed`` or raise ``ParseError``.

    ``url`` is the final URL (after redirects): relative links resolve against it.
    ``day_first`` reads ambiguous numeric dates such as ``03/04/2022`` as 3 April.
    ``ParseError.kind`` is one of ``empty``, ``not_a_feed``, ``hostile``, ``invalid``.
    """
    if not body or not body.strip():
        raise ParseError("empty document: the server sent no content", kind="empty")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ParseError(
            f"document too large ({len(body)} bytes, limit {MAX_DOCUMENT_BYTES})", kind="hostile"
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "").lower()
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url=url, max_entries=max_entries, day_first=day_first)
    return _parse_xml_feed(
        body, url=url, headers=lowered, max_entries=max_entries, day_first=day_first
    )


def find_feed_links(html: bytes, base_url: str) -> list[Link]:
    """The feeds an HTML page advertises with ``<link rel="alternate" type=…>``, absolute.

    Used for the "not a feed" message and by autodiscovery; nothing is fetched.
    """
    root = _html_root(html)
    if root is None:
        return []
    base = base_url
    for el in root.iter("base"):
        href = el.get("href")
        if href:
            base = urljoin(base_url, href.strip())
            break
    found: list[Link] = []
    seen: set[str] = set()
    for el in root.iter("link"):
        rels = (el.get("rel") or "").lower().split()
        kind = (el.get("type") or "").split(";")[0].strip().lower()
        href = (el.get("href") or "").strip()
        if "alternate" not in rels or kind not in FEED_LINK_TYPES or not href:
            continue
        absolute = clean_text(urljoin(base, href))
        if absolute in seen:
            continue
        seen.add(absolute)
        found.append(
            Link(href=absolute, rel="alternate", type=kind, hreflang=_opt(el.get("hreflang")))
        )
    return found


def clean_text(value: str) -> str:
    """Drop control characters (tab, LF and CR stay), lone surrogates and non-characters."""
    if len(value) < _SCAN_MIN_CHARS:
        if value.isprintable():  # every unsafe character is Cc, Cs or Cn: none is printable
            return value
    elif _is_clean(value):
        return value
    return _UNSAFE_CHARS.sub("", value)


def _is_clean(value: str) -> bool:
    """True when ``value`` holds nothing ``clean_text`` drops, checked without a regex.

    The regex scan costs about 5 ns a character (15 us for a 3 KB entry body, run on every
    body); encoding and a byte table lookup cost a fifth of that.  Text that fits Latin-1 is
    checked byte for byte; other text is encoded as UTF-8, which refuses lone surrogates and
    writes every control character as the same single byte, C1 characters as byte C2 then
    80-9F, and the two non-characters as EF BF BE / EF BF BF.
    """
    try:
        return b"\x00" not in value.encode("latin-1").translate(_LATIN1_UNSAFE)
    except UnicodeEncodeError:
        pass
    try:
        raw = value.encode("utf-8")
    except UnicodeEncodeError:
        return False  # a surrogate
    return (
        b"\x00" not in raw.translate(_UTF8_CONTROL)
        and (b"\xc2" not in raw or not _UTF8_C1.search(raw))
        and b"\xef\xbf\xbe" not in raw
        and b"\xef\xbf\xbf" not in raw
    )


def keep_newest(entries: Sequence[ParsedEntry], limit: int) -> tuple[ParsedEntry, ...]:
    """At most ``limit`` entries: the newest by date, kept in document order.

    Undated entries rank after dated ones, in document order; when no entry has a date the
    first ``limit`` are kept (feeds list their newest items first).
    """
    if len(entries) <= limit:
        return tuple(entries)
    floor = datetime.min.replace(tzinfo=UTC)
    ranked = sorted(
        range(len(entries)),
        key=lambda i: (_entry_date(entries[i]) is None, -_stamp(_entry_date(entries[i]) or floor)),
    )
    chosen = sorted(ranked[: max(limit, 0)])
    return tuple(entries[i] for i in chosen)


# ------------------------------------------------------------------------------------------
# XML formats through feedparser


def _parse_xml_feed(
    body: bytes, *, url: str, headers: dict[str, str], max_entries: int, day_first: bool
) -> ParsedFeed:
    content_type = headers.get("content-type", "")
    text, encoding_note = _decode(body, content_type)
    text, doctype = _strip_prolog_doctype(text)
    if _is_html(text, content_type):
        raise _not_a_feed(body, url)
    # feedparser gets UTF-8 that says so: the text it parses is the text checked here
    data = _XML_ENCODING_TEXT.sub(r"\1utf-8", _defuse(text), count=1).encode("utf-8")
    media_type = content_type.split(";")[0].strip() or "application/xml"
    response_headers = dict(headers)
    response_headers["content-type"] = f"{media_type}; charset=utf-8"
    response_headers["content-location"] = url
    try:
        result = None
        if not doctype and "content-language" not in headers and media_type in _FAST_MEDIA_TYPES:
            result = _fast_parse(data, url)
        if result is None:
            result = feedparser.parse(
                io.BytesIO(data),
                response_headers=response_headers,
                sanitize_html=False,
                resolve_relative_uris=False,
            )
        return _map_feedparser(
            result,
            data=data,
            url=url,
            doctype=doctype,
            encoding_note=encoding_note,
            headers=headers,
            max_entries=max_entries,
            day_first=day_first,
        )
    except ParseError:
        raise
    except (Exception, RecursionError) as exc:  # feedparser raises despite its contract
        message = clean_text(f"unreadable feed: {type(exc).__name__}: {exc}")[:300]
        raise ParseError(message, "invalid") from exc


def _map_feedparser(
    result: Any,
    *,
    data: bytes,
    url: str,
    doctype: str,
    encoding_note: str | None,
    headers: dict[str, str],
    max_entries: int,
    day_first: bool,
) -> ParsedFeed:
    version = str(result.get("version") or "")
    if version == "rss091u" and "netscape" in doctype.lower():
        version = "rss091n"
    feed = result.get("feed") or {}
    raw_entries = result.get("entries") or []
    warnings: list[str] = [encoding_note] if encoding_note else []
    if "[" in doctype:
        warnings.append("removed a DOCTYPE with an internal subset; entities are never expanded")
    exc = result.get("bozo_exception") if result.get("bozo") else None
    note = _bozo_warning(exc) if exc is not None else None
    if note:
        warnings.append(note)
    if not raw_entries:
        if not version:
            if "html" in headers.get("content-type", ""):
                raise _not_a_feed(b"", url)
            raise ParseError("not a feed: no RSS, Atom or JSON Feed document found", "not_a_feed")
        if note and type(exc).__name__ != "CharacterEncodingOverride":
            raise ParseError(f"invalid feed with no readable entries: {note}", "invalid")
    feed_language = _opt(feed.get("language"))
    raw_authors = _raw_rss_authors(data) if version.startswith("rss") else []
    entries = [
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
    kept = keep_newest(entries, max_entries)
    if len(kept) < len(entries):
        warnings.append(f"{len(entries)} entries in the document; kept the newest {len(kept)}")
    return ParsedFeed(
        url=clean_text(url),
        format=version or "unknown",
        title=_opt(feed.get("title")),
        link=_opt(feed.get("link")),
        self_link=_first_href(feed.get("links") or [], "self", url),
        language=feed_language,
        authors=_authors(feed.get("authors") or [], raw_authors),
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
    published_raw = _opt(e.get("published"))
    updated_raw = _opt(_own(e, "updated"))
    links = e.get("links") or []
    main = _main_link(links, base) or _abs(base, e.get("link"))
    return ParsedEntry(
        guid=_opt(e.get("id")),
        link=main,
        title=_cut(_opt(e.get("title")), MAX_TITLE_CHARS, "title", warnings),
        summary=_cut(summary, MAX_HTML_CHARS, "summary", warnings),
        content=_cut(content, MAX_HTML_CHARS, "content", warnings),
        authors=_authors(e.get("authors") or [], raw_authors),
        tags=_tags(e.get("tags") or []),
        published=_entry_datetime(published_raw, e.get("published_parsed"), day_first),
        updated=_entry_datetime(updated_raw, _own(e, "updated_parsed"), day_first),
        published_raw=published_raw,
        updated_raw=updated_raw,
        language=_opt(e.get("language")) or _opt(language) or feed_language,
        base=_opt(base),
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
    text = clean_text(str(value))
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
    return _abs(base, alternates[0]["href"]) if alternates else None


def _other_links(
    links: Sequence[Mapping[str, Any]], main: str | None, base: str
) -> tuple[Link, ...]:
    out: list[Link] = []
    for link in links:
        rel = str(link.get("rel") or "alternate")
        href = _abs(base, link.get("href"))
        if rel not in ("enclosure", "alternate") or not href or href == main:
            continue
        out.append(
            Link(
                href=href,
                rel=rel,
                type=_opt(link.get("type")),
                hreflang=_opt(link.get("hreflang")),
                length=_int(link.get("length")),
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
    resolved = (_abs(base, u) for u in urls if u)
    return tuple(dict.fromkeys(u for u in resolved if u))


def _authors(
    items: Iterable[Mapping[str, Any]], raw_authors: Sequence[str] = ()
) -> tuple[Author, ...]:
    out: list[Author] = []
    previous: Author | None = None
    for item in items:
        name = _opt(item.get("name"))
        email = _opt(item.get("email"))
        uri = _opt(item.get("href") or item.get("uri") or item.get("url"))
        if email:
            name, email = _repair_email(name, email, raw_authors)
        if previous is not None and name and name != previous.name:
            # feedparser carries one author's e-mail and URI over to the next one
            email = None if email == previous.email else email
            uri = None if uri == previous.uri else uri
        label = name or email or uri
        if label:
            previous = Author(name=label, uri=uri, email=email)
            out.append(previous)
    return tuple(dict.fromkeys(out))


_RSS_AUTHOR = re.compile(
    rb"<(?:author|managingEditor|webMaster)>\s*([^<]{1,500}?)\s*</", re.IGNORECASE
)
_EMAIL_THEN_NAME = re.compile(r"^(\S+@\S+?)\s*\((.+)\)$")
_NAME_THEN_EMAIL = re.compile(r"^(.+?)\s*[<(](\S+@[^\s>)]+)[>)]$")


def _raw_rss_authors(data: bytes) -> list[str]:
    """RSS ``<author>`` texts as written, to repair what feedparser's e-mail regex cut.

    feedparser only knows top-level domains of 2-4 letters, so
    ``press@city.barcelona (Press Office)`` comes back as a mangled name and a cut address.
    """
    found = (html.unescape(m.decode("utf-8", "replace")) for m in _RSS_AUTHOR.findall(data))
    return [clean_text(text).strip() for text in found]


def _repair_email(
    name: str | None, email: str, raw_authors: Sequence[str]
) -> tuple[str | None, str]:
    for raw in raw_authors:
        at = raw.find(email)
        end = at + len(email)
        if at < 0 or end >= len(raw) or not (raw[end].isalnum() or raw[end] in "-."):
            continue
        first = _EMAIL_THEN_NAME.match(raw)
        if first:
            return first.group(2).strip() or None, first.group(1)
        second = _NAME_THEN_EMAIL.match(raw)
        if second:
            return second.group(1).strip() or None, second.group(2)
        return None, raw.split()[0] if "@" in raw.split()[0] else email
    return name, email


def _tags(items: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    out = (_opt(item.get("term")) or _opt(item.get("label")) for item in items)
    return tuple(dict.fromkeys(t for t in out if t))


def _first_href(links: Sequence[Mapping[str, Any]], rel: str, base: str) -> str | None:
    for link in links:
        if link.get("rel") == rel and link.get("href"):
            return _abs(base, link["href"])
    return None


def _bozo_warning(exc: object) -> str | None:
    """A warning for a real well-formedness problem; content-type quibbles are not one."""
    name = type(exc).__name__
    if name in ("NonXMLContentType",):
        return None
    if name == "CharacterEncodingOverride":
        # text/* without a charset "declares" us-ascii (RFC 3023): not the publisher's mistake
        return None if "us-ascii" in str(exc) else f"declared character encoding was wrong: {exc}"
    return clean_text(f"feed is not well-formed XML ({exc}); read it leniently")


def _not_a_feed(data: bytes, url: str) -> ParseError:
    links = find_feed_links(data, url) if data else []
    if links:
        listed = ", ".join(link.href for link in links)
        return ParseError(f"not a feed: this is an HTML page; it advertises {listed}", "not_a_feed")
    return ParseError("not a feed: this is an HTML page and it advertises no feed", "not_a_feed")


# ------------------------------------------------------------------------------------------
# Fast path: plain RSS 2.0 and Atom 1.0 read with lxml, mapped the way feedparser maps them

_ATOM_NS = "http://www.w3.org/2005/Atom"
_A = "{" + _ATOM_NS + "}"
_A_CATEGORY = _A + "category"
_A_CONTENT = _A + "content"
_A_ENTRY = _A + "entry"
_A_FEED = _A + "feed"
_A_ICON = _A + "icon"
_A_ID = _A + "id"
_A_LINK = _A + "link"
_A_LOGO = _A + "logo"
_A_PUBLISHED = _A + "published"
_A_RIGHTS = _A + "rights"
_A_SUBTITLE = _A + "subtitle"
_A_SUMMARY = _A + "summary"
_A_TITLE = _A + "title"
_A_UPDATED = _A + "updated"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_FAST_MEDIA_TYPES = frozenset(
    {"application/xml", "text/xml", "application/rss+xml", "application/atom+xml"}
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_C1_CHARS = re.compile("[\x80-\x9f]")
_C1_LIST = tuple(map(chr, range(0x80, 0xA0)))
_LINK_ATTRS = frozenset({"href", "rel", "type", "hreflang", "title", "length", _XML_LANG})
_TEXT_CONSTRUCT_TYPES = frozenset({"text", "html"})
# Channel / feed children that feed nothing we map and have no side effect in feedparser.
_RSS_IGNORED = frozenset({"lastBuildDate", "pubDate", "generator", "docs", "ttl", "copyright"})
_ATOM_IGNORED = frozenset({_A_UPDATED, _A_SUBTITLE, _A_RIGHTS, _A_ICON, _A_LOGO})
_RSS_CHANNEL_ONCE = frozenset({"title", "link", "description", "language"})
_ATOM_FEED_ONCE = frozenset({_A_TITLE, _A_ID})
_RSS_ITEM_ONCE = frozenset({"title", "link", "guid", "pubDate", "description"})
_NAMED_REF = re.compile("&([A-Za-z0-9_]+);")
_TYPE_ATTR = frozenset({"type"})
_GUID_ATTRS = frozenset({"isPermaLink"})
_RSS_CATEGORY_ATTRS = frozenset({"domain"})
_ATOM_CATEGORY_ATTRS = frozenset({"term", "scheme", "label"})
_ATOM_ENTRY_ONCE = frozenset({_A_TITLE, _A_ID, _A_UPDATED, _A_PUBLISHED, _A_SUMMARY, _A_CONTENT})


# Pure; an entry's link is resolved as its link, its id and again when mapped.
_fp_join = lru_cache(maxsize=4096)(_urljoin)
_join = lru_cache(maxsize=4096)(urljoin)


class _Unsupported(Exception):
    """A construct the fast path does not reproduce: feedparser reads the document instead."""


def _fast_parse(data: bytes, url: str) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 / Atom 1.0 document, or None to fall back.

    The result holds only the keys ``_map_feedparser`` reads, computed with feedparser's own
    rules (whitespace stripping, URI resolution, its mojibake repair and cp1252 mapping, its
    date parser, ``guid`` as link, ``xml:lang`` inheritance), so both paths map alike.
    """
    base = make_safe_absolute_uri(url) or ""
    if not base or make_safe_absolute_uri(base, base) != base:
        return None
    parser = lxml.etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        recover=False,
        remove_blank_text=False,
    )
    try:
        root = lxml.etree.fromstring(data, parser)
    except (lxml.etree.XMLSyntaxError, ValueError):
        return None
    try:
        if root.tag == "rss" and root.get("version") == "2.0" and not root.nsmap:
            return _FastReader(base, "rss20", {}, data.count(b"xmlns") > 0).rss(root)
        if root.tag == _A_FEED and root.nsmap == {None: _ATOM_NS}:
            nested = data.count(b"xmlns") > 1
            return _FastReader(base, "atom10", {None: _ATOM_NS}, nested).atom(root)
    except _Unsupported:
        return None
    return None


def _fp_value(text: str | None) -> str:
    """feedparser's ``pop`` strips every element's text first."""
    return (text or "").strip()


def _fp_finish(out: str) -> str:
    """feedparser's repair of UTF-8 read as Latin-1, then its cp1252 mapping of C1 controls."""
    if out.isascii():
        return out
    try:
        raw = out.encode("iso-8859-1")
    except UnicodeEncodeError:
        has_c1 = _has_c1(out)
    else:
        try:
            out = raw.decode("utf-8")
            has_c1 = _has_c1(out)
        except UnicodeDecodeError:  # the usual case: Latin-1 text that is not mojibake
            has_c1 = b"\x00" in raw.translate(_LATIN1_C1)
    return out.translate(_cp1252) if has_c1 else out


def _has_c1(text: str) -> bool:
    """``_C1_CHARS.search`` for short text; 32 memchr-style scans beat the regex on long text."""
    if len(text) < _SCAN_MIN_CHARS:
        return _C1_CHARS.search(text) is not None
    return any(c in text for c in _C1_LIST)


def _content_type(value: str) -> str:
    low = value.lower()
    return {"text": "text/plain", "plain": "text/plain", "html": "text/html"}.get(
        low, "application/xhtml+xml" if low == "xhtml" else low
    )


class _FastReader:
    """One document's walk; every unexpected construct raises ``_Unsupported``."""

    def __init__(
        self, base: str, version: str, nsmap: dict[str | None, str], nested_ns: bool
    ) -> None:
        """``nested_ns`` is False when the bytes hold no ``xmlns`` beyond the root's own.

        Attribute names are never produced by references, so then no element below the root
        declares a namespace and the costly per-element ``nsmap`` comparison is skipped.
        """
        self.base = base
        self.version = version
        self.nsmap = nsmap
        self.nested_ns = nested_ns
        self.dates: dict[str, Any] = {}

    # -- generic checks ------------------------------------------------------------------

    def _children(self, el: Any) -> list[Any]:
        if (el.text or "").strip():
            raise _Unsupported("text between elements")
        out = []
        for child in el:
            if (child.tail or "").strip():
                raise _Unsupported("text between elements")
            if not isinstance(child.tag, str):
                continue  # comments and processing instructions between elements
            if self.nested_ns and child.nsmap != self.nsmap:
                raise _Unsupported("namespace declaration")
            out.append(child)
        return out

    @staticmethod
    def _lang(el: Any, parent: str | None) -> str | None:
        value = el.get(_XML_LANG)
        if value is None:
            return parent
        return value or None

    @staticmethod
    def _leaf(el: Any, allowed: frozenset[str] = frozenset()) -> str:
        if len(el):
            raise _Unsupported("markup inside a text element")
        for name in el.keys():  # noqa: SIM118  (an lxml element, not a dict)
            if name not in allowed and name != _XML_LANG:
                raise _Unsupported(f"attribute {name}")
        return _fp_value(el.text)

    def _resolve(self, value: str) -> str:
        return _fp_join(self.base, value) if value else value

    def _detail(self, kind: str, lang: str | None, value: str) -> dict[str, Any]:
        return {
            "type": kind,
            "language": lang.replace("_", "-") if lang else lang,
            "base": self.base,
            "value": value,
        }

    @staticmethod
    def _tag(context: dict[str, Any], term: Any, scheme: Any, label: Any) -> None:
        tags = context.setdefault("tags", [])
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _category(
        self, context: dict[str, Any], term: Any, scheme: Any, label: Any, value: str
    ) -> None:
        """``value`` is the element's text, read and finished by the caller."""
        self._tag(context, term, scheme, label)
        if not value:
            return
        tags = context["tags"]
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._tag(context, value, None, None)

    @staticmethod
    def _check_once(seen: set[str], tag: str, once: frozenset[str]) -> None:
        if tag in once:
            if tag in seen:
                raise _Unsupported(f"repeated {tag}")
            seen.add(tag)

    def _date(self, context: dict[str, Any], key: str, raw: str) -> None:
        """feedparser's date parser, once per distinct text in the document.

        Not cached across documents: feedparser fills a missing year from the clock.
        """
        context[key] = raw
        if raw not in self.dates:
            self.dates[raw] = _fp_parse_date(raw)
        context[key + "_parsed"] = self.dates[raw]

    def _guid(self, context: dict[str, Any], value: str, is_link: bool) -> None:
        value = _fp_finish(self._resolve(value) if is_link else value)
        context["id"] = value
        context["guidislink"] = is_link and "link" not in context
        if is_link:
            context.setdefault("link", value)

    # -- RSS 2.0 -------------------------------------------------------------------------

    def rss(self, root: Any) -> dict[str, Any]:
        for name in root.attrib:
            if name not in ("version", _XML_LANG):
                raise _Unsupported(f"attribute {name}")
        feed: dict[str, Any] = {}
        root_lang = self._lang(root, None)
        if root_lang:
            feed["language"] = root_lang.replace("_", "-")
        channels = self._children(root)
        if len(channels) != 1 or channels[0].tag != "channel" or channels[0].attrib:
            raise _Unsupported("not one plain channel")
        entries: list[dict[str, Any]] = []
        lang = root_lang
        seen: set[str] = set()
        for el in self._children(channels[0]):
            tag = el.tag
            if tag == "item":
                if el.attrib:
                    raise _Unsupported("item attributes")
                entries.append(self._rss_item(el, lang))
                continue
            self._check_once(seen, tag, _RSS_CHANNEL_ONCE)
            if tag == "title":
                value = _fp_finish(self._leaf(el))
                feed["title"] = value
                feed["title_detail"] = self._detail("text/plain", self._lang(el, lang), value)
            elif tag == "link":
                value = _fp_finish(self._resolve(self._leaf(el)))
                value = _NAMED_REF.sub(r"&\g<1>", value)
                feed["link"] = value
                link = {"rel": "alternate", "type": "text/html"}
                if value:
                    link["href"] = value
                feed.setdefault("links", []).append(link)
            elif tag == "description":
                feed["subtitle"] = _fp_finish(self._leaf(el))
            elif tag == "language":
                feed["language"] = _fp_finish(self._leaf(el))
            elif tag in _RSS_IGNORED:
                self._leaf(el)
            else:
                raise _Unsupported(f"channel element {tag}")
        return {"version": self.version, "feed": feed, "entries": entries, "bozo": False}

    def _rss_item(self, item: Any, parent_lang: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        lang = parent_lang
        seen: set[str] = set()
        for el in self._children(item):
            tag = el.tag
            if tag in _RSS_ITEM_ONCE:
                self._check_once(seen, tag, _RSS_ITEM_ONCE)
            if tag == "title":
                value = _fp_finish(self._leaf(el))
                entry["title"] = value
                entry["title_detail"] = self._detail("text/plain", self._lang(el, lang), value)
            elif tag == "link":
                value = _fp_finish(self._resolve(self._leaf(el))).replace("&amp;", "&")
                if "&" in value:
                    value = _NAMED_REF.sub(r"&\g<1>", value)
                link = {"rel": "alternate", "type": "text/html"}
                entry.setdefault("links", []).append(link)
                entry["link"] = value
                if value:
                    link["href"] = value
            elif tag == "guid":
                raw = self._leaf(el, _GUID_ATTRS)
                self._guid(entry, raw, el.get("isPermaLink", "true") == "true")
            elif tag == "pubDate":
                self._date(entry, "published", _fp_finish(self._leaf(el)))
            elif tag == "category":
                value = _fp_finish(self._leaf(el, _RSS_CATEGORY_ATTRS))
                self._category(entry, None, el.get("domain"), None, value)
            elif tag == "description":
                value = _fp_finish(self._leaf(el))
                entry["summary"] = value
                entry["summary_detail"] = self._detail("text/html", self._lang(el, lang), value)
            else:
                raise _Unsupported(f"item element {tag}")
        return entry

    # -- Atom 1.0 ------------------------------------------------------------------------

    def atom(self, root: Any) -> dict[str, Any]:
        for name in root.attrib:
            if name != _XML_LANG:
                raise _Unsupported(f"attribute {name}")
        feed: dict[str, Any] = {}
        lang = self._lang(root, None)
        if lang:
            feed["language"] = lang.replace("_", "-")
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for el in self._children(root):
            tag = el.tag
            if tag == _A_ENTRY:
                for name in el.attrib:
                    if name != _XML_LANG:
                        raise _Unsupported(f"attribute {name}")
                entries.append(self._atom_entry(el, self._lang(el, lang)))
                continue
            self._check_once(seen, tag, _ATOM_FEED_ONCE)
            el_lang = self._lang(el, lang)
            if tag == _A_TITLE:
                kind = self._text_type(el)
                value = _fp_finish(self._leaf(el, _TYPE_ATTR))
                feed["title"] = value
                feed["title_detail"] = self._detail(kind, el_lang, value)
            elif tag == _A_ID:
                self._guid(feed, self._leaf(el), True)
            elif tag == _A_LINK:
                self._atom_link(feed, el)
            elif tag in _ATOM_IGNORED:
                self._leaf(el)
            else:
                raise _Unsupported(f"feed element {tag}")
        return {"version": self.version, "feed": feed, "entries": entries, "bozo": False}

    @staticmethod
    def _text_type(el: Any) -> str:
        kind = el.get("type", "text")
        if kind.lower() not in _TEXT_CONSTRUCT_TYPES:
            raise _Unsupported(f"text construct of type {kind}")
        return _content_type(kind)

    def _atom_link(self, context: dict[str, Any], el: Any) -> None:
        if len(el) or (el.text or "").strip() or "href" not in el.attrib:
            raise _Unsupported("link without href")
        attrs: dict[str, Any] = {}
        for name, value in el.attrib.items():
            if name not in _LINK_ATTRS:
                raise _Unsupported(f"link attribute {name}")
            if name == _XML_LANG:
                continue
            attrs[name] = value.lower() if name in ("rel", "type") else value
        attrs.setdefault("rel", "alternate")
        attrs.setdefault("type", "application/atom+xml" if attrs["rel"] == "self" else "text/html")
        attrs["href"] = _fp_join(self.base, attrs["href"])
        context.setdefault("links", []).append(attrs)
        if attrs["rel"] == "alternate" and _content_type(attrs["type"]) in _HTML_TYPES:
            context["link"] = attrs["href"]

    def _atom_entry(self, entry_el: Any, lang: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        for el in self._children(entry_el):
            tag = el.tag
            if tag in _ATOM_ENTRY_ONCE:
                self._check_once(seen, tag, _ATOM_ENTRY_ONCE)
            if tag == _A_TITLE:
                kind = self._text_type(el)
                value = _fp_finish(self._leaf(el, _TYPE_ATTR))
                entry["title"] = value
                entry["title_detail"] = self._detail(kind, self._lang(el, lang), value)
            elif tag == _A_ID:
                self._guid(entry, self._leaf(el), True)
            elif tag == _A_LINK:
                self._atom_link(entry, el)
            elif tag in (_A_UPDATED, _A_PUBLISHED):
                self._date(entry, tag[len(_A) :], _fp_finish(self._leaf(el)))
            elif tag == _A_CATEGORY:
                value = _fp_finish(self._leaf(el, _ATOM_CATEGORY_ATTRS))
                get = el.get
                self._category(entry, get("term"), get("scheme"), get("label"), value)
            elif tag == _A_SUMMARY:
                kind = self._text_type(el)
                value = _fp_finish(self._leaf(el, _TYPE_ATTR))
                entry["summary"] = value
                entry["summary_detail"] = self._detail(kind, self._lang(el, lang), value)
            elif tag == _A_CONTENT:
                kind = self._text_type(el)
                value = _fp_finish(self._leaf(el, _TYPE_ATTR))
                entry["content"] = [self._detail(kind, self._lang(el, lang), value)]
                entry.setdefault("summary", value)
            else:
                raise _Unsupported(f"entry element {tag}")
        return entry


# ------------------------------------------------------------------------------------------
# Hostile input: neutralised before feedparser runs


def _decode(body: bytes, content_type: str) -> tuple[str, str | None]:
    """The document as text, and a warning when its declared encoding was wrong.

    Every check below runs on this text, never on bytes: a declaration written in UTF-16,
    UTF-7 (``+ADw-!ENTITY``) or split by ISO-2022 escapes cannot slip past them.  Order:
    byte-order mark or NUL pattern, HTTP charset, XML declaration, then UTF-8, cp1252, Latin-1.
    """
    detected = _detect_wide(body)
    if detected:
        return body.decode(detected, "replace").lstrip("\ufeff"), None
    if body.startswith(b"\x4c\x6f\xa7\x94"):
        raise ParseError("unsupported character encoding (EBCDIC)", "invalid")
    declared = [_charset(content_type), _xml_encoding(body)]
    candidates = [c for c in declared if c] + ["utf-8", "cp1252", "latin-1"]
    for name in dict.fromkeys(candidates):
        if name.startswith(("utf-16", "utf-32")):
            continue  # without a BOM or NULs these would turn ASCII into CJK
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        wanted = next((c for c in declared if c), None)
        note = None
        if wanted and wanted != name:
            note = f"declared character encoding {wanted} does not fit the document; read as {name}"
        return text.lstrip("\ufeff"), note
    raise ParseError("the document cannot be decoded", "invalid")  # pragma: no cover


def _detect_wide(body: bytes) -> str | None:
    """UTF-16/UTF-32 by byte-order mark or by where the NUL bytes of ASCII markup fall."""
    for bom, codec in (
        (b"\x00\x00\xfe\xff", "utf-32-be"),
        (b"\xff\xfe\x00\x00", "utf-32-le"),
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xfe\xff", "utf-16-be"),
        (b"\xff\xfe", "utf-16-le"),
    ):
        if body.startswith(bom):
            return codec if codec != "utf-8" else None
    sample = body[:64]
    if b"\x00" not in sample:
        return None
    zeros = [sum(1 for b in sample[k::4] if b == 0) for k in range(4)]
    quarter = len(sample[0::4])
    if zeros[1] == zeros[2] == quarter and zeros[3] == quarter and zeros[0] < quarter:
        return "utf-32-le"
    if zeros[0] == zeros[1] == zeros[2] == quarter and zeros[3] < quarter:
        return "utf-32-be"
    return "utf-16-le" if zeros[1] + zeros[3] >= zeros[0] + zeros[2] else "utf-16-be"


def _charset(content_type: str) -> str | None:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return _codec_name(value.strip().strip("\"'"))
    return None


def _xml_encoding(body: bytes) -> str | None:
    match = _XML_ENCODING.match(body[:300])
    return _codec_name(match.group(1).decode("ascii")) if match else None


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _strip_prolog_doctype(text: str) -> tuple[str, str]:
    """Remove every DOCTYPE (with its internal subset) before the root element.

    Returns the new text and the removed declaration(s).  The scan is bounded by
    ``MAX_PROLOG_BYTES``; a prolog we cannot delimit, or declarations left where feedparser
    would still read them, end in ``ParseError(kind="hostile")``.
    """
    removed: list[str] = []
    kept: list[str] = []
    start = i = 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i > MAX_PROLOG_BYTES:
            raise ParseError("hostile document: prolog too long", "hostile")
        if text.startswith("<?", i):
            i = _find_end(text, "?>", i)
        elif text.startswith("<!--", i):
            i = _find_end(text, "-->", i)
        elif text[i : i + 9].upper() == "<!DOCTYPE":
            end = _doctype_end(text, i)
            kept.append(text[start:i])
            removed.append(text[i:end])
            start = i = end
        else:
            break
    if removed:  # one copy of the document, however many declarations were dropped
        text = "".join([*kept, text[start:]])
        i -= sum(len(r) for r in removed)
    head_end = _FEEDPARSER_HEAD_END.search(text, i, i + MAX_PROLOG_BYTES)
    if head_end is None and len(text) > i + MAX_PROLOG_BYTES:
        raise ParseError("hostile document: no element near the start", "hostile")
    # feedparser reads entity declarations from everything before the first element
    head = text[: head_end.start() if head_end else len(text)]
    if _DECLARATION.search(head):
        raise ParseError("hostile document: DTD declarations outside the prolog", "hostile")
    return text, "".join(removed)


def _find_end(text: str, marker: str, start: int) -> int:
    end = text.find(marker, start, start + MAX_PROLOG_BYTES)
    if end < 0:
        raise ParseError("hostile or truncated document: unterminated prolog", "hostile")
    return end + len(marker)


def _doctype_end(text: str, start: int) -> int:
    """Index just after the DOCTYPE starting at ``start``: quotes, ``[…]`` and comments aware."""
    limit = min(len(text), start + MAX_PROLOG_BYTES)
    i = start + 9
    quote = ""
    in_subset = False
    while i < limit:
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif text.startswith("<!--", i):
            i = _find_end(text, "-->", i)
            continue
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            in_subset = True
        elif ch == "]":
            in_subset = False
        elif ch == ">" and not in_subset:
            return i + 1
        i += 1
    raise ParseError("hostile or truncated document: unterminated DOCTYPE", "hostile")


def _is_html(text: str, content_type: str) -> bool:
    """True when the root element is an HTML one, whatever the declared content type."""
    first = _FEEDPARSER_HEAD_END.search(text)
    match = _ROOT_NAME.match(text, first.start()) if first else None
    if match:
        return match.group(1).lower() in _HTML_ROOTS
    return "html" in content_type


def _defuse(text: str) -> str:
    """Rewrite character references feedparser would raise on; drop raw control characters.

    Each pass is skipped when it cannot change anything: a regex scan of the whole document
    costs ~5 ns a character, a ``str.find`` of one character (memchr) a small fraction of that.
    """
    if any(c in text for c in _CONTROL_LIST):
        text = _CONTROL_CHARS.sub("", text)
    if "#" in text:  # one character: "&#" is a slow two-character search here
        text = _CHAR_REF.sub(_fix_char_ref, text)
    return text


def _fix_char_ref(match: re.Match[str]) -> str:
    hexa, dec = match.groups()
    code = int(hexa, 16) if hexa else int(dec)
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or code == 0:
        return "&#xFFFD;"
    if code < 0x20 and code not in (0x9, 0xA, 0xD):
        return ""
    return match.group(0)


# ------------------------------------------------------------------------------------------
# JSON Feed 1.0 / 1.1


def _looks_like_json(body: bytes, content_type: str) -> bool:
    """JSON by its first character; the content type only decides for odd openings.

    Servers mislabel feeds both ways, so an XML body sent as ``application/json`` still goes
    to feedparser and a JSON Feed sent as ``text/plain`` is still read.
    """
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return "json" in content_type and not head.startswith(b"<")


def _parse_json_feed(body: bytes, *, url: str, max_entries: int, day_first: bool) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        raise ParseError(clean_text(f"invalid JSON: {exc}")[:300], "invalid") from exc
    version = str(doc.get("version", "")) if isinstance(doc, dict) else ""
    if "jsonfeed.org" not in version:
        raise ParseError("not a feed: a JSON document that is not a JSON Feed", "not_a_feed")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("invalid JSON Feed: no list of items", "invalid")
    warnings: list[str] = []
    feed_language = _opt(doc.get("language"))
    entries = [
        _map_json_item(item, url=url, feed_language=feed_language, warnings=warnings)
        for item in items
        if isinstance(item, dict)
    ]
    del day_first  # JSON Feed dates are RFC 3339; nothing is ambiguous
    kept = keep_newest(entries, max_entries)
    if len(kept) < len(entries):
        warnings.append(f"{len(entries)} entries in the document; kept the newest {len(kept)}")
    return ParsedFeed(
        url=clean_text(url),
        format="json11" if version.rstrip("/").endswith("1.1") else "json10",
        title=_opt(doc.get("title")),
        link=_abs(url, doc.get("home_page_url")),
        self_link=_abs(url, doc.get("feed_url")),
        language=feed_language,
        authors=_json_authors(doc, url),
        entries=kept,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _map_json_item(
    item: Mapping[str, Any], *, url: str, feed_language: str | None, warnings: list[str]
) -> ParsedEntry:
    content = _opt(item.get("content_html"))
    if content is None and _opt(item.get("content_text")) is not None:
        content = html.escape(str(_opt(item.get("content_text"))), quote=False)
    summary_text = _opt(item.get("summary"))
    published_raw = _opt(item.get("date_published"))
    updated_raw = _opt(item.get("date_modified"))
    images = (_abs(url, item.get(key)) for key in ("image", "banner_image"))
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return ParsedEntry(
        guid=_opt(item.get("id")),
        link=_abs(url, item.get("url")) or _abs(url, item.get("external_url")),
        title=_cut(_opt(item.get("title")), MAX_TITLE_CHARS, "title", warnings),
        summary=html.escape(summary_text, quote=False) if summary_text else None,
        content=_cut(content, MAX_HTML_CHARS, "content", warnings),
        authors=_json_authors(item, url),
        tags=tuple(dict.fromkeys(t for t in (_opt(x) for x in tags or []) if t)),
        published=_iso_datetime(published_raw),
        updated=_iso_datetime(updated_raw),
        published_raw=published_raw,
        updated_raw=updated_raw,
        language=_opt(item.get("language")) or feed_language,
        base=url,
        links=_json_attachments(item.get("attachments"), url),
        images=tuple(dict.fromkeys(u for u in images if u)),
    )


def _json_authors(obj: Mapping[str, Any], url: str) -> tuple[Author, ...]:
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    items = [
        {"name": a.get("name"), "href": _abs(url, a.get("url"))} for a in raw if isinstance(a, dict)
    ]
    return _authors(items)


def _json_attachments(raw: object, url: str) -> tuple[Link, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[Link] = []
    for item in raw:
        href = _abs(url, item.get("url")) if isinstance(item, dict) else None
        if href and isinstance(item, dict):
            out.append(
                Link(
                    href=href,
                    rel="enclosure",
                    type=_opt(item.get("mime_type")),
                    length=_int(item.get("size_in_bytes")),
                )
            )
    return tuple(out)


# ------------------------------------------------------------------------------------------
# Dates

_ISO_PARTS = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:[Tt ](\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)
_RFC822_PARTS = re.compile(
    r"(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{2,4})(?:\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?"
)
_NUMERIC_DATE = re.compile(
    r"^\s*(\d{1,4})[/.](\d{1,2})[/.](\d{1,4})(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)
_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}


def _entry_datetime(raw: str | None, parsed: Any, day_first: bool) -> datetime | None:
    """An aware UTC datetime, or None when the date is absent, impossible or out of range."""
    if raw is None:
        return None
    if parsed is None or type(parsed) is time.struct_time:  # hashable: Atom's updated and
        return _cached_entry_datetime(raw, parsed, day_first)  # published often match
    return _compute_entry_datetime(raw, parsed, day_first)


def _compute_entry_datetime(raw: str, parsed: Any, day_first: bool) -> datetime | None:
    matched, numeric = _numeric_date(raw, day_first)
    if matched:
        return numeric
    if parsed is None or _impossible(raw):
        return None
    try:
        y, mo, d, hh, mm, ss = (int(x) for x in tuple(parsed)[:6])
    except (TypeError, ValueError):
        return None
    return _safe_datetime(y, mo, d, hh, mm, ss)


_cached_entry_datetime = lru_cache(maxsize=1024)(_compute_entry_datetime)


def _numeric_date(raw: str, day_first: bool) -> tuple[bool, datetime | None]:
    """``25/03/2022``, ``3/4/2022`` (day-first when asked or obvious), ``2016/6/29``.

    feedparser misreads these; the first value says whether ``raw`` had this shape at all.
    """
    match = _NUMERIC_DATE.match(raw)
    if not match:
        return False, None
    a, b, c, hh, mm, ss = (int(x) if x else 0 for x in match.groups())
    if len(match.group(1)) == 4:
        year, month, day = a, b, c
    elif day_first or a > 12:
        day, month, year = a, b, c
    else:
        month, day, year = a, b, c
    if year < 100:
        year += 2000
    return True, _safe_datetime(year, month, day, hh, mm, ss)


def _impossible(raw: str) -> bool:
    """True when the text names a date that does not exist (feedparser rolls those over)."""
    iso = _ISO_PARTS.match(raw)
    if iso:
        y, mo, d, hh, mm, ss = (int(x) if x else 0 for x in iso.groups())
        return _safe_datetime(y, mo, d, hh, mm, ss) is None
    rfc = _RFC822_PARTS.search(raw)
    if rfc and rfc.group(2).lower() in _MONTHS:
        d, y = int(rfc.group(1)), int(rfc.group(3))
        hh, mm, ss = (int(x) if x else 0 for x in rfc.group(4, 5, 6))
        y = y + 2000 if y < 100 else y
        return _safe_datetime(y, _MONTHS[rfc.group(2).lower()], d, hh, mm, ss) is None
    return False


def _safe_datetime(y: int, mo: int, d: int, hh: int, mm: int, ss: int) -> datetime | None:
    try:
        return datetime(y, mo, d, hh, mm, min(ss, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _iso_datetime(raw: str | None) -> datetime | None:
    """RFC 3339 / ISO 8601 text -> aware UTC; naive times are taken as UTC."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        value = datetime.fromisoformat(text)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        offset = value.utcoffset() or timedelta(0)
        return (value.replace(tzinfo=None) - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


# ------------------------------------------------------------------------------------------
# Small helpers


def _opt(value: object) -> str | None:
    """A cleaned, non-empty string, or None."""
    if type(value) is str:  # the common case, checked first: called ~10 times an entry
        text = clean_text(value).strip()
    elif value is None or isinstance(value, (dict, list)):
        return None
    else:
        text = clean_text(str(value)).strip()
    return text or None


def _abs(base: str, href: object) -> str | None:
    text = _opt(href)
    if text is None:
        return None
    return _abs_text(base, text)


@lru_cache(maxsize=4096)
def _abs_text(base: str, text: str) -> str:
    """Pure and cached: an entry's link is resolved as its main link and again among links."""
    try:
        return clean_text(_join(base, text))
    except ValueError:
        return text


def _int(value: object) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _cut(value: str | None, limit: int, field: str, warnings: list[str]) -> str | None:
    """Bound a field's length, and for HTML fields its nesting depth."""
    if value is None:
        return None
    if len(value) > limit:
        warnings.append(f"an entry {field} longer than {limit} characters was cut")
        value = value[:limit]
    if field != "title" and _html_depth(value) > MAX_HTML_DEPTH:
        warnings.append(f"an entry {field} nested deeper than {MAX_HTML_DEPTH} was made text")
        text = html.unescape(" ".join(_TAG.sub(" ", value).split()))
        value = html.escape(clean_text(text), quote=False)
    return value


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>|<!--.*?-->", re.DOTALL)
# elements that never nest (void) or whose end tag may be left out, so they do not add depth
_FLAT_ELEMENTS = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
        "p",
        "li",
        "dt",
        "dd",
        "tr",
        "td",
        "th",
        "thead",
        "tbody",
        "tfoot",
        "option",
        "optgroup",
        "colgroup",
        "caption",
        "rb",
        "rt",
        "rp",
    }
)


def _html_depth(markup: str) -> int:
    """The deepest element nesting in ``markup``, counted cheaply with one regex pass."""
    if markup.count("<") <= MAX_HTML_DEPTH:
        return 0
    depth = deepest = 0
    for match in _TAG.finditer(markup):
        closing, name, self_closing = match.groups()
        if name is None or self_closing or name.lower() in _FLAT_ELEMENTS:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _entry_date(entry: ParsedEntry) -> datetime | None:
    return entry.published or entry.updated


def _stamp(value: datetime) -> float:
    return (value - datetime.min.replace(tzinfo=UTC)).total_seconds()


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def html_encoding(doc: bytes) -> str:
    """The character encoding of an HTML page: BOM, ``<meta charset>``, else UTF-8 or cp1252.

    Without this, lxml guesses Latin-1 for a UTF-8 page that declares nothing ("RÃ©silience").
    """
    if doc.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if doc.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    declared = _META_CHARSET.search(doc[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        try:
            return codecs.lookup(name).name
        except LookupError:
            pass
    try:
        doc.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _html_root(doc: bytes) -> Any:
    if not doc.strip():
        return None
    parser = lxml.html.HTMLParser(
        encoding=html_encoding(doc), no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        return lxml.html.document_fromstring(doc, parser=parser)
    except (lxml.etree.ParserError, ValueError):
        return None

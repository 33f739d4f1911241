"""HTML pages -> the feeds they advertise, and the character encoding to read them with.

What enters: the bytes of a page that is not a feed (a member gave the site's address, or
autodiscovery looks for a feed).  What leaves: absolute ``Link`` records of the page's
``<link rel="alternate" type=…>`` feeds, or the ``ParseError`` saying "not a feed" and naming
them.  The page is parsed with lxml's HTML parser with the network off: nothing is fetched.
"""

from __future__ import annotations

import codecs
import re
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html

from aggregator.errors import ParseError
from aggregator.ingest.parse.fields import optional_text, strip_unsafe_chars
from aggregator.models import Link

__all__ = ["FEED_LINK_TYPES", "find_feed_links", "html_encoding", "not_a_feed"]

FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/rdf+xml",
    }
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


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
        absolute = strip_unsafe_chars(urljoin(base, href))
        if absolute in seen:
            continue
        seen.add(absolute)
        found.append(
            Link(
                href=absolute,
                rel="alternate",
                type=kind,
                hreflang=optional_text(el.get("hreflang")),
            )
        )
    return found


def not_a_feed(data: bytes, url: str) -> ParseError:
    """The error for an HTML page, naming the feeds it advertises when it advertises any."""
    links = find_feed_links(data, url) if data else []
    if links:
        listed = ", ".join(link.href for link in links)
        return ParseError(f"not a feed: this is an HTML page; it advertises {listed}", "not_a_feed")
    return ParseError("not a feed: this is an HTML page and it advertises no feed", "not_a_feed")


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

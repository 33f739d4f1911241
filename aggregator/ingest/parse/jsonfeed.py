"""JSON Feed 1.0 / 1.1 bytes -> ``ParsedFeed`` (feedparser does not read JSON Feed).

What enters: the body and its final URL.  What leaves: a ``ParsedFeed`` whose entries follow
the same rules as the XML formats' (``fields``, ``entries``), dates read by ``ingest.dates``; or
``ParseError`` for JSON that is not a JSON Feed (``not_a_feed``) or is broken (``invalid``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

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
    strip_unsafe_chars,
)
from aggregator.models import Author, Link, ParsedEntry, ParsedFeed

__all__ = ["looks_like_json", "parse_json_feed"]


def looks_like_json(body: bytes, content_type: str) -> bool:
    """JSON by its first character; the content type only decides for odd openings.

    Servers mislabel feeds both ways, so an XML body sent as ``application/json`` still goes
    to the XML readers and a JSON Feed sent as ``text/plain`` is still read.
    """
    head = body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"{"):
        return True
    return "json" in content_type and not head.startswith(b"<")


def parse_json_feed(body: bytes, *, url: str, max_entries: int, day_first: bool) -> ParsedFeed:
    """The JSON Feed in ``body``; ``day_first`` only matters for a date the spec forbids
    (JSON Feed dates are RFC 3339), read like any other source's."""
    try:
        doc = json.loads(body.decode("utf-8-sig", "replace"))
    except (ValueError, RecursionError) as exc:
        raise ParseError(strip_unsafe_chars(f"invalid JSON: {exc}")[:300], "invalid") from exc
    version = str(doc.get("version", "")) if isinstance(doc, dict) else ""
    if "jsonfeed.org" not in version:
        raise ParseError("not a feed: a JSON document that is not a JSON Feed", "not_a_feed")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("invalid JSON Feed: no list of items", "invalid")
    warnings: list[str] = []
    feed_language = optional_text(doc.get("language"))
    mapped = [
        _map_item(
            item, url=url, feed_language=feed_language, day_first=day_first, warnings=warnings
        )
        for item in items
        if isinstance(item, dict)
    ]
    entries = drop_empty_entries(mapped, warnings)
    kept = keep_newest(entries, max_entries)
    if len(kept) < len(entries):
        warnings.append(f"{len(entries)} entries in the document; kept the newest {len(kept)}")
    return ParsedFeed(
        url=strip_unsafe_chars(url),
        format="json11" if version.rstrip("/").endswith("1.1") else "json10",
        title=optional_text(doc.get("title")),
        link=absolute(url, doc.get("home_page_url")),
        self_link=absolute(url, doc.get("feed_url")),
        language=feed_language,
        authors=_authors(doc, url),
        entries=kept,
        warnings=tuple(dict.fromkeys(warnings)),
    )


def _map_item(
    item: Mapping[str, Any],
    *,
    url: str,
    feed_language: str | None,
    day_first: bool,
    warnings: list[str],
) -> ParsedEntry:
    content = optional_text(item.get("content_html"))
    if content is None and optional_text(item.get("content_text")) is not None:
        content = html.escape(str(optional_text(item.get("content_text"))), quote=False)
    summary_text = optional_text(item.get("summary"))
    published_raw = optional_text(item.get("date_published"))
    updated_raw = optional_text(item.get("date_modified"))
    images = (absolute(url, item.get(key)) for key in ("image", "banner_image"))
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    return ParsedEntry(
        guid=optional_text(item.get("id")),
        link=absolute(url, item.get("url")) or absolute(url, item.get("external_url")),
        title=bounded(optional_text(item.get("title")), MAX_TITLE_CHARS, "title", warnings),
        summary=html.escape(summary_text, quote=False) if summary_text else None,
        content=bounded(content, MAX_HTML_CHARS, "content", warnings),
        authors=_authors(item, url),
        tags=tuple(dict.fromkeys(t for t in (optional_text(x) for x in tags or []) if t)),
        published=read_date(published_raw, day_first=day_first),
        updated=read_date(updated_raw, day_first=day_first),
        published_raw=published_raw,
        updated_raw=updated_raw,
        language=optional_text(item.get("language")) or feed_language,
        base=url,
        links=_attachments(item.get("attachments"), url),
        images=tuple(dict.fromkeys(u for u in images if u)),
    )


def _authors(obj: Mapping[str, Any], url: str) -> tuple[Author, ...]:
    """JSON Feed 1.1 ``authors``, else 1.0's single ``author``."""
    raw = obj.get("authors")
    if not isinstance(raw, list):
        raw = [obj["author"]] if isinstance(obj.get("author"), dict) else []
    items = [
        {"name": a.get("name"), "href": absolute(url, a.get("url"))}
        for a in raw
        if isinstance(a, dict)
    ]
    return authors_from(items)


def _attachments(raw: object, url: str) -> tuple[Link, ...]:
    if not isinstance(raw, list):
        return ()
    out: list[Link] = []
    for item in raw:
        href = absolute(url, item.get("url")) if isinstance(item, dict) else None
        if href and isinstance(item, dict):
            out.append(
                Link(
                    href=href,
                    rel="enclosure",
                    type=optional_text(item.get("mime_type")),
                    length=optional_count(item.get("size_in_bytes")),
                )
            )
    return tuple(out)

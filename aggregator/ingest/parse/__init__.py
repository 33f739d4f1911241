"""Fetched bytes + response headers + final URL -> ``ParsedFeed``, or ``ParseError``.

What enters ``parse_document``: the body as fetched, the response headers, the final URL (after
redirects: relative links resolve against it), the caps on entries and on the document's size
(``fetch.max_entries`` and ``fetch.max_body_bytes``: the parser refuses nothing the fetcher
accepted) and the source's ``day_first`` setting.  What leaves: a ``ParsedFeed`` of plain
records (``models``) whose strings hold no control characters or lone surrogates, and whose
``warnings`` say what was dropped or repaired, or ``ParseError`` with ``kind`` one of ``empty``,
``not_a_feed``, ``hostile``, ``invalid``.  Nothing is fetched, nothing raises anything else, and
``parse_document`` is a module-level function of bytes and plain values so that it can run in a
``ProcessPoolExecutor``.

The stages, one module each:

* ``jsonfeed``: JSON Feed 1.0 / 1.1, mapped by hand (feedparser does not read it);
* ``decode``: bytes -> text, the encoding picked here and not by a parser;
* ``defuse``: DOCTYPE and entity declarations removed, references feedparser raises on rewritten;
* ``fast``: plain RSS 2.0 / Atom 1.0 read with lxml into feedparser's shape (a speed path with
  one switch, ``fast.ENABLED``);
* ``feedparser_adapter``: everything else read by feedparser, and both results mapped to records;
* ``repair``: a bare ``&`` and HTML entities in a document the fast path declined, repaired
  so that ``Q&A`` and ``?id=1&lang=en`` read as written;
* ``entries``: per-entry limits: an oversized entry dropped before parsing, the incomplete last
  entry of a truncated document, entries with no title, no link and no text;
* ``html``: an HTML page's advertised feeds (the "not a feed" message, autodiscovery);
* ``fields``: the value rules both mappings share, and ``keep_newest``.

Dates are read by ``ingest.dates``, the one reader of dates, from the text the document wrote.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aggregator.errors import ParseError
from aggregator.ingest.parse import fast
from aggregator.ingest.parse.decode import declare_utf8, decode_document
from aggregator.ingest.parse.defuse import defuse_references, is_html_root, strip_prolog_doctype
from aggregator.ingest.parse.entries import drop_oversized_entries, ends_inside_entry
from aggregator.ingest.parse.feedparser_adapter import map_feedparser, run_feedparser
from aggregator.ingest.parse.fields import keep_newest, strip_unsafe_chars
from aggregator.ingest.parse.html import find_feed_links, html_encoding, not_a_feed
from aggregator.ingest.parse.jsonfeed import looks_like_json, parse_json_feed
from aggregator.ingest.parse.repair import repair_references
from aggregator.models import ParsedFeed

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "find_feed_links",
    "html_encoding",
    "keep_newest",
    "parse_document",
    "strip_unsafe_chars",
]

#: The default cap on a document's size, for callers without settings; the cycle and discovery
#: pass ``fetch.max_body_bytes``, the fetcher's own cap, so the two always agree.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def parse_document(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str],
    max_entries: int = 200,
    day_first: bool = False,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ParsedFeed:
    """Turn one fetched document into a ``ParsedFeed`` or raise ``ParseError``.

    ``day_first`` reads ambiguous numeric dates such as ``03/04/2022`` as 3 April;
    ``max_bytes`` is the largest document read (entries are capped one by one, ``entries``).
    """
    if not body or not body.strip():
        raise ParseError("empty document: the server sent no content", kind="empty")
    if len(body) > max_bytes:
        raise ParseError(
            f"document too large ({len(body)} bytes, limit {max_bytes})", kind="hostile"
        )
    lowered = {k.lower(): v for k, v in headers.items()}
    content_type = lowered.get("content-type", "").lower()
    if looks_like_json(body, content_type):
        return parse_json_feed(body, url=url, max_entries=max_entries, day_first=day_first)
    return _parse_xml_feed(
        body, url=url, headers=lowered, max_entries=max_entries, day_first=day_first
    )


def _parse_xml_feed(
    body: bytes, *, url: str, headers: dict[str, str], max_entries: int, day_first: bool
) -> ParsedFeed:
    """Decode, defuse, then the fast path or feedparser; any exception left is ``ParseError``."""
    content_type = headers.get("content-type", "")
    text, encoding_note = decode_document(body, content_type)
    text, doctype = strip_prolog_doctype(text)
    if is_html_root(text, content_type):
        raise not_a_feed(body, url)
    warnings = [encoding_note] if encoding_note else []
    text = drop_oversized_entries(defuse_references(text), warnings)
    media_type = content_type.split(";")[0].strip() or "application/xml"
    try:
        text, data, result = _read(text, url, headers, media_type, doctype, warnings)
        return map_feedparser(
            result,
            data=data,
            url=url,
            doctype=doctype,
            warnings=warnings,
            cut_short=bool(result.get("bozo")) and ends_inside_entry(text),
            headers=headers,
            max_entries=max_entries,
            day_first=day_first,
        )
    except ParseError:
        raise
    except (Exception, RecursionError) as exc:  # feedparser raises despite its contract
        message = strip_unsafe_chars(f"unreadable feed: {type(exc).__name__}: {exc}")[:300]
        raise ParseError(message, "invalid") from exc


def _read(
    text: str,
    url: str,
    headers: dict[str, str],
    media_type: str,
    doctype: str,
    warnings: list[str],
) -> tuple[str, bytes, Any]:
    """The fast path's reading, else the fast path's on the repaired text, else feedparser's;
    with the text and the UTF-8 bytes that were read."""

    def fast_reading(data: bytes) -> dict[str, Any] | None:
        return fast.read_fast(
            data,
            url,
            media_type=media_type,
            has_doctype=bool(doctype),
            has_content_language="content-language" in headers,
        )

    # the readers get UTF-8 that says so: the text they parse is the text checked here
    data = declare_utf8(text).encode("utf-8")
    result = fast_reading(data)
    if result is not None:
        return text, data, result
    repaired = repair_references(text, warnings)  # only a malformed document changes
    if repaired is not text:
        text, data = repaired, declare_utf8(repaired).encode("utf-8")
        result = fast_reading(data)
        if result is not None:
            return text, data, result
    response_headers = dict(headers)
    response_headers["content-type"] = f"{media_type}; charset=utf-8"
    response_headers["content-location"] = url
    return text, data, run_feedparser(data, response_headers)

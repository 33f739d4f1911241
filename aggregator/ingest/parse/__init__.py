"""Fetched bytes + response headers + final URL -> ``ParsedFeed``, or ``ParseError``.

What enters ``parse_document``: the body as fetched, the response headers, the final URL (after
redirects: relative links resolve against it), the cap on entries and the source's ``day_first``
setting.  What leaves: a ``ParsedFeed`` of plain records (``models``) whose strings hold no
control characters or lone surrogates, or ``ParseError`` with ``kind`` one of ``empty``,
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
* ``html``: an HTML page's advertised feeds (the "not a feed" message, autodiscovery);
* ``fields``: the value rules both mappings share, and ``keep_newest``.

Dates are read by ``ingest.dates``, the one reader of dates, from the text the document wrote.
"""

from __future__ import annotations

from collections.abc import Mapping

from aggregator.errors import ParseError
from aggregator.ingest.parse import fast
from aggregator.ingest.parse.decode import declare_utf8, decode_document
from aggregator.ingest.parse.defuse import defuse_references, is_html_root, strip_prolog_doctype
from aggregator.ingest.parse.feedparser_adapter import map_feedparser, run_feedparser
from aggregator.ingest.parse.fields import keep_newest, strip_unsafe_chars
from aggregator.ingest.parse.html import find_feed_links, html_encoding, not_a_feed
from aggregator.ingest.parse.jsonfeed import looks_like_json, parse_json_feed
from aggregator.models import ParsedFeed

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "find_feed_links",
    "html_encoding",
    "keep_newest",
    "parse_document",
    "strip_unsafe_chars",
]

#: Larger documents are refused before any parser runs (the fetcher caps bodies too).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


def parse_document(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str],
    max_entries: int = 200,
    day_first: bool = False,
) -> ParsedFeed:
    """Turn one fetched document into a ``ParsedFeed`` or raise ``ParseError``.

    ``day_first`` reads ambiguous numeric dates such as ``03/04/2022`` as 3 April.
    """
    if not body or not body.strip():
        raise ParseError("empty document: the server sent no content", kind="empty")
    if len(body) > MAX_DOCUMENT_BYTES:
        raise ParseError(
            f"document too large ({len(body)} bytes, limit {MAX_DOCUMENT_BYTES})", kind="hostile"
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
    # the readers get UTF-8 that says so: the text they parse is the text checked here
    data = declare_utf8(defuse_references(text)).encode("utf-8")
    media_type = content_type.split(";")[0].strip() or "application/xml"
    try:
        result = fast.read_fast(
            data,
            url,
            media_type=media_type,
            has_doctype=bool(doctype),
            has_content_language="content-language" in headers,
        )
        if result is None:
            response_headers = dict(headers)
            response_headers["content-type"] = f"{media_type}; charset=utf-8"
            response_headers["content-location"] = url
            result = run_feedparser(data, response_headers)
        return map_feedparser(
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
        message = strip_unsafe_chars(f"unreadable feed: {type(exc).__name__}: {exc}")[:300]
        raise ParseError(message, "invalid") from exc

"""HTML listing pages (sources without a feed) -> ``ParsedFeed`` by CSS selectors.

Some members publish only a blog listing page.  The operator describes it with
``models.ScrapeRules`` in ``feeds.yaml`` and this module reads each item the way a person would:
a title (sometimes missing), a meta line ``tags - dd/mm/yyyy`` where tags or date may be missing,
and an excerpt ending in a read-more link such as ``(+)``.  Tags and date often share one element,
so the date is found *inside* the text by a pattern built from ``date_format`` and what is left
becomes the tags.  The date found is read by ``ingest.dates``, the one reader of dates, with
``date_format`` deciding only what it cannot (``03/04/2024``: ``%d`` before ``%m`` is day
first); so ``25/03/2022`` is 25 March even under ``%m/%d/%Y``, and ``%d %B %Y`` reads French or
Spanish month names.  Nothing is fetched: the HTML parser runs with the network off.
"""

from __future__ import annotations

import copy as copy_module
import html
import re
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import lxml.etree
import lxml.html
from lxml.cssselect import SelectorError

from aggregator.errors import ParseError
from aggregator.ingest.dates import read_date
from aggregator.ingest.parse import (
    MAX_DOCUMENT_BYTES,
    html_encoding,
    keep_newest,
    strip_unsafe_chars,
)
from aggregator.models import ParsedEntry, ParsedFeed, ScrapeRules

__all__ = ["scrape_listing"]

_TRAILING_MARKER = re.compile(r"\s*(?:\(\+\)|\[\+\])\s*$")
_MARKER_ONLY = re.compile(
    r"^\s*(?:\(\+\)|\[\+\]|\+|read more|more|lire la suite|leer más)\s*$", re.IGNORECASE
)
_SEPARATORS = " \t\r\n-–—|·•"
_FORMAT_PIECES = {
    "d": r"\d{1,2}",
    "m": r"\d{1,2}",
    "Y": r"\d{4}",
    "y": r"\d{2}",
    "H": r"\d{1,2}",
    "M": r"\d{2}",
    "S": r"\d{2}",
    "b": r"[^\W\d_]+\.?",
    "B": r"[^\W\d_]+",
    "%": "%",
}


def scrape_listing(
    body: bytes,
    *,
    url: str,
    rules: ScrapeRules,
    max_entries: int = 200,
    max_bytes: int = MAX_DOCUMENT_BYTES,
) -> ParsedFeed:
    """Read the items of a listing page; ``ParseError`` when there is nothing to read.

    ``max_bytes`` is the largest page read (``fetch.max_body_bytes`` in a cycle).
    """
    if not body or not body.strip():
        raise ParseError("empty document: the server sent no content", kind="empty")
    if len(body) > max_bytes:
        raise ParseError(f"listing page too large ({len(body)} bytes)", kind="hostile")
    root = _document(body)
    base = _base_url(root, url)
    items = _select(root, rules.item)
    if not items:
        raise ParseError(
            f"not a feed: no item on the page matches the selector {rules.item!r}", "not_a_feed"
        )
    date_pattern = _date_regex(rules.date_format)
    day_first = _is_day_first(rules.date_format)
    read = [_entry(item, rules, base, date_pattern, day_first) for item in items]
    entries = [e for e in read if e.link or e.title or e.summary]
    warnings = []
    if len(entries) < len(read):  # an ad slot or a placeholder matching the item selector
        warnings.append(f"{len(read) - len(entries)} empty items on the page were skipped")
    kept = keep_newest(entries, max_entries)
    if len(kept) < len(entries):
        warnings.append(f"{len(entries)} items on the page; kept the newest {len(kept)}")
    title_el = next(iter(root.iter("title")), None)
    return ParsedFeed(
        url=strip_unsafe_chars(url),
        format="html",
        title=_text(title_el),
        link=strip_unsafe_chars(url),
        language=_opt(root.get("lang")),
        entries=kept,
        warnings=tuple(warnings),
    )


def _entry(
    item: Any, rules: ScrapeRules, base: str, date_pattern: re.Pattern[str], day_first: bool
) -> ParsedEntry:
    title_el = _first(item, rules.title)
    meta_date = _text(_first(item, rules.date))
    published, published_raw = _find_date(meta_date, date_pattern, day_first)
    tags_text = _text(_first(item, rules.tags))
    if tags_text is not None:  # tags and date often share one line: "Migration - 28/09/2018"
        tags_text = date_pattern.sub("", tags_text, count=1)
    excerpt = _excerpt(_first(item, rules.excerpt))
    return ParsedEntry(
        link=_link(item, rules, title_el, base),
        title=_text(title_el),
        summary=html.escape(excerpt, quote=False) if excerpt else None,
        tags=_split_tags(tags_text),
        published=published,
        published_raw=published_raw,
        base=base,
    )


def _find_date(
    text: str | None, pattern: re.Pattern[str], day_first: bool
) -> tuple[datetime | None, str | None]:
    """(date, raw text): the first date-shaped part of ``text``; an unreadable one stays raw."""
    if text is None:
        return None, None
    match = pattern.search(text)
    if match is None:
        return None, text.strip(_SEPARATORS) or None
    raw = match.group(0)
    return read_date(raw, day_first=day_first), raw


def _is_day_first(date_format: str) -> bool:
    """Whether ``date_format`` writes the day before the month (``%d/%m/%Y``)."""
    day, month = date_format.find("%d"), date_format.find("%m")
    return 0 <= day < month


def _date_regex(date_format: str) -> re.Pattern[str]:
    """A search pattern for text written with the strptime ``date_format``."""
    out: list[str] = []
    i = 0
    while i < len(date_format):
        ch = date_format[i]
        if ch == "%" and i + 1 < len(date_format):
            out.append(_FORMAT_PIECES.get(date_format[i + 1], r"\S+"))
            i += 2
            continue
        out.append(r"\s+" if ch.isspace() else re.escape(ch))
        i += 1
    return re.compile(r"(?<!\d)" + "".join(out) + r"(?!\d)")


def _split_tags(text: str | None) -> tuple[str, ...]:
    if text is None:
        return ()
    parts = (" ".join(part.split()).strip(_SEPARATORS) for part in text.split(","))
    return tuple(dict.fromkeys(p for p in parts if p))


def _link(item: Any, rules: ScrapeRules, title_el: Any, base: str) -> str | None:
    """The post's address: the rule's link, the title's anchor, or any anchor (``(+)``)."""
    candidates: list[Any] = []
    if rules.link:
        candidates.extend(_select(item, rules.link))
    if title_el is not None:
        candidates.extend([title_el, *title_el.iter("a")])
    candidates.extend(item.iter("a"))
    for el in candidates:
        href = (el.get("href") or "").strip()
        if href and not href.startswith("#"):
            return strip_unsafe_chars(urljoin(base, href))
    return None


def _excerpt(el: Any) -> str | None:
    """The excerpt's text without its read-more anchor (``(+)``) or a trailing marker."""
    if el is None:
        return None
    copy = copy_module.deepcopy(el)
    for anchor in list(copy.iter("a")):
        if _MARKER_ONLY.match(anchor.text_content() or ""):
            anchor.drop_tree()  # keeps the anchor's tail text
    text = " ".join(strip_unsafe_chars(copy.text_content()).split())
    return _TRAILING_MARKER.sub("", text).strip() or None


# ------------------------------------------------------------------------------------------
# lxml helpers


def _document(body: bytes) -> Any:
    parser = lxml.html.HTMLParser(
        encoding=html_encoding(body), no_network=True, remove_comments=True, remove_pis=True
    )
    try:
        return lxml.html.document_fromstring(body, parser=parser)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise ParseError(f"unreadable HTML page: {exc}", "invalid") from exc


def _base_url(root: Any, url: str) -> str:
    for el in root.iter("base"):
        href = str(el.get("href") or "").strip()
        if href:
            return urljoin(url, href)
    return url


def _select(el: Any, selector: str) -> list[Any]:
    try:
        return list(el.cssselect(selector))
    except SelectorError as exc:
        raise ParseError(f"invalid CSS selector {selector!r}: {exc}", "invalid") from exc


def _first(el: Any, selector: str | None) -> Any:
    if not selector:
        return None
    found = _select(el, selector)
    return found[0] if found else None


def _text(el: Any) -> str | None:
    if el is None:
        return None
    return _opt(el.text_content())


def _opt(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(strip_unsafe_chars(value).split())
    return text or None

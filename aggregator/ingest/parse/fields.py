"""Document values -> the plain values of a ``ParsedEntry``: safe text, absolute links, bounded
fields, author records, and the cut to the newest entries.

What enters: strings, numbers and small mappings as the feedparser adapter and the JSON Feed
reader find them.  What leaves: strings free of control characters and lone surrogates (the
only strings a ``ParsedFeed`` holds), ``Author`` records, tuples.  Both readers use the same
rules here, so an RSS, Atom and JSON Feed entry saying the same thing come out the same.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache

from aggregator.ingest.urls import join_url
from aggregator.models import Author, ParsedEntry

__all__ = [
    "MAX_HTML_CHARS",
    "MAX_HTML_DEPTH",
    "MAX_TITLE_CHARS",
    "SCAN_MIN_CHARS",
    "absolute",
    "authors_from",
    "bounded",
    "keep_newest",
    "optional_count",
    "optional_text",
    "raw_rss_authors",
    "strip_unsafe_chars",
]

#: Longest title / HTML field kept; longer ones are cut and a warning is recorded.
MAX_TITLE_CHARS = 4_000
MAX_HTML_CHARS = 1_000_000
#: Deeper HTML is flattened to text: sanitizing it costs time quadratic in the depth.
MAX_HTML_DEPTH = 1_000

_UNSAFE_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: Byte tables for ``bytes.translate``: 0 where the byte is unsafe, 1 elsewhere.
_LATIN1_UNSAFE = bytes(0 if _UNSAFE_CHARS.match(chr(i)) else 1 for i in range(256))
_UTF8_CONTROL = bytes(0 if _CONTROL_CHARS.match(chr(i)) else 1 for i in range(256))
_UTF8_C1 = re.compile(b"\xc2[\x80-\x9f]")
#: Below this length the regex is as cheap as the byte-level checks.
SCAN_MIN_CHARS = 128


def strip_unsafe_chars(value: str) -> str:
    """Drop control characters (tab, LF and CR stay), lone surrogates and non-characters."""
    if len(value) < SCAN_MIN_CHARS:
        if value.isprintable():  # every unsafe character is Cc, Cs or Cn: none is printable
            return value
    elif _is_clean(value):
        return value
    if "\x85" in value:  # NEL separates lines: it becomes one, not nothing
        value = value.replace("\x85", "\n")
    return _UNSAFE_CHARS.sub("", value)


def _is_clean(value: str) -> bool:
    """True when ``value`` holds nothing ``strip_unsafe_chars`` drops, checked without a regex.

    Text that fits Latin-1 is checked byte for byte; other text is encoded as UTF-8, which
    refuses lone surrogates and writes every control character as the same single byte, C1
    characters as byte C2 then 80-9F, and the two non-characters as EF BF BE / EF BF BF.
    (Why: docs/performance.md, "Byte-level text checks".)
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


def optional_text(value: object) -> str | None:
    """A cleaned, non-empty string, or None."""
    if type(value) is str:  # the common case, checked first: called ~10 times an entry
        text = strip_unsafe_chars(value).strip()
    elif value is None or isinstance(value, (dict, list)):
        return None
    else:
        text = strip_unsafe_chars(str(value)).strip()
    return text or None


def absolute(base: str, href: object) -> str | None:
    """``href`` resolved against ``base``, cleaned; None when there is no ``href``."""
    text = optional_text(href)
    if text is None:
        return None
    return _absolute_text(base, text)


@lru_cache(maxsize=4096)
def _absolute_text(base: str, text: str) -> str:
    """Pure and cached: an entry's link is resolved as its main link and again among links."""
    try:
        return strip_unsafe_chars(join_url(base, text))
    except ValueError:
        return text


def optional_count(value: object) -> int | None:
    """A non-negative integer (an enclosure's length), or None."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def bounded(value: str | None, limit: int, field: str, warnings: list[str]) -> str | None:
    """Bound a field's length, and for HTML fields its nesting depth, saying so in ``warnings``."""
    if value is None:
        return None
    if len(value) > limit:
        warnings.append(f"an entry {field} longer than {limit} characters was cut")
        value = value[:limit]
    if field != "title" and _html_depth(value) > MAX_HTML_DEPTH:
        warnings.append(f"an entry {field} nested deeper than {MAX_HTML_DEPTH} was made text")
        text = html.unescape(" ".join(_TAG.sub(" ", value).split()))
        value = html.escape(strip_unsafe_chars(text), quote=False)
    return value


_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)[^>]*?(/?)>|<!--.*?-->", re.DOTALL)
# elements that never nest (void) or whose end tag may be left out, so they do not add depth
_FLAT_ELEMENTS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody",
     "tfoot", "option", "optgroup", "colgroup", "caption", "rb", "rt", "rp"}
)  # fmt: skip


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


# ------------------------------------------------------------------------------------------
# Authors


def authors_from(
    items: Iterable[Mapping[str, object]], raw_authors: Sequence[str] = ()
) -> tuple[Author, ...]:
    """``Author`` records from name / email / href-or-uri-or-url mappings, duplicates dropped.

    ``raw_authors`` are the RSS author texts as written (``raw_rss_authors``), used to repair
    the addresses feedparser cut.
    """
    out: list[Author] = []
    previous: Author | None = None
    for item in items:
        name = optional_text(item.get("name"))
        email = optional_text(item.get("email"))
        uri = optional_text(item.get("href") or item.get("uri") or item.get("url"))
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


def raw_rss_authors(data: bytes) -> list[str]:
    """RSS ``<author>`` texts as written, to repair what feedparser's e-mail regex cut.

    feedparser only knows top-level domains of 2-4 letters, so
    ``press@city.barcelona (Press Office)`` comes back as a mangled name and a cut address.
    """
    found = (html.unescape(m.decode("utf-8", "replace")) for m in _RSS_AUTHOR.findall(data))
    return [strip_unsafe_chars(text).strip() for text in found]


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


# ------------------------------------------------------------------------------------------
# The cut


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


def _entry_date(entry: ParsedEntry) -> datetime | None:
    return entry.published or entry.updated


def _stamp(value: datetime) -> float:
    return (value - datetime.min.replace(tzinfo=UTC)).total_seconds()

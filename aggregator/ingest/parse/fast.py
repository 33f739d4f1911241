"""Plain RSS 2.0 and Atom 1.0 bytes -> the dictionary feedparser would make of them, or None.

A second implementation kept for speed: feedparser is most of a cycle's CPU even with its
sanitizer off, and lxml reads the same bytes many times faster.  So the plain,
well-formed RSS 2.0 and Atom 1.0 that most members publish are read here with lxml (entities,
DTDs and the network off), and feedparser's own rules are re-applied: whitespace stripping,
relative URIs joined with its ``_urljoin``, its UTF-8-read-as-Latin-1 repair and cp1252 mapping,
``guid``/``id`` standing in for a missing link, ``xml:lang`` inheritance.  The result goes to
the same ``feedparser_adapter.map_feedparser``, so both paths map alike; dates stay raw text
for ``ingest.dates`` on both.

Anything not modelled returns None and feedparser reads the document, unchanged: a document
that is not well-formed, a DOCTYPE, a ``Content-Language`` header, a non-XML content type,
other formats or versions, any namespace beyond Atom's, ``xml:base``, markup or comments inside
a text element, text between elements, a repeated single-valued element, or any element or
attribute outside a short list (authors, enclosures, media, ``content:encoded``… all go to
feedparser).

The reference is feedparser (``feedparser_adapter.run_feedparser``).  The switch: ``ENABLED``,
False when the environment sets ``AGGREGATOR_FAST_PARSE=0``; off, every document goes to
feedparser.  The differential test, ``tests/test_parse_fastpath.py``, reads fixtures, the
benchmark corpus and generated feeds both ways and compares every field.  Figures:
``docs/performance.md``.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import lxml.etree

from aggregator.ingest.parse.feedparser_adapter import (
    CP1252_REPAIR,
    feedparser_urljoin,
    safe_absolute_uri,
)
from aggregator.ingest.parse.fields import SCAN_MIN_CHARS
from aggregator.ingest.urls import plain_absolute

__all__ = ["ENABLED", "SWITCH_ENV", "read_fast"]

#: Name of the environment variable that turns the fast path off when set to "0".
SWITCH_ENV = "AGGREGATOR_FAST_PARSE"
#: The one switch: False sends every document to feedparser.
ENABLED = os.environ.get(SWITCH_ENV, "1") != "0"

_FAST_MEDIA_TYPES = frozenset(
    {"application/xml", "text/xml", "application/rss+xml", "application/atom+xml"}
)
_LATIN1_C1 = bytes(0 if 0x80 <= i <= 0x9F else 1 for i in range(256))

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
_fp_join_parsed = lru_cache(maxsize=4096)(feedparser_urljoin)


def _fp_join(base: str, value: str) -> str:
    """feedparser's join; a plain absolute address comes back as it is without parsing."""
    return value if plain_absolute(value) else _fp_join_parsed(base, value)


class _Unsupported(Exception):
    """A construct the fast path does not reproduce: feedparser reads the document instead."""


def read_fast(
    data: bytes, url: str, *, media_type: str, has_doctype: bool, has_content_language: bool
) -> dict[str, Any] | None:
    """feedparser's result for a plain RSS 2.0 / Atom 1.0 document, or None to fall back.

    The result holds only the keys ``map_feedparser`` reads, computed with feedparser's own
    rules (whitespace stripping, URI resolution, its mojibake repair and cp1252 mapping,
    ``guid`` as link, ``xml:lang`` inheritance), so both paths map alike.
    """
    if not ENABLED or has_doctype or has_content_language or media_type not in _FAST_MEDIA_TYPES:
        return None
    base = safe_absolute_uri(url) or ""
    if not base or safe_absolute_uri(base, base) != base:
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
    return out.translate(CP1252_REPAIR) if has_c1 else out


def _has_c1(text: str) -> bool:
    """``_C1_CHARS.search`` for short text; 32 memchr-style scans beat the regex on long text."""
    if len(text) < SCAN_MIN_CHARS:
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

    @staticmethod
    def _date(context: dict[str, Any], key: str, raw: str) -> None:
        """The text only: ``ingest.dates`` reads it, on this path as on feedparser's."""
        context[key] = raw

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

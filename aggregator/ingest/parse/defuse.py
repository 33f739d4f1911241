"""Decoded text -> text a parser can read safely: no DOCTYPE, no entity declarations, no
character references feedparser raises on, no raw control characters.

Why this exists: feedparser's lenient fallback parser expands internal entities itself, so a
small document can grow to hundreds of megabytes (an 86 KB one became a 600 MB string), and
its own DOCTYPE filter misses a single-line DOCTYPE or one split by ISO-2022 escapes.  So every
DOCTYPE is removed from the prolog here, before any parser sees the document, and one that still
declares entities where feedparser looks is refused as hostile (``ParseError(kind="hostile")``).
feedparser also raises, despite its "bozo" contract, on numeric references beyond U+10FFFF or
to surrogates: those become U+FFFD.
"""

from __future__ import annotations

import re

from aggregator.errors import ParseError

__all__ = ["MAX_PROLOG_BYTES", "defuse_references", "is_html_root", "strip_prolog_doctype"]

#: How far into the document the prolog (XML declaration, comments, DOCTYPE) may extend.
MAX_PROLOG_BYTES = 256 * 1024

_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_LIST = tuple(c for c in map(chr, range(0x80)) if _CONTROL_CHARS.match(c))
_CHAR_REF = re.compile(r"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,20}));")
_FEEDPARSER_HEAD_END = re.compile(r"<\w", re.ASCII)
_DECLARATION = re.compile(r"<!\s*(?:DOCTYPE|ENTITY|ATTLIST|ELEMENT)", re.IGNORECASE)
_ROOT_NAME = re.compile(r"<([A-Za-z_][\w.:-]*)")
_HTML_ROOTS = frozenset({"html", "head", "body", "meta", "title", "div", "p", "script"})


def strip_prolog_doctype(text: str) -> tuple[str, str]:
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


def is_html_root(text: str, content_type: str) -> bool:
    """True when the root element is an HTML one, whatever the declared content type."""
    first = _FEEDPARSER_HEAD_END.search(text)
    match = _ROOT_NAME.match(text, first.start()) if first else None
    if match:
        return match.group(1).lower() in _HTML_ROOTS
    return "html" in content_type


def defuse_references(text: str) -> str:
    """Rewrite character references feedparser would raise on; drop raw control characters.

    Each pass is skipped when it cannot change anything (docs/performance.md, "Byte-level
    text checks").
    """
    if any(c in text for c in _CONTROL_LIST):
        text = _CONTROL_CHARS.sub("", text)
    if "\x85" in text:  # NEL is a line break; parsers would read it as cp1252's "…"
        text = text.replace("\x85", "\n")
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
    if code == 0x85:  # NEL, written as a reference: a line break too
        return "&#10;"
    return match.group(0)

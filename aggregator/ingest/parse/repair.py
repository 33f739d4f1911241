"""Two malformations repaired in the text before a second reading: a bare ``&`` and an HTML
entity XML does not define.

What enters: the defused text of a document the fast reader declined (``_parse_xml_feed`` asks
nothing of well-formed documents, which hold neither).  What leaves: the text with each bare
``&`` written ``&amp;`` and each HTML named entity (``&nbsp;``, ``&eacute;``) written as the
numeric reference XML understands, plus a warning counting them; or the text unchanged.

Why: publishers write ``Q&A``, ``Roads & bridges`` and ``?id=1&lang=en`` unescaped and use HTML
entities in RSS.  feedparser's lenient reader reads such a document, but reads ``Q&A`` as
``Q&A;`` and ``&lang=en`` as the entity ``〈`` followed by ``=en`` (a broken link).  Repaired
here, the document is usually well-formed again and both readers see what the publisher meant.
CDATA sections, comments and processing instructions are copied as they are: an ``&`` in them
is text already.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.entities import html5

__all__ = ["MAX_REPAIRS", "repair_references"]

#: More repairs than this and the document is left to feedparser's lenient reading as it is: a
#: document of nothing but ``&`` would otherwise grow five times over.
MAX_REPAIRS = 100_000

# An "&" that starts no reference XML reads (a number, or one of its five entities), with the
# name and semicolon after it when it is written like an entity: only those call ``fix``.
_PROBLEM = re.compile(
    r"&(?!(?:#[0-9]{1,10}|#[xX][0-9a-fA-F]{1,8}|amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{0,31};)?"
)
_VERBATIM = re.compile(r"<!\[CDATA\[|<!--|<\?")
_VERBATIM_END = {"<![CDATA[": "]]>", "<!--": "-->", "<?": "?>"}


def repair_references(text: str, warnings: list[str]) -> str:
    """``text`` with bare ampersands escaped and HTML entities made numeric, outside CDATA
    sections, comments and processing instructions; one warning when anything changed."""
    if "&" not in text or _PROBLEM.search(text) is None:
        return text
    found: list[bool] = []  # True for an entity, False for a bare "&"

    def fix(match: re.Match[str]) -> str:
        entity = match.group(1)
        found.append(entity is not None)
        if len(found) > MAX_REPAIRS:
            raise _TooMany
        if entity is None:
            return "&amp;"
        value = html5.get(entity)
        if value is None:  # no entity at all: the publisher's text, as written
            return f"&amp;{entity}"
        return "".join(f"&#{ord(c)};" for c in value)

    try:
        repaired = _outside_verbatim(text, lambda part: _PROBLEM.sub(fix, part))
    except _TooMany:
        return text
    if not found:
        return text
    entities = sum(found)
    bare = len(found) - entities
    parts = [f"{bare} unescaped '&' read as text"] if bare else []
    if entities:
        noun = "entity" if entities == 1 else "entities"
        parts.append(f"{entities} HTML {noun} read as characters")
    warnings.append(f"feed is not well-formed XML: {', '.join(parts)}")
    return repaired


class _TooMany(Exception):
    """Raised out of ``re.sub`` to stop repairing a document past ``MAX_REPAIRS``."""


def _outside_verbatim(text: str, change: Callable[[str], str]) -> str:
    """``text`` with ``change`` applied to everything outside CDATA sections, comments and
    processing instructions; an unterminated one runs to the end of the text."""
    pieces: list[str] = []
    position = 0
    while opened := _VERBATIM.search(text, position):
        pieces.append(change(text[position : opened.start()]))
        close = _VERBATIM_END[opened.group(0)]
        end = text.find(close, opened.end())
        position = len(text) if end < 0 else end + len(close)
        pieces.append(text[opened.start() : position])
    pieces.append(change(text[position:]))
    return "".join(pieces)

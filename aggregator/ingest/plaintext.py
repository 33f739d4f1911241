"""Feed strings -> plain text and comparison keys, for the normalising rules.

What enters: a feed string that may hold markup, entities and odd spacing (a title, a tag, an
author's name).  What leaves: one line of plain text (``plain_line``), or the key two labels
are compared by (``fold``).  Shared by ``normalise``, ``bylines`` and ``identity`` so that a tag,
a name and a hashed title are compared the same way everywhere.

A ``<`` in such a string is text unless it starts markup.  Feeds write titles both ways: as
text (``Recettes <dépenses en 2027 ?``, ``Why <script> tags are dangerous``, ``#include
</etc/shadow>``) and as HTML (``<b>Bold</b> news``, an Atom ``type="html"`` title), and the
parsers hand both over as one string.  Reading every string as HTML, as browsers do, lost
everything after a ``<`` that began no real tag.  So a tag counts as markup (``strip_markup``)
when it is a comment, a start tag with attributes (``<img src=x onerror=…>``, ``<a href=…>``),
a start tag closed by its own end tag (``<b>…</b>``: the pair goes, and what script and style
elements hold goes with them), or a line break (``<br>``, ``<wbr>``, ``<hr>``).  Anything else
(``<dépenses``, a lone ``<script>``, ``</etc/shadow>``) stays as text: outputs escape titles.
Entities are read only where they are well formed, so ``Q&A`` and ``AT&T`` stay as they are.
"""

from __future__ import annotations

import re
from functools import lru_cache

from aggregator.dedupe import strip_accents
from aggregator.ingest.bidi import balance_bidi
from aggregator.ingest.sanitize import (
    BLOCK_TAGS,
    DROPPED_WITH_CONTENT,
    clean_text,
    decode_entities,
)

__all__ = ["fold", "plain_line", "strip_markup"]


@lru_cache(maxsize=4096)  # pure, and tags recur across a whole network's posts
def fold(label: str) -> str:
    """Compare labels without case or accents: "Résilience" and "resilience" are one tag."""
    return " ".join(strip_accents(label).casefold().split())


def plain_line(value: str | None) -> str:
    """One line of plain text from a feed string that may hold markup and entities.

    Markup and entities are read twice (titles are often escaped twice: ``&amp;lt;b&amp;gt;``);
    direction controls left open are removed (``bidi``).
    """
    if not value:
        return ""
    if "<" in value or "&" in value:
        for _ in range(2):
            value = decode_entities(strip_markup(value))
        value = _strip_rebuilt_markup(value)
    return balance_bidi(clean_text(value))


# A tag: its name, then (attributes) anything but "<" and ">" outside quotes.  The name must end
# at a space, "/" or ">", as in the HTML tokenizer: "<dépenses" and "<stdio.h>" are no tags.
_TAG = re.compile(
    r"""<(/?)([a-zA-Z][a-zA-Z0-9:-]*)(?=[\s/>])((?:[^<>"']|"[^"<]*"|'[^'<]*')*)>|<!--.*?-->""",
    re.DOTALL,
)
_BREAKS = frozenset({"br", "wbr", "hr"})


def strip_markup(text: str) -> str:
    """``text`` without the tags that are markup (see the module docstring); others stay.

    A block element's tags leave a space ("<p>One</p><p>Two</p>" is "One Two"), an inline
    one's nothing ("Bo<b>ld</b>" is "Bold").
    """
    if "<" not in text:
        return text
    tags = list(_TAG.finditer(text))
    markup = _markup_tags(tags) if tags else {}
    if not markup:
        return text
    pieces: list[str] = []
    last = 0
    for index, match in enumerate(tags):
        if index not in markup or match.start() < last:  # not markup, or inside a dropped one
            continue
        pieces.append(text[last : match.start()])
        last = match.end()
        name = (match.group(2) or "").lower()
        end = markup[index]
        if end is not None and name in DROPPED_WITH_CONTENT:
            last = tags[end].end()
        elif name in BLOCK_TAGS:
            pieces.append(" ")
    pieces.append(text[last:])
    return "".join(pieces)


def _markup_tags(tags: list[re.Match[str]]) -> dict[int, int | None]:
    """Index of each tag that is markup -> the index of its end tag, when it has one.

    An end tag closes the latest open start tag of its name; those opened after that one are
    left unclosed (text, unless they have attributes).  ``where`` finds it without a search, so
    a hostile string of thousands of tags costs linear time.
    """
    markup: dict[int, int | None] = {}
    open_tags: list[tuple[str, int]] = []  # (name, index in tags), innermost last
    where: dict[str, list[int]] = {}  # name -> its positions in open_tags
    for index, match in enumerate(tags):
        closing, name = match.group(1), (match.group(2) or "").lower()
        if not name:  # a comment
            markup[index] = None
        elif closing:
            if where.get(name):
                depth = where[name][-1]
                for inner, _ in open_tags[depth:]:
                    where[inner].pop()
                markup[open_tags[depth][1]] = index
                markup[index] = None
                del open_tags[depth:]
        else:
            if name in _BREAKS or (match.group(3) or "").strip(" \t\n\r\f/"):
                markup[index] = None  # a line break, or a start tag with attributes
            if name not in _BREAKS:
                where.setdefault(name, []).append(len(open_tags))
                open_tags.append((name, index))
    return markup


def _strip_rebuilt_markup(text: str) -> str:
    """Remove markup until none is left: taking ``<b x>`` out of ``<<b x>img onerror=…>``
    builds a new tag, which must not reach a careless consumer of plain text."""
    for _ in range(20):
        stripped = strip_markup(text)
        if stripped == text:
            return text
        text = stripped
    return text.replace("<", "")

"""The words of a result that match the query, marked safely for a page.

Every character of the text is escaped; only our own ``<mark>`` tags are added, around the
words whose index token is one the query looks for (so ``Villes`` is marked for a search for
``ville``, in the post's own language).  The snippet starts near the first match, so a post
found for a word deep in its body shows why.
"""

from __future__ import annotations

import re
from html import escape

from aggregator.search.query import Query, Term, term_tokens
from aggregator.search.text import language_key, stem_word

_WORD = re.compile(r"\w+")


def _wanted(query: Query, language: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The tokens to mark in ``language`` and the folded prefixes of prefix terms."""
    tokens: set[str] = set()
    prefixes: list[str] = []
    for term in query.positive:
        if term.prefix:
            prefixes.append(stem_word(language, term.words[0]))
        else:
            tokens.update(_tokens(term, language))
    return frozenset(tokens), tuple(prefixes)


def _tokens(term: Term, language: str) -> set[str]:
    if len(term.words) > 1:
        return {stem_word(language, w) for w in term.words}
    return set(term_tokens(term, language))


def highlight(text: str, language: str, query: Query, width: int = 0) -> str:
    """``text`` as escaped HTML with matching words in ``<mark>``; ``width`` > 0 cuts a
    snippet of about that many characters starting shortly before the first match."""
    key = language_key(language)
    tokens, prefixes = _wanted(query, key)

    def matches(word: str) -> bool:
        token = stem_word(key, word)
        return token in tokens or token.startswith(prefixes or ("\0",))

    found = [m for m in _WORD.finditer(text) if matches(m.group())]
    start, end, text_len = 0, len(text), len(text)
    if width and text_len > width:
        start = _snippet_start(text, found[0].start() if found else 0, width)
        end = min(text_len, start + width)
        while end < text_len and text[end].isalnum():
            end += 1
    parts = ["…" if start else ""]
    cursor = start
    for m in found:
        if m.start() < start or m.end() > end:
            continue
        parts += [escape(text[cursor : m.start()]), f"<mark>{escape(m.group())}</mark>"]
        cursor = m.end()
    parts.append(escape(text[cursor:end]))
    parts.append("…" if end < text_len else "")
    return "".join(parts)


def _snippet_start(text: str, first: int, width: int) -> int:
    """A word boundary some way before the first match, so the match has context."""
    start = max(0, min(first - width // 4, len(text) - width))
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    return start

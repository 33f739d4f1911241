"""Feed strings -> plain text and comparison keys, for the normalising rules.

What enters: a feed string that may hold markup, entities and odd spacing (a title, a tag, an
author's name).  What leaves: one line of plain text (``plain_line``), or the key two labels
are compared by (``fold``).  Shared by ``normalise``, ``bylines`` and ``identity`` so that a tag,
a name and a hashed title are compared the same way everywhere.
"""

from __future__ import annotations

from functools import lru_cache

from aggregator.dedupe import strip_accents
from aggregator.ingest.sanitize import clean_text, decode_entities, html_to_text

__all__ = ["fold", "plain_line"]


@lru_cache(maxsize=4096)  # pure, and tags recur across a whole network's posts
def fold(label: str) -> str:
    """Compare labels without case or accents: "Résilience" and "resilience" are one tag."""
    return " ".join(strip_accents(label).casefold().split())


def plain_line(value: str | None) -> str:
    """One line of plain text from a feed string that may hold markup and entities."""
    if not value:
        return ""
    if "<" in value or "&" in value:
        return clean_text(decode_entities(html_to_text(value)))
    return clean_text(value)

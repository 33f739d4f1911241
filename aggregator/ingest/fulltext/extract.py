"""The article in a page: trafilatura, on the page with its source's shared blocks removed.

Chosen by measurement on the labelled pages (docs/decisions.md; ``bench/extraction.py``):
trafilatura and readability-lxml were both run on the 42 pages, each alone and after the
removal of the blocks the source's pages share (``boilerplate``).  This module owns
trafilatura; nothing else imports it.

Enters: the page's HTML with the source's boilerplate already removed, and the post's title.
Leaves: the article as a list of paragraphs (plain text), the title line dropped when the
extractor kept it.  The caller builds the HTML it republishes from these paragraphs and
sanitizes it, so nothing of the page's markup survives but paragraph breaks.
"""

from __future__ import annotations

import logging

# trafilatura reports every page it finds too short at WARNING: that is the caller's verdict
logging.getLogger("trafilatura").setLevel(logging.ERROR)


def article_paragraphs(page: str, title: str) -> list[str]:
    """The article's paragraphs, in order; empty when the page has none worth the name."""
    # imported at the first article, not with the module: trafilatura brings numpy, urllib3 and
    # charset_normalizer (24 MB), and every cycle's process imports this module, most of them
    # to read no article at all (the feeds' posts are complete, or full text is off)
    import trafilatura

    text = trafilatura.extract(
        page,
        include_comments=False,
        include_tables=True,  # council sites still lay pages out with tables
        include_links=False,
        include_images=False,
        deduplicate=True,
    )
    if not text:
        return []
    folded_title = " ".join(title.split()).casefold()
    lines = (" ".join(line.replace(" | ", " ").strip(" |").split()) for line in text.splitlines())
    kept = (_untitled(line, folded_title) for line in lines if line.casefold() != folded_title)
    return [line for line in kept if line]


def _untitled(line: str, folded_title: str) -> str:
    """A line that starts with the title (a table layout joins its cells) without it."""
    if folded_title and line.casefold().startswith(folded_title + " "):
        return line[len(folded_title) + 1 :]
    return line

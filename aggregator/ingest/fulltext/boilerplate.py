"""What a source's article pages share is not the article: find it and take it out.

A council's pages repeat their menu, cookie banner, footer, newsletter box and agenda on every
page, and their "related news" blocks name the same few recent articles on page after page.
An extractor judges one page alone and sometimes keeps such text; comparing a source's pages
finds it for certain.  The unit is a block of text as a reader sees it: a leaf block element
(a paragraph, a list item, a cell, a heading) or a link, whitespace and case folded, at its
place in the template (the tags and classes of its ancestors).  A block found at the same
place on ``min_pages`` pages of the source (two by default) is boilerplate, removed from the
page before the extractor reads it.  The place matters: a related-news teaser often quotes
another article's first paragraph word for word, and that paragraph must stay in its own
article, where it sits elsewhere in the template.

Pure: pages in, pages out; the hashes of a source's blocks are what the store keeps between
runs (``fingerprints``), so one new article is compared with the pages seen before it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

from lxml import html

_BLOCK_TAGS = "p li td th dd dt h1 h2 h3 h4 h5 h6 blockquote figcaption caption button label"
_CONTAINER_TAGS = "div section article aside nav header footer main ul ol table tr form"
BLOCKS = frozenset(_BLOCK_TAGS.split())
CONTAINERS = frozenset(_CONTAINER_TAGS.split()) | BLOCKS
LEAVES = frozenset(("div", "span", "time"))  # units too when they hold text and no block
MIN_CHARS = 2  # shorter texts ("|", "›") say nothing about a page


def parse(page: str | bytes) -> html.HtmlElement:
    """The page as a tree (lxml's HTML parser: it repairs whatever councils' CMSs write)."""
    return html.document_fromstring(page)


def _text(element: html.HtmlElement) -> str:
    return " ".join(element.text_content().split()).casefold()


def _place(element: html.HtmlElement) -> str:
    """Where the block sits in the template: its ancestors' tags and classes."""
    steps = [f"{a.tag}.{' '.join(sorted(a.classes))}" for a in element.iterancestors()]
    return "/".join(reversed(steps))


def _units(tree: html.HtmlElement) -> Iterable[tuple[html.HtmlElement, str]]:
    """Each leaf block and each link, with its place and folded text."""
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        tag = element.tag.lower()
        leaf = tag in BLOCKS or (tag in LEAVES and (element.text or "").strip())
        if tag == "a" or (leaf and not _has_block_child(element)):
            text = _text(element)
            if len(text) >= MIN_CHARS:
                yield element, f"{_place(element)}/{tag}\x00{text}"


def _has_block_child(element: html.HtmlElement) -> bool:
    return any(
        isinstance(c.tag, str) and c.tag.lower() in CONTAINERS for c in element.iterdescendants()
    )


def digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def fingerprints(tree: html.HtmlElement) -> frozenset[str]:
    """The digests of a page's blocks: what the store remembers of a page."""
    return frozenset(digest(text) for _, text in _units(tree))


def shared(pages: Sequence[frozenset[str]], min_pages: int = 2) -> frozenset[str]:
    """The block digests found on at least ``min_pages`` of the pages."""
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update(page)
    return frozenset(d for d, n in counts.items() if n >= min_pages)


def strip(tree: html.HtmlElement, boilerplate: frozenset[str]) -> int:
    """Remove the blocks whose digest is boilerplate (in place); how many went."""
    doomed = [element for element, text in _units(tree) if digest(text) in boilerplate]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()  # keeps the tail text, which belongs to the parent
    return len(doomed)


def to_html(tree: html.HtmlElement) -> str:
    return str(html.tostring(tree, encoding="unicode"))

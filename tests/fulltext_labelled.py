"""Extraction quality on the labelled pages: word-level precision, recall and F1 against the
article's text, and the pages where related-news text leaked into the extraction.

Each page is compared with the other labelled pages of its own site, as the product compares
a new article with the pages it fetched before from the same source.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from aggregator.ingest.fulltext import boilerplate
from tests.data.articles.pages import LabelledPage, labelled_pages

Extractor = Callable[[str, str], str]  # (page HTML without boilerplate, title) -> text


@dataclass(frozen=True)
class Extraction:
    precision: float
    recall: float
    f1: float
    worst: tuple[str, float]
    leaks: tuple[str, ...]  # page ids


def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\w+", text.casefold()))


def _score(got: str, expected: str) -> tuple[float, float, float]:
    found, wanted = _words(got), _words(expected)
    common = sum((found & wanted).values())
    if not common:
        return 0.0, 0.0, 0.0
    p, r = common / sum(found.values()), common / sum(wanted.values())
    return p, r, 2 * p * r / (p + r)


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def cleaned_pages(remove_shared: bool = True) -> list[tuple[LabelledPage, str]]:
    """Each page's HTML with its site's shared blocks removed (or as it is)."""
    pages = labelled_pages()
    trees = {p.id: boilerplate.parse(p.html) for p in pages}
    by_site: dict[str, list[frozenset[str]]] = defaultdict(list)
    for p in pages:
        by_site[p.source_id].append(boilerplate.fingerprints(trees[p.id]))
    out = []
    for p in pages:
        tree = trees[p.id]
        if remove_shared:
            boilerplate.strip(tree, boilerplate.shared(by_site[p.source_id]))
        out.append((p, boilerplate.html.tostring(tree, encoding="unicode")))
    return out


def measure(extract: Extractor, remove_shared: bool = True) -> Extraction:
    scores = []
    leaks = []
    for page, cleaned in cleaned_pages(remove_shared):
        title = page.html.split("<title>")[1].split(" | ")[0]
        got = extract(cleaned, title)
        scores.append((page.id, *_score(got, page.expected)))
        if any(_fold(leak) in _fold(got) for leak in page.leaks):
            leaks.append(page.id)
    n = len(scores)
    worst = min(scores, key=lambda s: s[3])
    return Extraction(
        sum(s[1] for s in scores) / n,
        sum(s[2] for s in scores) / n,
        sum(s[3] for s in scores) / n,
        (worst[0], worst[3]),
        tuple(leaks),
    )

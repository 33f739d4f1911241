"""The labelled search set as sources and posts in a store, and its recall and precision.

Shared by the store tests (both backends), the web tests and ``bench/search_quality.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

from aggregator.models import Post, Source, SourceState, SourceUpdate
from aggregator.search import SearchRequest, parse_query
from aggregator.store.protocol import Store
from tests.data.articles import ARTICLES, QUERIES, language_of, source_id

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def sources() -> list[Source]:
    orgs = dict.fromkeys((a["org"], language_of(a)) for a in ARTICLES)
    return [
        Source(
            id=source_id(org),
            name=org,
            organisation=org,
            url=f"https://{source_id(org)}.example/feed",
            language=lang,
        )
        for org, lang in orgs
    ]


def article_post(n: int, article: dict) -> Post:
    when = T0 - timedelta(days=n)
    text = " ".join(article["paragraphs"])
    sid = source_id(article["org"])
    return Post(
        id=article["id"],
        source_id=sid,
        guid=article["id"],
        title=article["title"],
        link=f"https://{sid}.example/news/{article['id']}",
        published=when,
        updated=when,
        first_seen=when,
        language=language_of(article),
        excerpt=text[:280],
        content_html="".join(f"<p>{escape(p)}</p>" for p in article["paragraphs"]),
        tags=(article["topic"],),
        topics=(article["topic"],),
        content_hash=f"h-{article['id']}",
    )


def fill(store: Store) -> list[Post]:
    """Every labelled article as a post of its organisation's source."""
    store.sync_sources(sources())
    posts = [article_post(n, a) for n, a in enumerate(ARTICLES)]
    by_source: dict[str, list[Post]] = {}
    for post in posts:
        by_source.setdefault(post.source_id, []).append(post)
    store.apply_updates(
        [
            SourceUpdate(sid, SourceState(sid, f"https://{sid}.example/feed"), tuple(found))
            for sid, found in by_source.items()
        ]
    )
    return posts


@dataclass(frozen=True)
class Quality:
    recall: float
    precision: float
    misses: tuple[tuple[str, str], ...]  # (query, article it did not find)
    extras: tuple[tuple[str, str], ...]  # (query, article found but not relevant)


def measure(store: Store, languages: Sequence[str] | None = None) -> Quality:
    """Micro-averaged recall and precision over the labelled queries, each searched in its
    own language (``languages`` None) or in the given ones (``()``: all)."""
    relevant = found_relevant = found_total = 0
    misses: list[tuple[str, str]] = []
    extras: list[tuple[str, str]] = []
    for lang, text, wanted in QUERIES:
        searched = (lang,) if languages is None else tuple(languages)
        request = SearchRequest(parse_query(text), languages=searched, limit=50)
        found = {p.id for p in store.search_posts(request).posts}
        relevant += len(wanted)
        found_relevant += len(found & set(wanted))
        found_total += len(found)
        misses += [(text, w) for w in wanted if w not in found]
        extras += [(text, f) for f in sorted(found - set(wanted))]
    precision = found_relevant / found_total if found_total else 0.0
    return Quality(found_relevant / relevant, precision, tuple(misses), tuple(extras))

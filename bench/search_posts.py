"""The search benchmark: 100,000 posts in SQLite, the labelled queries, milliseconds each.

Posts are made from the labelled articles' own words (tests/data/articles) drawn with a
Zipf law, as real text is, so a common word is in most posts and a rare one in a few: the
queries then meet both long and short lists of matches, unlike bench/corpus.py's
25-word vocabulary where every word is in every post.  Each labelled query is searched in
its own language (the default of /search) and in every language, for the first page of 20
with its total count, as the page shows it.
"""

from __future__ import annotations

import random
import re
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.models import Post, Source, SourceState, SourceUpdate
from aggregator.search import SearchRequest, parse_query
from aggregator.store import open_store
from tests.data.articles import ARTICLES, QUERIES, language_of

NOW = datetime(2026, 11, 22, tzinfo=UTC)
SOURCES = 60


def vocabulary() -> dict[str, list[str]]:
    words: dict[str, list[str]] = {}
    for article in ARTICLES:
        text = " ".join([article["title"], *article["paragraphs"]])
        words.setdefault(language_of(article), []).extend(re.findall(r"\w+", text))
    return {lang: sorted(set(found), key=found.index) for lang, found in words.items()}


def make_posts(count: int, seed: int = 19) -> list[Post]:
    rng = random.Random(seed)
    vocab = vocabulary()
    weights = {lang: [1 / (rank + 1) for rank in range(len(w))] for lang, w in vocab.items()}
    posts = []
    for i in range(count):
        lang = ("en", "fr", "es")[i % 3]
        drawn = rng.choices(vocab[lang], weights[lang], k=rng.randint(150, 450))
        title = " ".join(rng.choices(vocab[lang], weights[lang], k=9))
        paragraphs = [" ".join(drawn[n : n + 60]) for n in range(0, len(drawn), 60)]
        when = NOW - timedelta(minutes=7 * i)
        source = f"s{i % SOURCES}"
        posts.append(
            Post(
                id=f"{source}:{i:08d}", source_id=source, guid=None, title=title,
                link=f"https://{source}.example.org/posts/{i}", published=when,
                updated=when, first_seen=when, language=lang, excerpt=paragraphs[0][:280],
                content_html="".join(f"<p>{p}</p>" for p in paragraphs),
                content_hash=f"h{i}",
            )
        )  # fmt: skip
    return posts


def fill(url: str, count: int) -> tuple[object, float]:
    store = open_store(url)
    store.sync_sources([
        Source(id=f"s{n}", name=f"Member {n}", organisation=f"Organisation {n % 12}",
               url=f"https://s{n}.example.org/feed")
        for n in range(SOURCES)
    ])  # fmt: skip
    posts = make_posts(count)
    t0 = time.process_time()
    for start in range(0, count, 2000):
        chunk = posts[start : start + 2000]
        by_source: dict[str, list[Post]] = {}
        for post in chunk:
            by_source.setdefault(post.source_id, []).append(post)
        store.apply_updates([
            SourceUpdate(sid, SourceState(sid, f"https://{sid}.example.org/feed"), tuple(found))
            for sid, found in by_source.items()
        ])  # fmt: skip
    return store, time.process_time() - t0


def search_figures(work: Path, count: int = 100_000, rounds: int = 3) -> dict[str, float]:
    """Median and 95th-percentile milliseconds per query (wall and CPU), and the cost of
    writing the posts with their index entries."""
    store, write_cpu = fill(f"sqlite:///{work / 'search.db'}", count)
    requests = [
        SearchRequest(parse_query(text), languages=languages)
        for lang, text, _ in QUERIES
        for languages in ((lang,), ())
    ]
    for request in requests:  # warm the page cache, as a serving process would be
        store.search_posts(request)  # type: ignore[attr-defined]
    wall: list[float] = []
    cpu: list[float] = []
    totals: list[int] = []
    for _ in range(rounds):
        for request in requests:
            w0, c0 = time.perf_counter(), time.process_time()
            found = store.search_posts(request)  # type: ignore[attr-defined]
            wall.append((time.perf_counter() - w0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            totals.append(found.total)
    store.close()  # type: ignore[attr-defined]
    wall.sort()
    return {
        "search_100k_ms": round(statistics.median(wall), 2),
        "search_100k_p95_ms": round(wall[int(len(wall) * 0.95)], 2),
        "search_100k_cpu_ms": round(statistics.median(cpu), 2),
        "search_100k_median_matches": statistics.median(totals),
        "search_index_write_us_per_post": round(write_cpu / count * 1e6, 1),
    }

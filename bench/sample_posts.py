"""Posts made up for the publish and digest benchmarks: deterministic, multilingual, realistic size."""

from __future__ import annotations

import hashlib
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from corpus import WORDS, _body, _sentence

from aggregator import config
from aggregator.ingest.sanitize import excerpt, html_to_text
from aggregator.models import Author, FetchStatus, Post, SourceState, SourceUpdate
from aggregator.search import document_text, index_text, post_tokens
from aggregator.store import open_store
from aggregator.store.protocol import Store

SOURCES = 50
NOW = datetime(2026, 11, 22, tzinfo=UTC)


def settings_for(work: Path) -> config.Settings:
    lines = [
        "site:",
        "  title: Bench network",
        "topics:",
        "  climate: [clima, climate, climat]",
        "sources:",
    ]
    for s in range(SOURCES):
        lines += [
            f"  - id: s{s}",
            f"    name: Member {s}",
            f"    organisation: Organisation {s}",
            f"    url: https://member{s}.example.org/feed",
        ]
    path = work / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config.load(path)


def make_posts(count: int, seed: int = 7) -> list[Post]:
    rng = random.Random(seed)
    posts = []
    for i in range(count):
        lang = ("en", "fr", "es")[i % 3]
        body = _body(rng, lang)
        when = NOW - timedelta(minutes=37 * i)
        title = _sentence(rng, lang)[:90]
        posts.append(
            Post(
                id=f"s{i % SOURCES}:{i:08d}",
                source_id=f"s{i % SOURCES}",
                guid=None,
                title=title,
                link=f"https://member{i % SOURCES}.example.org/posts/{i}",
                published=when,
                updated=when,
                first_seen=when,
                language=lang,
                excerpt=excerpt(html_to_text(body)),
                content_html=body,
                authors=(Author(name=f"Author {i % 17}"),),
                tags=tuple(rng.choice(WORDS[lang]) for _ in range(2)),
                topics=("climate",) if i % 5 == 0 else (),
                content_hash=hashlib.sha256(title.encode()).hexdigest(),
            )
        )
    return posts


def fill_store(settings: config.Settings, count: int) -> Store:
    store = open_store(settings.storage_url)
    store.sync_sources(settings.source_list())
    by_source: dict[str, list[Post]] = {}
    for post in make_posts(count):
        by_source.setdefault(post.source_id, []).append(post)
    for source_id, batch in by_source.items():
        state = SourceState(
            source_id=source_id, url=f"https://{source_id}.example.org/feed", last_success=NOW
        )
        store.apply_update(SourceUpdate(source_id, state, tuple(batch)))
    assert FetchStatus.OK  # the store is ready as after a cycle
    return store


def fill_store_fast(settings: config.Settings, count: int, chunk: int = 2_000) -> Store:
    """A store of ``count`` posts made from a pool of bodies, written ``chunk`` at a time.

    ``make_posts`` writes each body afresh and holds every post at once: fine for 10,000, not
    for the scale bench's 100,000.  Here 600 bodies are made once and shared (titles, links
    and ids stay unique), so filling costs little more than the store's own writes.
    """
    store = open_store(settings.storage_url)
    store.sync_sources(settings.source_list())
    add_posts(store, range(count), chunk)
    return store


def _pool() -> list[tuple[str, str, str, str]]:
    rng = random.Random(20261207)
    pool = []
    for i in range(600):
        lang = ("en", "fr", "es")[i % 3]
        body = _body(rng, lang)
        pool.append((lang, body, excerpt(html_to_text(body)), _sentence(rng, lang)[:80]))
    return pool


def add_posts(store: Store, numbers: range, chunk: int = 2_000) -> None:
    """Posts ``numbers`` of the fast corpus (post ``i`` is first seen ``7 i`` minutes before
    ``NOW``), the oldest written first, as a store fills over the years: the rows lie in
    first-seen order, which is the archives' order.  A store grows by older ranges too.

    Each post's search tokens are handed over made, as the cycle's workers hand them: the
    pool's texts are stemmed once, a post's own parts (its number, tag and author) put
    beside them.  Stemming 700,000 posts in this process took most of the fill's time.
    """
    pool = _pool()
    tokens = _PoolTokens(pool)
    for start in reversed(range(numbers.start, numbers.stop, chunk)):
        by_source: dict[str, list[Post]] = {}
        made: dict[str, tuple[str, str]] = {}
        for i in reversed(range(start, min(start + chunk, numbers.stop))):
            post = _fast_post(pool, i)
            by_source.setdefault(post.source_id, []).append(post)
            made[post.id] = tokens.of(post, i)
        updates = [
            SourceUpdate(source_id, _state(source_id), tuple(batch))
            for source_id, batch in by_source.items()
        ]
        # one transaction per chunk: the commits cost the most
        store.apply_updates(updates, search_tokens=made)


class _PoolTokens:
    """``search.post_tokens`` of the fast corpus's posts, from the pool's texts stemmed once.

    ``index_text`` maps each space-separated piece of a text on its own, so the tokens of
    ``f"{a} {b}"`` are those of ``a`` then of ``b``; the first posts are checked against
    ``post_tokens`` itself.
    """

    def __init__(self, pool: list[tuple[str, str, str, str]]) -> None:
        self.pool = pool
        self.titles = [index_text(lang, title) for lang, _, _, title in pool]
        self.bodies = [index_text(lang, document_text(body)) for lang, body, _, _ in pool]
        self.checked = 0

    def of(self, post: Post, i: int) -> tuple[str, str]:
        n = i % len(self.pool)
        lang = post.language
        title = _joined(self.titles[n], index_text(lang, str(i)))
        own = " ".join([*post.tags, *(a.name for a in post.authors)])
        made = (title, _joined(self.bodies[n], index_text(lang, own)))
        if self.checked < 50:
            self.checked += 1
            assert made == post_tokens(post), post.id
        return made


def _joined(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _fast_post(pool: list[tuple[str, str, str, str]], i: int) -> Post:
    lang, body, summary, title = pool[i % len(pool)]
    when = NOW - timedelta(minutes=7 * i)
    source_id = f"s{i % SOURCES}"
    return Post(
        id=f"{source_id}:{i:08d}",
        source_id=source_id,
        guid=None,
        title=f"{title} {i}",
        link=f"https://member{i % SOURCES}.example.org/posts/{i}",
        published=when,
        updated=when,
        first_seen=when,
        language=lang,
        excerpt=summary,
        content_html=body,
        authors=(Author(name=f"Author {i % 17}"),),
        tags=(WORDS[lang][i % len(WORDS[lang])],),
        topics=("climate",) if i % 5 == 0 else (),
        content_hash=hashlib.sha256(f"{title} {i}".encode()).hexdigest(),
    )


def _state(source_id: str) -> SourceState:
    return SourceState(
        source_id=source_id, url=f"https://{source_id}.example.org/feed", last_success=NOW
    )


def digest_render_ms(work: Path, count: int, repeat: int = 15) -> float:
    from aggregator.newsletter.render import render_edition

    settings = settings_for(work)
    posts = make_posts(count, seed=11)
    sources = {s.id: s for s in settings.source_list()}
    edition = settings.digest.editions[0]
    timings = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        render_edition(settings, edition, posts, sources, date=NOW)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return timings[len(timings) // 2]

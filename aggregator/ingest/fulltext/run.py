"""Reading the articles: the guarded fetcher, the source's other pages, the store.

A page that cannot be read, or that holds no article, is an outcome (``failed``, ``kept``)
recorded so it is not read at every cycle, never an exception that stops the cycle.
``aggregator fulltext --again`` makes a source's posts wait again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.config import Settings
from aggregator.ingest.fetch import Fetcher, user_agent
from aggregator.ingest.fulltext import boilerplate, decide
from aggregator.ingest.fulltext.extract import article_paragraphs
from aggregator.ingest.netguard import AddressPolicy
from aggregator.ingest.sanitize import sanitize_html
from aggregator.models import FetchRequest, FetchStatus, Post
from aggregator.store.protocol import Store

log = logging.getLogger("aggregator.fulltext")


@dataclass(frozen=True, slots=True)
class FullTextReport:
    sources: tuple[str, ...]  # the sources whose articles were wanted
    expanded: int = 0  # posts now showing their article
    kept: int = 0  # a full feed content, or a page without a longer article
    failed: int = 0  # the page could not be fetched


def full_text_sources(settings: Settings, store: Store, only: Sequence[str] = ()) -> list[str]:
    """The enabled sources whose articles are read (``full_text``, else the default)."""
    chosen = []
    for source in settings.sources:
        if not source.enabled or (only and source.id not in only):
            continue
        mode = source.full_text or settings.full_text.default
        recent = store.source_recent_posts(source.id, decide.AUTO_SAMPLE) if mode == "auto" else []
        if decide.wants_articles(mode, recent, settings.full_text.min_chars):
            chosen.append(source.id)
    return chosen


def expand_full_text(
    settings: Settings,
    store: Store,
    now: datetime,
    *,
    only: Sequence[str] = (),
    limit: int | None = None,
) -> FullTextReport:
    """Read the articles of up to ``limit`` waiting posts (``pages_per_cycle`` by default)."""
    sources = full_text_sources(settings, store, only)
    budget = settings.full_text.pages_per_cycle if limit is None else limit
    waiting = store.fulltext_pending(sources, budget)
    if not waiting:
        return FullTextReport(tuple(sources))
    outcomes = _read_all(settings, store, waiting, now)
    return FullTextReport(
        tuple(sources),
        expanded=outcomes.count("expanded"),
        kept=outcomes.count("kept"),
        failed=outcomes.count("failed"),
    )


def read_articles(settings: Settings, store: Store, now: datetime) -> None:
    """The cycle's step (``cycle.fetch_and_publish``): never fails the cycle."""
    try:
        done = expand_full_text(settings, store, now)
    except Exception:  # a bug here must not cost the cycle its publish
        log.exception("full text: reading articles failed")
        return
    if done.expanded or done.failed:
        log.info(
            "full text: %d expanded, %d kept, %d failed", done.expanded, done.kept, done.failed
        )


async def _fetch_all(settings: Settings, waiting: Sequence[Post]) -> list[Page | None]:
    fetch = settings.fetch
    async with Fetcher(fetch, user_agent=user_agent(settings), allow=fetch.allow_private) as f:
        return list(await asyncio.gather(*(_fetch(f, post) for post in waiting)))


def _read_all(
    settings: Settings, store: Store, waiting: Sequence[tuple[Post, str | None]], now: datetime
) -> list[str]:
    """Fetch every page, then settle each post, each page compared with the source's pages
    read before and with the other pages of this reading."""
    pages = asyncio.run(_fetch_all(settings, [post for post, _ in waiting]))
    trees = [None if page is None else boilerplate.parse(page.body) for page in pages]
    batch: dict[str, list[frozenset[str]]] = {}
    prints: list[frozenset[str]] = []
    for (post, _), tree in zip(waiting, trees, strict=True):
        prints.append(boilerplate.fingerprints(tree) if tree is not None else frozenset())
        batch.setdefault(post.source_id, []).append(prints[-1])
    reread = [post.id for post, _ in waiting]
    seen = {sid: store.fulltext_page_blocks(sid, reread) for sid in batch}
    images = AddressPolicy.from_allow(settings.fetch.allow_private)
    outcomes = []
    for (post, previous), page, tree, blocks in zip(waiting, pages, trees, prints, strict=True):
        common = boilerplate.shared([*seen[post.source_id], *batch[post.source_id]])
        reading = Reading(post, previous, page, tree, blocks, common)
        outcomes.append(_settle(settings, store, reading, now, images))
    return outcomes


@dataclass(frozen=True, slots=True)
class Page:
    body: bytes
    url: str  # after redirects: the base of relative links


@dataclass(frozen=True, slots=True)
class Reading:
    """One post's page and what it is compared with."""

    post: Post
    previous: str | None  # the outcome of the reading before, when read again
    page: Page | None
    tree: Any
    blocks: frozenset[str]
    boilerplate: frozenset[str]


async def _fetch(fetcher: Fetcher, post: Post) -> Page | None:
    result = await fetcher.fetch(FetchRequest(post.source_id, post.link))
    if result.status is not FetchStatus.OK or not result.body:
        log.info("full text: %s: %s", post.link, result.error or result.status)
        return None
    return Page(result.body, result.final_url or post.link)


def _settle(
    settings: Settings, store: Store, reading: Reading, now: datetime, images: AddressPolicy
) -> str:
    """Extract, decide and record one post's article; the outcome's name."""
    post, page, tree = reading.post, reading.page, reading.tree
    ours = reading.previous == "expanded"  # the post shows an article read before
    if not ours and not decide.is_teaser(post, settings.full_text.min_chars):
        store.record_full_text(post, now, "kept", frozenset(), None)
        return "kept"
    if page is None or tree is None:
        store.record_full_text(post, now, "failed", frozenset(), None)
        return "failed"
    boilerplate.strip(tree, reading.boilerplate)
    paragraphs = article_paragraphs(boilerplate.to_html(tree), post.title)
    if not (decide.is_rereading(paragraphs) if ours else decide.is_the_article(paragraphs, post)):
        store.record_full_text(post, now, "expanded" if ours else "kept", reading.blocks, None)
        return "kept"
    content = sanitize_html(decide.article_html(paragraphs), page.url, images)
    article = (content, decide.article_excerpt(paragraphs))
    store.record_full_text(post, now, "expanded", reading.blocks, article)
    return "expanded"

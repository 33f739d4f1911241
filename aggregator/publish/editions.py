"""Which Atom editions exist and which posts each one carries.

Enters: the ``Site`` (settings and posts, newest first).  Leaves: ``FeedSpec`` records (path,
title, language, what the edition selects) and, for each, its newest posts.  Pure: nothing
here writes.

Editions: the combined feed, one per site language, one per topic, one per member source.  A
key that could not be a safe file name (``_SAFE_NAME``) gets no edition rather than an odd path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aggregator.models import Post
from aggregator.publish.pages import base_language
from aggregator.publish.site import Site

_SAFE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One feed edition: where it lives, what it is called, which posts it carries."""

    path: str  # relative to output_dir, e.g. "topics/water.atom"
    title: str
    language: str | None = None  # xml:lang of the feed element
    html_path: str = ""  # the page this feed is the alternate of (relative to base_url)
    kind: str = "all"  # "all", "language", "topic" or "source"
    key: str = ""  # the language, topic key or source id

    def selects(self, post: Post) -> bool:
        if self.kind == "language":
            return base_language(post.language) == base_language(self.key)
        if self.kind == "topic":
            return self.key in post.topics
        if self.kind == "source":
            return post.source_id == self.key
        return True


def feed_specs(site: Site) -> list[FeedSpec]:
    """Every Atom edition, in a stable order: combined, languages, topics, sources."""
    title = site.settings.site.title
    specs = [FeedSpec("feed.atom", title)]
    for lang in site.settings.site.languages:
        if _SAFE_NAME.match(lang):
            path = f"feed-{lang}.atom"
            specs.append(FeedSpec(path, f"{title} ({lang})", lang, f"{lang}/", "language", lang))
    topics = set(site.settings.topics) | {t for p in site.posts for t in p.topics}
    for key in sorted(t for t in topics if _SAFE_NAME.match(t)):
        label = f"{title}: {site.topic_label(key)}"
        specs.append(FeedSpec(f"topics/{key}.atom", label, kind="topic", key=key))
    for sid in sorted(s for s in site.sources if _SAFE_NAME.match(s)):
        label = f"{title}: {site.sources[sid].name}"
        specs.append(FeedSpec(f"sources/{sid}.atom", label, kind="source", key=sid))
    return specs


def _edition_key(kind: str, key: str) -> tuple[str, str]:
    return (kind, base_language(key) if kind == "language" else key)


def edition_posts(
    posts: Iterable[Post], specs: Sequence[FeedSpec], limit: int
) -> dict[str, list[Post]]:
    """The newest ``limit`` posts of every edition (by path), in one pass over ``posts``.

    The same choice as ``FeedSpec.selects`` applied edition by edition (a test holds them
    equal), made in one pass because there are dozens of editions (docs/performance.md).
    """
    lists: dict[tuple[str, str], list[Post]] = {}
    for spec in specs:
        lists.setdefault(_edition_key(spec.kind, spec.key), [])
    filling = dict(lists)
    for post in posts:
        if not filling:
            break
        keys = [("all", ""), ("language", base_language(post.language)), ("source", post.source_id)]
        keys.extend(("topic", t) for t in post.topics)
        for key in dict.fromkeys(keys):
            target = filling.get(key)
            if target is not None:
                target.append(post)
                if len(target) >= limit:
                    del filling[key]
    return {spec.path: lists[_edition_key(spec.kind, spec.key)] for spec in specs}

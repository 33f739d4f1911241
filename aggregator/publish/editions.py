"""Which Atom editions exist and which posts each one carries.

Enters: the ``Site`` (settings and posts, newest first).  Leaves: ``FeedSpec`` records (path,
title, language, what the edition selects), for each its newest posts, and the undated
backlogs the shared editions hold back (``undated_overflow``).  Pure: nothing here writes.

Editions: the combined feed, one per site language, one per topic, one per member source.  A
key that could not be a safe file name (``_SAFE_NAME``) gets no edition rather than an odd path.

Undated backlogs: a post whose feed gave no date is dated when first seen, so a new member
whose hundred entries carry no date would put all hundred on top of every shared edition with
one timestamp, pushing every other member's posts out.  Of the undated posts one source
brought in one fetch (same source, same ``first_seen``), the shared editions (combined,
language, topic) and the pages show at most ``site.undated_per_fetch``, the newest in the
store's order; the rest stay in the source's own edition and in the RFC 5005 archives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from operator import attrgetter
from typing import Protocol

from aggregator.models import Post
from aggregator.publish.outputs import clean_name
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
    topics = set(site.settings.topics) | site.topic_keys | {t for p in site.posts for t in p.topics}
    for key in sorted(t for t in topics if _SAFE_NAME.match(t)):
        label = f"{title}: {site.topic_label(key)}"
        specs.append(FeedSpec(f"topics/{key}.atom", label, kind="topic", key=key))
    for sid in sorted(s for s in site.sources if _SAFE_NAME.match(s)):
        label = f"{title}: {clean_name(site.sources[sid].name)}"
        specs.append(FeedSpec(f"sources/{sid}.atom", label, kind="source", key=sid))
    return specs


def _edition_key(kind: str, key: str) -> tuple[str, str]:
    return (kind, base_language(key) if kind == "language" else key)


def undated_overflow(posts: Sequence[Post], keep: int) -> frozenset[str]:
    """Ids of the undated posts the shared editions hold back (``posts``: newest first).

    Undated means dated when first seen (``published == first_seen``, as ``ingest`` dates
    them); a fetch's batch is a source and a ``first_seen``; its first ``keep`` posts are shown.
    Newest first, the undated posts of one moment are neighbours: only a moment that dated more
    than ``keep`` of them is looked at source by source.
    """
    return crowd_overflow([p for p in posts if p.published == p.first_seen], keep)


class _Undated(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def source_id(self) -> str: ...
    @property
    def first_seen(self) -> datetime: ...


def crowd_overflow(undated: Sequence[_Undated], keep: int) -> frozenset[str]:
    """``undated_overflow`` of posts already known to be undated (newest first), as the store's
    ``undated_crowds`` reads them."""
    held: list[str] = []
    for _, moment in groupby(undated, key=attrgetter("first_seen")):
        crowd = list(moment)
        if len(crowd) <= keep:
            continue
        shown: Counter[str] = Counter()
        for post in crowd:
            if shown[post.source_id] < keep:
                shown[post.source_id] += 1
            else:
                held.append(post.id)
    return frozenset(held)


def edition_posts(
    posts: Iterable[Post],
    specs: Sequence[FeedSpec],
    limit: int,
    held_back: frozenset[str] = frozenset(),
) -> dict[str, list[Post]]:
    """The newest ``limit`` posts of every edition (by path), in one pass over ``posts``.

    The same choice as ``FeedSpec.selects`` applied edition by edition (a test holds them
    equal), made in one pass because there are dozens of editions (docs/performance.md).
    Posts in ``held_back`` (``undated_overflow``) go only to their source's edition.
    """
    lists: dict[tuple[str, str], list[Post]] = {}
    for spec in specs:
        lists.setdefault(_edition_key(spec.kind, spec.key), [])
    filling = dict(lists)
    for post in posts:
        if not filling:
            break
        if post.id in held_back:
            keys = [("source", post.source_id)]
        else:
            keys = [("all", ""), ("language", base_language(post.language))]
            keys.append(("source", post.source_id))
            keys.extend(("topic", t) for t in post.topics)
        for key in dict.fromkeys(keys):
            target = filling.get(key)
            if target is not None:
                target.append(post)
                if len(target) >= limit:
                    del filling[key]
    return {spec.path: lists[_edition_key(spec.kind, spec.key)] for spec in specs}

"""The publish reads of the Store Protocol (``store.publishing.PublishStore``) over a list of
posts: what the SQL must agree with, and what the tests' fake stores publish from.

Each method is the plain Python choice, over every post, that the store makes with its
indexes; ``largest_batch`` records the most posts a streaming read handed over at once.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from aggregator.i18n import base_language
from aggregator.models import Post
from aggregator.publish.site import utc
from aggregator.store.publishing import BATCH, Overview, PostStamp, Selection

ArchiveKey = tuple[object, str]


def _newest_first(posts: Sequence[Post]) -> list[Post]:
    return sorted(posts, key=lambda p: (utc(p.published), p.id), reverse=True)


def _archive_order(posts: Sequence[Post]) -> list[Post]:
    return sorted(posts, key=lambda p: (utc(p.first_seen), p.id))


def _selects(selection: Selection, post: Post) -> bool:
    if selection.kind == "language":
        return base_language(post.language) == base_language(selection.key)
    if selection.kind == "topic":
        return selection.key in post.topics
    if selection.kind == "source":
        return post.source_id == selection.key
    return True


def stamp(post: Post) -> PostStamp:
    also = json.dumps(list(post.also_from), ensure_ascii=False, separators=(",", ":"))
    return PostStamp(post.id, post.source_id, utc(post.first_seen), post.content_hash, also)


class ListPublishReads:
    """``PublishStore`` over ``self.posts`` (set by the class it is mixed into)."""

    posts: list[Post]
    largest_batch: int = 0

    def location(self) -> str | None:
        return None  # a list in this process: no helper process can read it

    def publish_overview(self) -> Overview:
        pairs = frozenset((t, p.language) for p in self.posts for t in p.topics)
        languages = frozenset(p.language for p in self.posts)
        return Overview(len(self.posts), frozenset(t for t, _ in pairs), pairs, languages)

    def newest_updated(self) -> datetime | None:
        return max((utc(p.updated) for p in self.posts), default=None)

    def post_stamps(self, selection: Selection, limit: int) -> list[PostStamp]:
        found = [p for p in _newest_first(self.posts) if _selects(selection, p)]
        return [stamp(p) for p in found[: max(limit, 0)]]

    def undated_crowds(self, keep: int) -> list[PostStamp]:
        undated = [p for p in _newest_first(self.posts) if p.published == p.first_seen]
        crowded = {m for m, n in Counter(p.first_seen for p in undated).items() if n > keep}
        return [stamp(p) for p in undated if p.first_seen in crowded]

    def topic_posts(self) -> Iterator[Post]:
        return self._batched([p for p in _newest_first(self.posts) if p.topics])

    def archive_cuts(
        self, after: tuple[object, str] | None, size: int
    ) -> tuple[list[tuple[object, str]], list[tuple[object, str]]]:
        keys = [(utc(p.first_seen), p.id) for p in _archive_order(self.posts)]
        keys = [k for k in keys if after is None or k > after]  # type: ignore[operator]
        full = len(keys) // size * size
        return keys[size - 1 : full : size], keys[full:]

    def archive_posts(
        self, after: tuple[object, str] | None, until: tuple[object, str] | None
    ) -> Iterator[Post]:
        found = [
            p
            for p in _archive_order(self.posts)
            if (after is None or (utc(p.first_seen), p.id) > after)  # type: ignore[operator]
            and (until is None or (utc(p.first_seen), p.id) <= until)  # type: ignore[operator]
        ]
        return self._batched(found)

    def sibling_candidates(
        self, link_keys: Sequence[str], links: Sequence[str], held: Collection[str] = ()
    ) -> list[Post]:
        # every post not held: the store's narrower choice must agree
        return [p for p in self.posts if p.id not in held]

    def posts_by_ids(self, ids: Sequence[str]) -> list[Post]:
        wanted = set(ids)
        return _newest_first([p for p in self.posts if p.id in wanted])

    def _batched(self, posts: list[Post]) -> Iterator[Post]:
        for start in range(0, len(posts), BATCH):
            batch = posts[start : start + BATCH]
            self.largest_batch = max(self.largest_batch, len(batch))
            yield from batch

"""What a streaming publish reads of the store: the ``Site`` without its posts, and each
output's posts, chosen as stamps first and read whole only when the output is rebuilt.

Enters: the store (``store.publishing.PublishStore``'s reads), the settings, ``now``.  Leaves:
the ``Site`` (sources, states, topic labels, the newest ``updated``; ``posts`` empty), the
undated backlogs held back, each output's ``PostStamp``s (newest first) and their digests for
the memo, and the posts themselves for an output the memo found stale.

The choices are the ones ``editions.edition_posts``, ``editions.undated_overflow`` and
``pages.set_posts`` make over every post, made by the store over its indexes instead: no step
holds more posts than one output carries (tests hold the two ways equal).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from aggregator.config import Settings
from aggregator.dedupe import link_key
from aggregator.i18n import base_language
from aggregator.models import Post
from aggregator.present.siblings import Sibling, find_siblings, variant_key
from aggregator.present.topics import ENOUGH_POSTS, choose_topic_labels
from aggregator.publish.editions import FeedSpec, crowd_overflow
from aggregator.publish.site import Site, SparePosts, iso, utc
from aggregator.store.protocol import Store
from aggregator.store.publishing import Overview, PostStamp, Selection


def open_site(store: Store, settings: Settings, now: datetime) -> tuple[Site, Overview]:
    """The ``Site`` a publish writes from, without its posts; and the store's overview."""
    seen = store.publish_overview()
    topics = choose_topic_labels(
        settings.topics, settings.topic_labels, _until_told(store, settings, seen)
    )
    sources, states = store.get_sources(), store.get_states()
    site = Site(
        settings,
        sources,
        states,
        (),
        now,
        utc(now),
        topics,
        topic_keys=seen.topics,
        newest_loader=store.newest_updated,
    )
    return site, seen


def _until_told(store: Store, settings: Settings, seen: Overview) -> Iterator[Post]:
    """The posts with topics, newest first, until every (topic, language) has had its say.

    ``choose_topic_labels`` counts at most ``ENOUGH_POSTS`` posts per configured topic and
    language tag; once every pair the store holds is there, later posts change nothing.
    """
    wanted = {(t, lang) for t, lang in seen.topic_languages if settings.topics.get(t)}
    counted: Counter[tuple[str, str]] = Counter()
    stream = store.topic_posts()
    try:
        for post in stream:
            if not wanted:
                return
            yield post
            for key in post.topics:
                pair = (key, post.language)
                if pair in wanted:
                    counted[pair] += 1
                    if counted[pair] >= ENOUGH_POSTS:
                        wanted.discard(pair)
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()


def held_back(store: Store, keep: int) -> frozenset[str]:
    """``editions.undated_overflow`` over the store: only crowded moments are read."""
    return crowd_overflow(store.undated_crowds(keep), keep)


def selection(spec: FeedSpec) -> Selection:
    return Selection(spec.kind, spec.key)


def chosen(
    store: Store, where: Selection, limit: int, held: frozenset[str] = frozenset()
) -> list[PostStamp]:
    """The newest ``limit`` posts of ``where``; ``held`` (undated backlogs) left out, except
    from a source's own edition."""
    if where.kind == "source" or not held:
        return store.post_stamps(where, limit)
    found = store.post_stamps(where, limit + len(held))
    return [s for s in found if s.id not in held][:limit]


def digests(store: Store, stamps: Sequence[PostStamp]) -> list[str]:
    """What each post's outputs depend on, for the memo (see ``memo``): the content hash
    covers every normalised field; a post without one (hand-made, or from an old release) is
    read and digested whole."""
    unhashed = [s.id for s in stamps if not s.content_hash]
    whole = {p.id: _whole(p) for p in store.posts_by_ids(unhashed)} if unhashed else {}
    return [
        whole.get(s.id) or "\x1f".join((s.id, s.content_hash, iso(s.first_seen), s.also_from))
        for s in stamps
    ]


def _whole(post: Post) -> str:
    raw = repr(post).encode("utf-8", "surrogatepass")
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def posts_of(
    store: Store, stamps: Sequence[PostStamp], kept: SparePosts | None = None
) -> list[Post]:
    """The stamped posts, whole, in the stamps' order (a post deleted meanwhile is left out);
    those ``kept`` unchanged since the archive pages read them are not read again."""
    found: dict[str, Post] = {}
    if kept is not None:
        for stamp in stamps:
            post = kept.fresh(stamp.id, stamp.content_hash, stamp.first_seen)
            # merged now or then (``fresh`` checks the kept post): its row is read again
            if post is not None and stamp.also_from in ("", "[]"):
                found[stamp.id] = post
    missing = [s.id for s in stamps if s.id not in found]
    if missing:
        found.update((p.id, p) for p in store.posts_by_ids(missing))
    return [found[s.id] for s in stamps if s.id in found]


def _key(link: str) -> str:
    try:
        return link_key(link)
    except ValueError:  # a port out of range: no stored post has that key
        return ""


def siblings_of(
    store: Store, shown: Iterable[Post], languages: Iterable[str], order: Sequence[str]
) -> Mapping[str, tuple[Sibling, ...]]:
    """``find_siblings`` for the posts the pages show, over them and the posts that can be
    their versions: those at a shown post's link in another language segment, at one of its
    translations, or naming it as theirs.  (Versions linked only through a third post that is
    none of these are not followed: see docs/decisions.md.)"""
    posts = {p.id: p for p in shown}
    segments = sorted({base_language(lang) for lang in languages if lang} | set(order))
    links: set[str] = set()
    for post in posts.values():
        if not post.link:
            continue
        links.add(post.link)
        key = variant_key(post.link, base_language(post.language))
        if key is not None:
            links.update(key.format(lang) for lang in segments)
        links.update(t.href for t in post.translations if t.href)
    keys = sorted({_key(link) for link in links} - {""})
    for post in store.sibling_candidates(keys, sorted(links), held=posts.keys()):
        posts.setdefault(post.id, post)
    ordered = sorted(posts.values(), key=lambda p: (utc(p.published), p.id), reverse=True)
    found = find_siblings(ordered, order)
    return {pid: found[pid] for pid in found}

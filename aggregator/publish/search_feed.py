"""A search's results as an Atom feed: a saved search a subscriber's reader can follow.

Enters: the posts a search found (newest first), the settings, the store (for the sources'
names) and the query's two paths.  Leaves: an Atom document with the same entries, ids and
sources as ``feed.atom`` carries for those posts, so a reader that follows both never sees
a post twice.  Built per request by ``serve``'s ``/search.atom``; nothing is written to disk.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.config import Settings
from aggregator.models import Post
from aggregator.present.topics import choose_topic_labels
from aggregator.publish.atom import atom_document
from aggregator.publish.editions import FeedSpec
from aggregator.publish.site import Site, utc
from aggregator.store.protocol import Store


def search_atom(
    store: Store,
    settings: Settings,
    posts: Sequence[Post],
    *,
    feed_path: str,
    page_path: str,
    title: str,
    language: str | None,
    now: datetime,
) -> bytes:
    """The Atom document of ``posts``; ``feed_path``/``page_path`` are relative to the site's
    base URL (``search.atom?q=…``, ``search?q=…``)."""
    ordered = sorted(posts, key=lambda p: (utc(p.published), p.id), reverse=True)
    newest = max((utc(p.updated) for p in ordered), default=utc(now))
    topics = choose_topic_labels(settings.topics, settings.topic_labels, ordered)
    site = Site(settings, store.get_sources(), {}, ordered, now, newest, topics)
    spec = FeedSpec(feed_path, title, language, page_path, kind="search", key=title)
    return atom_document(site, spec, ordered)

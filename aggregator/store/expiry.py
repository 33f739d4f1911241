"""Deleting old posts (retention), kept apart from ``posts.py`` so the write path stays small.

What may never be deleted, whatever its age:

* a post any digest edition references: the ledger must still be able to show what was sent;
* the ids the caller names (``keep_ids``);
* each source's ``keep_newest`` newest posts by ``published``: those are what its feed most
  likely still lists, and deleting one would make the next fetch see it as new and publish it
  (and mail it) a second time.

Aliases, topic rows and the search index entry of a deleted post go with it, in the same
transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from aggregator.store import search as _search
from aggregator.store.schema import editions, post_aliases, post_topics, posts, to_utc

CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def edition_post_ids(conn: Connection) -> set[str]:
    """Every post id any edition (sent or not) lists."""
    referenced: set[str] = set()
    for (text,) in conn.execute(select(editions.c.post_ids)):
        referenced.update(str(i) for i in json.loads(text or "[]"))
    return referenced


def _newest_per_source(conn: Connection, keep_newest: int) -> set[str]:
    if keep_newest <= 0:
        return set()
    newest_first = (posts.c.published.desc(), posts.c.id.desc())
    rank = func.row_number().over(partition_by=posts.c.source_id, order_by=newest_first)
    ranked = select(posts.c.id, rank.label("rank")).subquery()
    query = select(ranked.c.id).where(ranked.c.rank <= keep_newest)
    return {row.id for row in conn.execute(query)}


def expire_posts(
    conn: Connection, before: datetime, keep_ids: Collection[str], *, keep_newest: int = 0
) -> int:
    """Delete posts first seen before ``before`` except the protected ones; how many went."""
    old = select(posts.c.id).where(posts.c.first_seen < to_utc(before))
    candidates = [row.id for row in conn.execute(old)]
    if not candidates:
        return 0
    protected = set(keep_ids) | edition_post_ids(conn) | _newest_per_source(conn, keep_newest)
    doomed = [i for i in candidates if i not in protected]
    for chunk in _chunks(doomed):
        _search.unindex(conn, chunk)
        conn.execute(delete(post_topics).where(post_topics.c.post_id.in_(chunk)))
        conn.execute(delete(post_aliases).where(post_aliases.c.post_id.in_(chunk)))
        conn.execute(delete(posts).where(posts.c.id.in_(chunk)))
    return len(doomed)

"""What full text (``ingest/fulltext``) reads and writes: waiting posts, each source's page
fingerprints, and an article put in place of a teaser.

An expanded post keeps its ``content_hash``: the hash is the feed's, so the next fetch of the
same teaser changes nothing, while a changed entry is rewritten from the feed and loses its
``post_fulltext`` row (``posts.upsert_many``), so its article is read again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from aggregator.models import Post
from aggregator.store import search as _search
from aggregator.store.posts import posts_by_ids, row_post
from aggregator.store.schema import post_fulltext, posts

PAGES_COMPARED = 30  # a source's newest pages whose blocks a new page is compared with


AGAIN = "again:"  # an outcome so marked waits to be read again (``forget``)


def pending(
    conn: Connection, source_ids: Sequence[str], limit: int
) -> list[tuple[Post, str | None]]:
    """Posts of these sources whose article waits to be read, newest first seen first, each
    with its previous outcome when it is to be read again (``expanded``: the post shows an
    article we read, not the feed's teaser)."""
    if not source_ids or limit <= 0:
        return []
    query = (
        select(posts, post_fulltext.c.outcome.label("previous"))
        .outerjoin(post_fulltext, post_fulltext.c.post_id == posts.c.id)
        .where(
            posts.c.source_id.in_(list(source_ids)),
            post_fulltext.c.post_id.is_(None) | post_fulltext.c.outcome.startswith(AGAIN),
        )
        .order_by(posts.c.first_seen.desc(), posts.c.id)
        .limit(limit)
    )
    found = []
    for row in conn.execute(query):
        previous = row.previous.removeprefix(AGAIN) if row.previous else None
        found.append((row_post(row), previous))
    return found


def recent_posts_of(conn: Connection, source_id: str, limit: int) -> list[Post]:
    query = (
        select(posts)
        .where(posts.c.source_id == source_id)
        .order_by(posts.c.first_seen.desc(), posts.c.id)
        .limit(limit)
    )
    return [row_post(r) for r in conn.execute(query)]


def page_blocks(
    conn: Connection, source_id: str, exclude: Sequence[str] = ()
) -> list[frozenset[str]]:
    """The block digests of the source's newest pages read, but those of ``exclude`` (posts
    read again: a page compared with itself would be all boilerplate)."""
    query = (
        select(post_fulltext.c.blocks)
        .where(
            post_fulltext.c.source_id == source_id,
            post_fulltext.c.blocks != "",
            post_fulltext.c.post_id.not_in(list(exclude)),
        )
        .order_by(post_fulltext.c.fetched.desc())
        .limit(PAGES_COMPARED)
    )
    return [frozenset(r.blocks.split()) for r in conn.execute(query)]


def record(
    conn: Connection,
    post: Post,
    now: datetime,
    outcome: str,
    blocks: frozenset[str],
    article: tuple[str, str] | None,
) -> None:
    """Remember the reading; with ``article`` (content HTML, excerpt) put it in place."""
    conn.execute(delete(post_fulltext).where(post_fulltext.c.post_id == post.id))
    conn.execute(
        insert(post_fulltext).values(
            post_id=post.id,
            source_id=post.source_id,
            fetched=now,
            outcome=outcome,
            blocks=" ".join(sorted(blocks)),
        )
    )
    if article is None:
        return
    content_html, excerpt = article
    _search.unindex(conn, [post.id])  # while the row still holds what was indexed
    conn.execute(
        update(posts)
        .where(posts.c.id == post.id)
        .values(content_html=content_html, excerpt=excerpt)
    )
    _search.index(conn, posts_by_ids(conn, [post.id]))


def forget(conn: Connection, source_ids: Sequence[str]) -> int:
    """Mark these sources' posts as waiting again (``aggregator fulltext --again``)."""
    again = conn.execute(
        update(post_fulltext)
        .where(
            post_fulltext.c.source_id.in_(list(source_ids)),
            post_fulltext.c.outcome.not_like(f"{AGAIN}%"),
        )
        .values(outcome=AGAIN + post_fulltext.c.outcome)
    )
    return int(again.rowcount or 0)

"""Posts and sources taken out of the outputs from the console, and the filter that does it.

A hidden post, or every post of a disabled or removed source, stays in ``posts`` (restorable
with one click) but is left out of what the outputs read: ``recent_posts`` (feeds, pages,
archives) and ``posts_first_seen`` (the digest) add ``posts.visible_posts()`` to their query, so the
next publish and the next digest no longer show it.  A held source is also not fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection

from aggregator.models import Post
from aggregator.store.posts import row_post, visible_posts
from aggregator.store.schema import hidden_posts, post_topics, posts, source_holds

__all__ = [
    "DISABLED",
    "HOLD_STATES",
    "REMOVED",
    "Hidden",
    "PostQuery",
    "SourceHold",
    "find_posts",
    "visible_posts",
]

DISABLED = "disabled"
REMOVED = "removed"
HOLD_STATES = (DISABLED, REMOVED)


@dataclass(frozen=True, slots=True)
class Hidden:
    post_id: str
    actor: str
    reason: str
    at: datetime


@dataclass(frozen=True, slots=True)
class SourceHold:
    source_id: str
    state: str  # disabled or removed
    actor: str
    at: datetime


def hide_post(conn: Connection, post_id: str, actor: str, reason: str, now: datetime) -> bool:
    """Hide one stored post; False when there is no such post or it is hidden already."""
    if conn.execute(select(posts.c.id).where(posts.c.id == post_id)).first() is None:
        return False
    if conn.execute(
        select(hidden_posts.c.post_id).where(hidden_posts.c.post_id == post_id)
    ).first():
        return False
    conn.execute(insert(hidden_posts).values(post_id=post_id, actor=actor, reason=reason, at=now))
    return True


def unhide_post(conn: Connection, post_id: str) -> bool:
    return conn.execute(delete(hidden_posts).where(hidden_posts.c.post_id == post_id)).rowcount == 1


def hidden(conn: Connection) -> dict[str, Hidden]:
    rows = conn.execute(select(hidden_posts))
    return {r.post_id: Hidden(r.post_id, r.actor, r.reason, r.at) for r in rows}


def hold_source(conn: Connection, source_id: str, state: str, actor: str, now: datetime) -> None:
    if state not in HOLD_STATES:
        raise ValueError(f"not a hold: {state!r}")
    changed = conn.execute(
        update(source_holds)
        .where(source_holds.c.source_id == source_id)
        .values(state=state, actor=actor, at=now)
    )
    if changed.rowcount == 0:
        conn.execute(
            insert(source_holds).values(source_id=source_id, state=state, actor=actor, at=now)
        )


def release_source(conn: Connection, source_id: str) -> bool:
    result = conn.execute(delete(source_holds).where(source_holds.c.source_id == source_id))
    return result.rowcount == 1


def holds(conn: Connection) -> dict[str, SourceHold]:
    rows = conn.execute(select(source_holds))
    return {r.source_id: SourceHold(r.source_id, r.state, r.actor, r.at) for r in rows}


@dataclass(frozen=True, slots=True)
class PostQuery:
    """The console's post search; every field optional, ``text`` matched in titles."""

    text: str = ""
    source_id: str | None = None
    language: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    hidden_only: bool = False
    limit: int = 50
    offset: int = 0


def find_posts(conn: Connection, query: PostQuery) -> list[Post]:
    """Posts newest published first, hidden ones included (the console must find them)."""
    sql = select(posts)
    if query.text:
        pattern = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        sql = sql.where(posts.c.title.ilike(pattern + "%", escape="\\"))
    if query.source_id:
        sql = sql.where(posts.c.source_id == query.source_id)
    if query.language:
        sql = sql.where(posts.c.language == query.language)
    if query.topic:
        sql = sql.where(
            posts.c.id.in_(select(post_topics.c.post_id).where(post_topics.c.topic == query.topic))
        )
    if query.since is not None:
        sql = sql.where(posts.c.published >= query.since)
    if query.until is not None:
        sql = sql.where(posts.c.published < query.until)
    if query.hidden_only:
        sql = sql.where(posts.c.id.in_(select(hidden_posts.c.post_id)))
    sql = sql.order_by(posts.c.published.desc(), posts.c.id.desc())
    sql = sql.limit(max(1, min(query.limit, 500))).offset(max(0, query.offset))
    return [row_post(row) for row in conn.execute(sql)]

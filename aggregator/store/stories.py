"""Stories across members in the store: the candidates a new post may be the same story as,
and the merges and joins the cycle decided (``dedupe``).

A story is a primary post (a row of ``posts``) and its aliases (rows of ``post_aliases``, the
same story as published by other members).  Candidates are looked up among both: a new post
that matches only an alias belongs to the alias's story.  A join makes two stories one: the
demoted primary becomes an alias of the kept one, its aliases follow it, and the kept post's
``also_from`` names them all.  Everything here runs in the caller's transaction, so a crash
leaves each source's update, merges and joins wholly written or not at all.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Select, delete, insert, literal, select, update
from sqlalchemy.engine import Connection

from aggregator.dedupe import StoryKey, link_key, title_key
from aggregator.models import Post
from aggregator.store import search as _search
from aggregator.store.driver import marks, placeholder
from aggregator.store.expiry import edition_post_ids
from aggregator.store.schema import (
    from_stored,
    post_aliases,
    post_fulltext,
    post_topics,
    posts,
    to_utc,
)

log = logging.getLogger(__name__)

CHUNK = 500
StoryKeys = Mapping[str, tuple[str, str]]

_ALIASED = post_aliases.join(posts, posts.c.id == post_aliases.c.post_id)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _keys(values: Iterable[str]) -> list[str]:
    return [k for k in dict.fromkeys(values) if k]


def _primaries(where: ColumnElement[bool], exclude: str) -> Select[Any]:
    return select(
        posts.c.id, posts.c.source_id, posts.c.link_key, posts.c.title_key,
        posts.c.language, posts.c.published, posts.c.first_seen, literal(""),
    ).where(where, posts.c.source_id != exclude)  # fmt: skip


def _aliases(where: ColumnElement[bool], exclude: str) -> Select[Any]:
    """Aliases with their primary's id and first sight (which story they belong to)."""
    a = post_aliases.c
    return (
        select(
            a.alias_id,
            a.source_id,
            a.link_key,
            a.title_key,
            a.language,
            a.published,
            posts.c.first_seen,
            a.post_id,
        )
        .select_from(_ALIASED)
        .where(where, a.source_id != exclude, a.published.is_not(None))
    )


def story_candidates(
    conn: Connection, link_keys: Sequence[str], title_keys: Sequence[str], exclude_source: str
) -> list[StoryKey]:
    """Stored posts of other sources, primaries and aliases, sharing a link key or a
    (non-empty) title key."""
    lookup = story_lookup(conn.dialect, link_keys, title_keys, exclude_source)
    if lookup is not None:
        return story_keys(conn.exec_driver_sql(*lookup).all())
    rows: list[Any] = []
    for name, keys in (("link_key", _keys(link_keys)), ("title_key", _keys(title_keys))):
        for chunk in _chunks(keys):
            rows += conn.execute(_primaries(posts.c[name].in_(chunk), exclude_source)).all()
            alias_key = post_aliases.c[name].in_(chunk)
            rows += conn.execute(_aliases(alias_key, exclude_source)).all()
    return story_keys(rows)


def story_lookup(
    dialect: Dialect, link_keys: Sequence[str], title_keys: Sequence[str], exclude_source: str
) -> tuple[str, tuple[str, ...]] | None:
    """``story_candidates`` as one driver statement and its parameters (rows for
    ``story_keys``), or None when the driver or the number of keys needs SQLAlchemy's path.

    The cycle looks up once per source, where SQLAlchemy's expanding of the IN lists cost
    more than the database answering them.  Each IN is answered from its own index (SQLite:
    MULTI-INDEX OR; PostgreSQL: a BitmapOr), in ``posts`` and in ``post_aliases``.  No key at
    all is SQLAlchemy's path too: it sends nothing.
    """
    mark = placeholder(dialect)
    links, titles = _keys(link_keys), _keys(title_keys)
    if mark is None or not 0 < len(links) + len(titles) <= CHUNK:
        return None

    def either(table: str) -> str:
        parts = []
        if links:
            parts.append(f"{table}.link_key IN ({marks(mark, len(links))})")
        if titles:
            parts.append(f"{table}.title_key IN ({marks(mark, len(titles))})")
        return " OR ".join(parts)

    sql = (
        "SELECT p.id, p.source_id, p.link_key, p.title_key, p.language, p.published, "
        f"p.first_seen, '' FROM posts p WHERE ({either('p')}) AND p.source_id != {mark} "
        "UNION ALL "
        "SELECT a.alias_id, a.source_id, a.link_key, a.title_key, a.language, a.published, "
        "p.first_seen, a.post_id FROM post_aliases a JOIN posts p ON p.id = a.post_id "
        f"WHERE ({either('a')}) AND a.source_id != {mark} AND a.published IS NOT NULL"
    )
    params = (*links, *titles, exclude_source)
    return sql, params + params


def story_keys(rows: Iterable[Sequence[Any]]) -> list[StoryKey]:
    """The rows of a ``story_lookup`` statement, once per post."""
    return list({
        id_: StoryKey(
            id_, source_id, link, title, language,
            from_stored(published), from_stored(first_seen), story or "",
        )
        for id_, source_id, link, title, language, published, first_seen, story in rows
    }.values())  # fmt: skip


def primary_of(conn: Connection, post_id: str) -> str | None:
    """The primary of the story ``post_id`` is in now (itself, or the post it is an alias
    of), or None when the store no longer holds it."""
    if conn.execute(select(posts.c.id).where(posts.c.id == post_id)).first() is not None:
        return post_id
    row = conn.execute(
        select(post_aliases.c.post_id).where(post_aliases.c.alias_id == post_id)
    ).first()
    return None if row is None else str(row.post_id)


def merge_aliases(
    conn: Connection, merges: Sequence[tuple[Post, str]], keys: StoryKeys | None = None
) -> None:
    """Record each duplicate as an alias of its primary, with its own story keys, and name its
    source on the primary.  A primary joined into another story since it was chosen is
    followed there; one the store no longer holds (retention) records nothing: the post is
    new again on the next fetch."""
    for duplicate, chosen in merges:
        primary = primary_of(conn, chosen)
        conn.execute(delete(post_aliases).where(post_aliases.c.alias_id == duplicate.id))
        if primary is None:
            continue
        known = keys.get(duplicate.id) if keys is not None else None
        link, title = known or (link_key(duplicate.link), title_key(duplicate.title))
        conn.execute(
            insert(post_aliases).values(
                alias_id=duplicate.id,
                post_id=primary,
                source_id=duplicate.source_id,
                content_hash=duplicate.content_hash,
                first_seen=duplicate.first_seen,
                link_key=link,
                title_key=title,
                language=duplicate.language,
                published=to_utc(duplicate.published),
            )
        )
        _name_sources(conn, primary, [duplicate.source_id])


def _name_sources(conn: Connection, primary: str, sources: Sequence[str]) -> None:
    """Add ``sources`` to the primary's ``also_from`` (never its own source, never twice)."""
    row = conn.execute(
        select(posts.c.source_id, posts.c.also_from).where(posts.c.id == primary)
    ).one_or_none()
    if row is None:
        return
    also = list(json.loads(row.also_from))
    added = [s for s in dict.fromkeys(sources) if s != row.source_id and s not in also]
    if added:
        conn.execute(
            update(posts)
            .where(posts.c.id == primary)
            .values(also_from=json.dumps(also + added, ensure_ascii=False))
        )


def join_stories(conn: Connection, joins: Sequence[tuple[str, str]]) -> None:
    """Make each (demoted, kept) pair of stories one story under ``kept``.

    A primary a digest edition lists is never demoted (the ledger must keep showing what was
    sent): the other one is, and when both were sent they stay two stories.
    """
    listed: set[str] | None = None
    for first, second in joins:
        demoted, kept = primary_of(conn, first), primary_of(conn, second)
        if demoted is None or kept is None or demoted == kept:
            continue
        pair = (demoted, kept)
        if listed is None:
            listed = edition_post_ids(conn)
        if demoted in listed:
            if kept in listed:
                log.info("stories %s and %s are one but both were mailed: kept apart", *pair)
                continue
            demoted, kept = kept, demoted
        _demote(conn, demoted, kept)


def _demote(conn: Connection, demoted: str, kept: str) -> None:
    """``demoted`` (a primary) and its aliases become aliases of ``kept``."""
    row = conn.execute(select(posts).where(posts.c.id == demoted)).one()
    moved = [
        r.source_id
        for r in conn.execute(
            select(post_aliases.c.source_id).where(post_aliases.c.post_id == demoted)
        )
    ]
    conn.execute(update(post_aliases).where(post_aliases.c.post_id == demoted).values(post_id=kept))
    conn.execute(
        insert(post_aliases).values(
            alias_id=demoted,
            post_id=kept,
            source_id=row.source_id,
            content_hash=row.content_hash,
            first_seen=row.first_seen,
            link_key=row.link_key,
            title_key=row.title_key,
            language=row.language,
            published=row.published,
        )
    )
    _search.unindex(conn, [demoted])
    conn.execute(delete(post_topics).where(post_topics.c.post_id == demoted))
    conn.execute(delete(post_fulltext).where(post_fulltext.c.post_id == demoted))
    conn.execute(delete(posts).where(posts.c.id == demoted))
    _name_sources(conn, kept, [row.source_id, *json.loads(row.also_from), *moved])

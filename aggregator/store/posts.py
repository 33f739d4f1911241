"""Post rows: writing a source's new and changed posts, and the queries outputs are built from.

Lists inside a post (authors, tags, topics, also_from, translations) are JSON text: they are
always read and written whole, and JSON keeps their order on both backends.  Topics are also
copied into ``post_topics`` so that filtering by topic uses an index.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection

from aggregator.dedupe import link_key, title_key
from aggregator.models import Author, Link, Post
from aggregator.store import search as _search
from aggregator.store.driver import insert_sql, marks, placeholder
from aggregator.store.schema import (
    StoredTime,
    hidden_posts,
    post_aliases,
    post_fulltext,
    post_topics,
    posts,
    source_holds,
    stored_time,
)

# SQLite allows 32766 bound parameters per statement (older builds 999); stay well below.
CHUNK = 500

_UPDATABLE = tuple(c.name for c in posts.columns if c.name not in ("id", "first_seen"))


# Pure and costly (Unicode decomposition per character); a changed post is written with the
# same link and title again and again.
_link_key = lru_cache(maxsize=8192)(link_key)
_title_key = lru_cache(maxsize=8192)(title_key)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return _JSON.encode(value) if value else "[]"  # most lists are empty


# The quoting ``_JSON`` applies to a string (ensure_ascii=False).
_quote: Callable[[str], str] = json.encoder.encode_basestring


def _dumps_strings(values: tuple[str, ...]) -> str:
    """``_dumps`` of a tuple of strings, the same text without the encoder's per-call setup
    (tags and topics of every post of a cold cycle)."""
    if not values:
        return "[]"
    if all(type(v) is str for v in values):
        return "[" + ",".join(map(_quote, values)) + "]"
    return _JSON.encode(values)


def _author_dict(author: Author) -> dict[str, str]:
    data = {"name": author.name}
    for key in ("affiliation", "uri", "email"):
        value = getattr(author, key)
        if value is not None:
            data[key] = value
    return data


def _link_dict(link: Link) -> dict[str, Any]:
    data: dict[str, Any] = {"href": link.href, "rel": link.rel}
    for key in ("type", "hreflang", "length"):
        value = getattr(link, key)
        if value is not None:
            data[key] = value
    return data


StoryKeys = Mapping[str, tuple[str, str]]


def post_row(post: Post, keys: StoryKeys | None = None) -> dict[str, Any]:
    """The row of a post; ``keys`` (post id -> link key, title key) saves recomputing them
    when the cycle's workers already did."""
    known = keys.get(post.id) if keys else None
    link_key_, title_key_ = known or (_link_key(post.link), _title_key(post.title))
    return {
        "id": post.id,
        "source_id": post.source_id,
        "guid": post.guid,
        "title": post.title,
        "link": post.link,
        "published": post.published,
        "updated": post.updated,
        "first_seen": post.first_seen,
        "language": post.language,
        "excerpt": post.excerpt,
        "content_html": post.content_html,
        "title_derived": post.title_derived,
        "authors": _dumps([_author_dict(a) for a in post.authors]),
        "tags": _dumps(list(post.tags)),
        "topics": _dumps(list(post.topics)),
        "image": post.image,
        "content_hash": post.content_hash,
        "also_from": _dumps(list(post.also_from)),
        "translations": _dumps([_link_dict(t) for t in post.translations]),
        "link_key": link_key_,
        "title_key": title_key_,
    }


#: The column order of ``post_values``: every column of ``posts``, in table order.
POST_COLUMNS = (
    "id", "source_id", "guid", "title", "link", "published", "updated", "first_seen",
    "language", "excerpt", "content_html", "title_derived", "authors", "tags", "topics",
    "image", "content_hash", "also_from", "translations", "link_key", "title_key",
)  # fmt: skip


def post_values(post: Post, keys: StoryKeys | None, convert: StoredTime) -> tuple[Any, ...]:
    """``post_row`` as the driver's own values in ``POST_COLUMNS`` order.

    The cold cycle inserts 20,000 rows: building a dict per row and having SQLAlchemy run
    the datetime type per value cost more CPU than SQLite's own work.  ``convert`` is
    what ``UTCDateTime`` makes of a datetime on this backend, so the stored values are the
    same either way.
    """
    known = keys.get(post.id) if keys else None
    link_key_, title_key_ = known or (_link_key(post.link), _title_key(post.title))
    return (
        post.id, post.source_id, post.guid, post.title, post.link,
        convert(post.published), convert(post.updated), convert(post.first_seen),
        post.language, post.excerpt, post.content_html, post.title_derived,
        _dumps([_author_dict(a) for a in post.authors]) if post.authors else "[]",
        _dumps_strings(post.tags), _dumps_strings(post.topics), post.image, post.content_hash,
        _dumps_strings(post.also_from),
        _dumps([_link_dict(t) for t in post.translations]) if post.translations else "[]",
        link_key_, title_key_,
    )  # fmt: skip


def row_post(row: Row[Any]) -> Post:
    return Post(
        id=row.id,
        source_id=row.source_id,
        guid=row.guid,
        title=row.title,
        link=row.link,
        published=row.published,
        updated=row.updated,
        first_seen=row.first_seen,
        language=row.language,
        excerpt=row.excerpt,
        content_html=row.content_html,
        title_derived=bool(row.title_derived),
        authors=parse_authors(row.authors),
        tags=parse_strings(row.tags),
        topics=parse_strings(row.topics),
        image=row.image,
        content_hash=row.content_hash,
        also_from=parse_strings(row.also_from),
        translations=parse_links(row.translations),
    )


# A publish reads hundreds of thousands of posts whose lists repeat (no tags, the same author,
# the same topics): each distinct JSON text is parsed once.  The records are frozen, so the
# cached tuples are shared safely.
@lru_cache(maxsize=4096)
def parse_strings(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text != "[]" else ()


@lru_cache(maxsize=4096)
def parse_authors(text: str) -> tuple[Author, ...]:
    return tuple(
        Author(
            name=a["name"], affiliation=a.get("affiliation"), uri=a.get("uri"), email=a.get("email")
        )
        for a in json.loads(text)
    )


@lru_cache(maxsize=1024)
def parse_links(text: str) -> tuple[Link, ...]:
    return tuple(
        Link(
            href=t["href"],
            rel=t.get("rel", "alternate"),
            type=t.get("type"),
            hreflang=t.get("hreflang"),
            length=t.get("length"),
        )
        for t in json.loads(text)
    )


# --------------------------------------------------------------------------------------------
# Writing

# The cycle's per-source lookups, built once with expanding bound parameters: SQLAlchemy
# memoises a statement object's cache key, so building one per call cost more than the query.
_KNOWN = select(posts.c.id, posts.c.content_hash, posts.c.first_seen).where(
    posts.c.source_id == bindparam("source_id"), posts.c.id.in_(bindparam("ids", expanding=True))
)
_KNOWN_ALIASES = select(
    post_aliases.c.alias_id, post_aliases.c.content_hash, post_aliases.c.first_seen
).where(
    post_aliases.c.source_id == bindparam("source_id"),
    post_aliases.c.alias_id.in_(bindparam("ids", expanding=True)),
)
_ALIASES = select(post_aliases.c.alias_id, post_aliases.c.post_id).where(
    post_aliases.c.source_id == bindparam("source_id"),
    post_aliases.c.alias_id.in_(bindparam("ids", expanding=True)),
)
_ALIASES_FULL = select(
    post_aliases.c.alias_id,
    post_aliases.c.post_id,
    post_aliases.c.content_hash,
    post_aliases.c.first_seen,
).where(
    post_aliases.c.source_id == bindparam("source_id"),
    post_aliases.c.alias_id.in_(bindparam("ids", expanding=True)),
)
_HASHES = select(posts.c.id, posts.c.content_hash).where(
    posts.c.id.in_(bindparam("ids", expanding=True))
)


def known_posts(
    conn: Connection, source_id: str, ids: Sequence[str]
) -> dict[str, tuple[str, datetime]]:
    found: dict[str, tuple[str, datetime]] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        params = {"source_id": source_id, "ids": list(chunk)}
        for row in conn.execute(_KNOWN, params):
            found[row.id] = (row.content_hash, row.first_seen)
        for row in conn.execute(_KNOWN_ALIASES, params):
            found[row.alias_id] = (row.content_hash, row.first_seen)
    return found


def known_and_aliases(
    conn: Connection, source_id: str, ids: Sequence[str]
) -> tuple[dict[str, tuple[str, datetime]], dict[str, str]]:
    """``known_posts`` and ``alias_targets`` together, with one alias query instead of two."""
    found: dict[str, tuple[str, datetime]] = {}
    aliases: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        params = {"source_id": source_id, "ids": list(chunk)}
        for row in conn.execute(_KNOWN, params):
            found[row.id] = (row.content_hash, row.first_seen)
        for alias in conn.execute(_ALIASES_FULL, params):
            found[alias.alias_id] = (alias.content_hash, alias.first_seen)
            aliases[alias.alias_id] = alias.post_id
    return found, aliases


def alias_targets(conn: Connection, source_id: str, ids: Sequence[str]) -> dict[str, str]:
    """For ids of one source that are aliases: alias id -> primary post id."""
    found: dict[str, str] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        params = {"source_id": source_id, "ids": list(chunk)}
        found.update((row.alias_id, row.post_id) for row in conn.execute(_ALIASES, params))
    return found


def _stored_hashes(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    hashes: dict[str, str] = {}
    mark = placeholder(conn.dialect)
    for chunk in _chunks(ids):
        if mark is None:
            found = conn.execute(_HASHES, {"ids": list(chunk)}).all()
        else:
            sql = f"SELECT id, content_hash FROM posts WHERE id IN ({marks(mark, len(chunk))})"
            found = conn.exec_driver_sql(sql, tuple(chunk)).all()
        hashes.update(found)
    return hashes


def upsert_posts(
    conn: Connection, batch: Sequence[Post], keys: StoryKeys | None = None
) -> tuple[int, int]:
    """Insert new posts and rewrite changed ones (first_seen kept): (new, updated).

    A post whose content_hash equals the stored one is not written at all.  The caller owns
    the transaction.
    """
    return upsert_many(conn, [batch], keys)[0]


_UPDATE_POST = (
    update(posts)
    .where(posts.c.id == bindparam("_id"))
    .values({name: bindparam(f"_{name}") for name in _UPDATABLE})
)


def upsert_many(
    conn: Connection,
    batches: Sequence[Sequence[Post]],
    keys: StoryKeys | None = None,
    tokens: _search.Tokens | None = None,
) -> list[tuple[int, int]]:
    """``upsert_posts`` for several sources' posts with one statement per kind of write.

    Per-statement overhead, not SQLite, was most of a cold cycle's writing time; the counts
    are still each batch's own, as if the batches had been written one after the other.
    """
    latest = [{post.id: post for post in batch} for batch in batches]  # repeated id: last wins
    stored = _stored_hashes(conn, list(dict.fromkeys(i for one in latest for i in one)))
    new: dict[str, Post] = {}
    changed: dict[str, Post] = {}
    counts: list[tuple[int, int]] = []
    for one in latest:
        added = rewritten = 0
        for post in one.values():
            previous = stored.get(post.id)
            if previous is None:
                new[post.id] = post
                added += 1
            elif previous != post.content_hash:
                changed[post.id] = post
                rewritten += 1
            stored[post.id] = post.content_hash
        counts.append((added, rewritten))
    for post_id in new.keys() & changed.keys():  # new earlier in this write: insert the last
        new[post_id] = changed.pop(post_id)
    if new:
        _insert_posts(conn, list(new.values()), keys)
    if changed:
        _search.unindex(conn, list(changed))  # while the rows still hold what was indexed
        rows = [
            {f"_{k}": v for k, v in post_row(p, keys).items() if k != "first_seen"}
            for p in changed.values()
        ]
        conn.execute(_UPDATE_POST, rows)
        for chunk in _chunks(list(changed)):
            conn.execute(delete(post_topics).where(post_topics.c.post_id.in_(chunk)))
            # the feed's new text replaces an article read before: read it again
            conn.execute(delete(post_fulltext).where(post_fulltext.c.post_id.in_(chunk)))
    topic_rows = [
        (p.id, topic) for p in (*new.values(), *changed.values()) for topic in set(p.topics)
    ]
    if topic_rows:
        mark = placeholder(conn.dialect)
        if mark is None:
            rows = [{"post_id": post_id, "topic": topic} for post_id, topic in topic_rows]
            conn.execute(insert(post_topics), rows)
        else:
            sql = insert_sql(conn.dialect, post_topics, ("post_id", "topic"), mark)
            conn.exec_driver_sql(sql, topic_rows)
    _search.index(conn, [*new.values(), *changed.values()], tokens)
    return counts


def _insert_posts(conn: Connection, batch: Sequence[Post], keys: StoryKeys | None) -> None:
    """INSERT new posts, as prepared driver values when the driver takes positional ones."""
    mark = placeholder(conn.dialect)
    if mark is not None:
        convert = stored_time(conn.dialect)
        try:
            rows = [post_values(p, keys, convert) for p in batch]
        except ValueError:
            pass  # a naive datetime: SQLAlchemy's path below reports it as usual
        else:
            conn.exec_driver_sql(insert_sql(conn.dialect, posts, POST_COLUMNS, mark), rows)
            return
    conn.execute(insert(posts), [post_row(p, keys) for p in batch])


# --------------------------------------------------------------------------------------------
# Reading


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(posts.c.published.desc(), posts.c.id.desc())


def visible_posts() -> ColumnElement[bool]:
    """The WHERE clause of every output query: not taken down, and not from a source held
    (disabled or removed) in the console (``store.takedowns``)."""
    return and_(
        posts.c.id.not_in(select(hidden_posts.c.post_id)),
        posts.c.source_id.not_in(select(source_holds.c.source_id)),
    )


def recent_posts(
    conn: Connection,
    limit: int,
    *,
    language: str | None,
    source_id: str | None,
    topic: str | None,
    offset: int,
) -> list[Post]:
    if limit <= 0:
        return []
    query = select(posts).where(visible_posts())
    if language is not None:
        query = query.where(posts.c.language == language)
    if source_id is not None:
        query = query.where(posts.c.source_id == source_id)
    if topic is not None:
        tagged = select(post_topics.c.post_id).where(post_topics.c.topic == topic)
        query = query.where(posts.c.id.in_(tagged))
    query = _newest_first(query).limit(limit).offset(max(offset, 0))
    return [row_post(row) for row in conn.execute(query)]


def posts_first_seen(
    conn: Connection, after: datetime | None, until: datetime, *, language: str | None
) -> list[Post]:
    query = select(posts).where(posts.c.first_seen <= until, visible_posts())
    if after is not None:
        query = query.where(posts.c.first_seen > after)
    if language is not None:
        query = query.where(posts.c.language == language)
    query = query.order_by(posts.c.first_seen.asc(), posts.c.id.asc())
    return [row_post(row) for row in conn.execute(query)]


def posts_by_ids(conn: Connection, ids: Sequence[str]) -> list[Post]:
    found: list[Post] = []
    for chunk in _chunks(list(dict.fromkeys(ids))):
        rows = conn.execute(select(posts).where(posts.c.id.in_(chunk)))
        found.extend(row_post(row) for row in rows)
    found.sort(key=lambda p: (p.published, p.id), reverse=True)
    return found


def all_posts(conn: Connection, batch_size: int = 1000) -> Iterator[list[Post]]:
    """Every stored post, a batch at a time (rebuilding the search index)."""
    result = conn.execute(select(posts).execution_options(yield_per=batch_size))
    for rows in result.partitions():
        yield [row_post(row) for row in rows]


def count_posts(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(posts)).scalar_one())

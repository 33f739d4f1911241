"""The store's side of a streaming publish: small, ordered reads instead of every post at once.

A publish over 700,000 stored posts cannot hold them (about 11 KB of memory each once read),
and most of its outputs need few of them: each edition and page set its newest N, each archive
page its own slice.  ``PublishStore`` is the part of the Store Protocol that serves those reads;
``PublishMethods`` implements it over the ``SqlStore`` plumbing.  Every read sees only the
posts outputs may show (``posts.visible_posts``), in the order the outputs use: newest first by
(published, id), or first seen order (first_seen, id) for the archives.

``PostStamp`` is what an output's fingerprint needs of a post without its text (id, content
hash, first seen, other publishers): choosing and fingerprinting an output reads stamps, and
only an output whose fingerprint changed reads its posts whole.  The iterators (``archive_posts``,
``topic_posts``) hold one connection while they are consumed and materialise
``BATCH`` rows at a time at most.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from itertools import starmap
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, Select, and_, func, literal, or_, select, true, tuple_
from sqlalchemy.engine import Connection

from aggregator.models import Post
from aggregator.store import posts as _posts
from aggregator.store.schema import hidden_posts, post_topics, posts, source_holds

__all__ = ["BATCH", "Overview", "PostStamp", "PublishMethods", "PublishStore", "Selection"]

BATCH = 500  # rows materialised at once by the streaming reads
ArchiveKey = tuple[datetime, str]  # (first_seen, id): a post's place in the archives


@dataclass(frozen=True, slots=True)
class Selection:
    """Which posts an output carries: all, one language (its regional variants too), one topic,
    one source."""

    kind: str = "all"  # "all", "language", "topic" or "source"
    key: str = ""


@dataclass(frozen=True, slots=True)
class PostStamp:
    """A post as an output's fingerprint sees it (its text is covered by ``content_hash``)."""

    id: str
    source_id: str
    first_seen: datetime
    content_hash: str
    also_from: str  # the stored JSON list, as written


@dataclass(frozen=True, slots=True)
class Overview:
    """The publishable posts at a glance: how many, their topics and languages."""

    count: int
    topics: frozenset[str]
    topic_languages: frozenset[tuple[str, str]]  # (topic, language) pairs some post has
    languages: frozenset[str]  # every post's language tag


class PublishStore(Protocol):
    def location(self) -> str | None:
        """A URL another process can open this store at (a publish's helper); None if none."""

    def publish_overview(self) -> Overview: ...

    def newest_updated(self) -> datetime | None:
        """The newest ``updated`` of any post (a scan: read it only when a document is empty)."""

    def post_stamps(self, selection: Selection, limit: int) -> list[PostStamp]:
        """The newest ``limit`` posts of ``selection``, newest first by (published, id)."""

    def undated_crowds(self, keep: int) -> list[PostStamp]:
        """Posts dated when first seen (``published == first_seen``) that share that moment
        with more than ``keep`` others such, newest first: the candidates of undated backlogs."""

    def topic_posts(self) -> Iterator[Post]:
        """Posts with a topic, newest first, without their content (``content_html`` empty)."""

    def archive_cuts(
        self, after: ArchiveKey | None, size: int
    ) -> tuple[list[ArchiveKey], list[ArchiveKey]]:
        """Of the posts after ``after`` (None: all) in (first_seen, id) order: the keys that end
        each run of ``size`` of them, and the keys of the fewer than ``size`` left over."""

    def archive_posts(self, after: ArchiveKey | None, until: ArchiveKey | None) -> Iterator[Post]:
        """Posts with ``after < (first_seen, id) <= until`` (None: unbounded), in that order."""

    def sibling_candidates(
        self, link_keys: Sequence[str], links: Sequence[str], held: Collection[str] = ()
    ) -> list[Post]:
        """Posts whose ``link_key`` is one of ``link_keys``, or whose translations name one of
        ``links``: where another language version of a shown post can be; those in ``held``
        (the caller has them) are not read."""


class PublishMethods:
    """``PublishStore`` over the ``SqlStore`` plumbing (``_read``)."""

    def _read(self, action: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # SqlStore's

    def publish_overview(self) -> Overview:
        with self._read("reading what there is to publish") as conn:
            return overview(conn)

    def newest_updated(self) -> datetime | None:
        with self._read("reading the newest post's date") as conn:
            return newest_updated(conn)

    def post_stamps(self, selection: Selection, limit: int) -> list[PostStamp]:
        with self._read("choosing the posts of an output") as conn:
            return post_stamps(conn, selection, limit)

    def undated_crowds(self, keep: int) -> list[PostStamp]:
        with self._read("finding undated backlogs") as conn:
            return undated_crowds(conn, keep)

    def topic_posts(self) -> Iterator[Post]:
        with self._read("reading posts with topics") as conn:
            # by post_topics rather than the topics column, which a row keeps after its content;
            # probed post by post down the (published, id) index
            tagged = (
                select(post_topics.c.post_id).where(post_topics.c.post_id == posts.c.id).exists()
            )
            query = _newest_first(select(*_LIGHT).where(_visible(conn), tagged))
            for rows in _stream(conn, query):
                yield from (_light_post(row) for row in rows)

    def archive_cuts(
        self, after: ArchiveKey | None, size: int
    ) -> tuple[list[ArchiveKey], list[ArchiveKey]]:
        with self._read("reading the archive order") as conn:
            return archive_cuts(conn, after, size)

    def archive_posts(self, after: ArchiveKey | None, until: ArchiveKey | None) -> Iterator[Post]:
        with self._read("reading an archive page's posts") as conn:
            query = select(*_FULL).where(_visible(conn), _after(after), _until(until))
            for rows in _stream(conn, query.order_by(posts.c.first_seen, posts.c.id)):
                yield from map(_full_post, rows)

    def sibling_candidates(
        self, link_keys: Sequence[str], links: Sequence[str], held: Collection[str] = ()
    ) -> list[Post]:
        with self._read("reading other language versions") as conn:
            return sibling_candidates(conn, link_keys, links, held)


# --------------------------------------------------------------------------------------------
# Queries

_STAMP = (posts.c.id, posts.c.source_id, posts.c.first_seen, posts.c.content_hash)
_LIGHT = (
    posts.c.id, posts.c.source_id, posts.c.guid, posts.c.title, posts.c.link,
    posts.c.published, posts.c.updated, posts.c.first_seen, posts.c.language,
    posts.c.excerpt, posts.c.tags, posts.c.topics,
)  # fmt: skip


_FULL = (
    posts.c.id, posts.c.source_id, posts.c.guid, posts.c.title, posts.c.link,
    posts.c.published, posts.c.updated, posts.c.first_seen, posts.c.language,
    posts.c.excerpt, posts.c.content_html, posts.c.title_derived, posts.c.authors,
    posts.c.tags, posts.c.topics, posts.c.image, posts.c.content_hash, posts.c.also_from,
    posts.c.translations,
)  # fmt: skip


def _full_post(row: Sequence[Any]) -> Post:
    """``posts.row_post`` for a row of ``_FULL``, unpacked by position: an archive stream reads
    every stored post, and a row's attributes are looked up by name one at a time."""
    (pid, source_id, guid, title, link, published, updated, first_seen, language, excerpt,
     content, derived, authors, tags, topics, image, content_hash, also_from, translations,
     ) = row  # fmt: skip
    return Post(
        pid, source_id, guid, title, link, published, updated, first_seen, language, excerpt,
        content, bool(derived), _posts.parse_authors(authors), _posts.parse_strings(tags),
        _posts.parse_strings(topics), image, content_hash, _posts.parse_strings(also_from),
        _posts.parse_links(translations),
    )  # fmt: skip


def _visible(conn: Connection) -> ColumnElement[bool]:
    """``posts.visible_posts``, or nothing to check when no post is hidden nor source held (the
    usual case): the check reads a row's source, which an index-only read does not have.

    The probe is plain SQL, the same on every backend: it runs before each of a publish's
    sixty edition queries, and compiling it cost more than running it."""
    if conn.exec_driver_sql(_ANY_HIDDEN).first() is None:
        return true()
    return _posts.visible_posts()


_ANY_HIDDEN = (
    "SELECT post_id FROM hidden_posts UNION ALL SELECT source_id FROM source_holds LIMIT 1"
)


def _newest_first(query: Select[Any]) -> Select[Any]:
    return query.order_by(posts.c.published.desc(), posts.c.id.desc())


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Row[Any]]]:
    """``BATCH`` rows at a time (a server-side cursor on PostgreSQL)."""
    result = conn.execution_options(yield_per=BATCH).execute(query)
    yield from result.partitions()


def _after(key: ArchiveKey | None) -> ColumnElement[bool]:
    if key is None:
        return true()
    # the plain comparison lets the first_seen index narrow the scan; the tuple decides ties
    return and_(
        posts.c.first_seen >= key[0],
        tuple_(posts.c.first_seen, posts.c.id)
        > tuple_(literal(key[0], posts.c.first_seen.type), literal(key[1])),
    )


def _until(key: ArchiveKey | None) -> ColumnElement[bool]:
    if key is None:
        return true()
    return and_(
        posts.c.first_seen <= key[0],
        tuple_(posts.c.first_seen, posts.c.id)
        <= tuple_(literal(key[0], posts.c.first_seen.type), literal(key[1])),
    )


def _selected(selection: Selection) -> ColumnElement[bool]:
    if selection.kind == "language":
        base = selection.key.split("-")[0].lower()
        pattern = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"
        language = func.lower(posts.c.language)
        return or_(language == base, language.like(pattern, escape="\\"))
    if selection.kind == "topic":
        return posts.c.id.in_(
            select(post_topics.c.post_id).where(post_topics.c.topic == selection.key)
        )
    if selection.kind == "source":
        return posts.c.source_id == selection.key
    return true()


def overview(conn: Connection) -> Overview:
    count = conn.execute(select(func.count()).select_from(posts)).scalar_one()
    hidden = select(func.count()).where(
        or_(
            posts.c.id.in_(select(hidden_posts.c.post_id)),
            posts.c.source_id.in_(select(source_holds.c.source_id)),
        )
    )
    count -= conn.execute(hidden).scalar_one()  # the whole count comes from an index
    # every post's (topic, language) from two indexes, hidden posts included: the pairs only
    # tell the topic evidence when it may stop (a pair too many reads further, not wrongly)
    pairs = conn.execute(
        select(post_topics.c.topic, posts.c.language)
        .join(posts, posts.c.id == post_topics.c.post_id)
        .distinct()
    ).all()
    visible = _visible(conn)
    topics = frozenset(
        topic
        for topic in {t for t, _ in pairs}
        if conn.execute(
            select(post_topics.c.post_id)
            .join(posts, posts.c.id == post_topics.c.post_id)
            .where(post_topics.c.topic == topic, visible)
            .limit(1)
        ).first()
    )
    languages = frozenset(
        str(lang)
        for (lang,) in conn.execute(select(posts.c.language).where(_visible(conn)).distinct())
    )
    return Overview(int(count), topics, frozenset((t, lang) for t, lang in pairs), languages)


def newest_updated(conn: Connection) -> datetime | None:
    return _stored(conn.execute(select(func.max(posts.c.updated)).where(_visible(conn))).scalar())


def _stored(value: object) -> datetime | None:
    """``max()`` over a typed column comes back as the backend stores it on SQLite (text)."""
    if value is None or isinstance(value, datetime):
        return value
    from aggregator.store.schema import from_stored

    return from_stored(value)


def archive_cuts(
    conn: Connection, after: ArchiveKey | None, size: int
) -> tuple[list[ArchiveKey], list[ArchiveKey]]:
    """Numbered in SQL over the (first_seen, published, id) index: only the page ends and the
    tail reach Python, not every post's key."""
    where = (_visible(conn), _after(after))
    total = conn.execute(select(func.count()).select_from(posts).where(*where)).scalar_one()
    full = total // size * size
    number = func.row_number().over(order_by=(posts.c.first_seen, posts.c.id)).label("n")
    numbered = select(posts.c.first_seen, posts.c.id, number).where(*where).subquery()
    query = (
        select(numbered.c.first_seen, numbered.c.id, numbered.c.n)
        .where(or_(numbered.c.n % size == 0, numbered.c.n > full))
        .order_by(numbered.c.n)
    )
    ends: list[ArchiveKey] = []
    tail: list[ArchiveKey] = []
    for first_seen, pid, n in conn.execute(query):
        (tail if n > full else ends).append((_stored(first_seen) or first_seen, pid))
    return ends, tail


def post_stamps(conn: Connection, selection: Selection, limit: int) -> list[PostStamp]:
    if limit <= 0:
        return []
    query = select(*_STAMP, posts.c.also_from).where(_visible(conn), _selected(selection))
    # every row at once, each unpacked by position: an output's stamps are read for each of
    # a publish's sixty editions (a row's fields looked up by name cost more than the query)
    return list(starmap(PostStamp, conn.execute(_newest_first(query).limit(limit)).all()))


def undated_crowds(conn: Connection, keep: int) -> list[PostStamp]:
    """The moments are found over the (first_seen, published) index alone, hidden posts
    included (a moment too many is read, then thinned by the caller's count)."""
    undated = posts.c.published == posts.c.first_seen
    crowded = [
        moment
        for (moment,) in conn.execute(
            select(posts.c.first_seen)
            .where(undated)
            .group_by(posts.c.first_seen)
            .having(func.count() > keep)
        )
    ]
    found: list[PostStamp] = []
    visible = _visible(conn)
    for start in range(0, len(crowded), _posts.CHUNK):
        chunk = crowded[start : start + _posts.CHUNK]
        query = select(*_STAMP, posts.c.also_from).where(
            visible, undated, posts.c.first_seen.in_(chunk)
        )
        found.extend(starmap(PostStamp, conn.execute(query).all()))
    found.sort(key=lambda s: (s.first_seen, s.id), reverse=True)  # newest first: equal dates
    return found


def _light_post(r: Row[Any]) -> Post:
    """A row of ``_LIGHT``: a post without its content."""
    return Post(
        id=r.id,
        source_id=r.source_id,
        guid=r.guid,
        title=r.title,
        link=r.link,
        published=r.published,
        updated=r.updated,
        first_seen=r.first_seen,
        language=r.language,
        excerpt=r.excerpt,
        content_html="",
        tags=tuple(json.loads(r.tags)),
        topics=tuple(json.loads(r.topics)),
    )


def sibling_candidates(
    conn: Connection, link_keys: Sequence[str], links: Sequence[str], held: Collection[str] = ()
) -> list[Post]:
    """Found by the ``link_key`` index, then by one pass over the posts that state translations
    (few: only multilingual members' feeds carry them).  The shown posts are found too (their
    own link keys): read again whole, they were half of a first publish's HTML pages' time."""
    ids: dict[str, None] = {}
    keys = list(dict.fromkeys(link_keys))
    for start in range(0, len(keys), _posts.CHUNK):
        chunk = keys[start : start + _posts.CHUNK]
        query = select(posts.c.id).where(_visible(conn), posts.c.link_key.in_(chunk))
        ids.update(dict.fromkeys(str(pid) for (pid,) in conn.execute(query)))
    wanted = set(links)
    query = select(posts.c.id, posts.c.translations).where(
        _visible(conn), posts.c.translations != "[]"
    )
    for rows in _stream(conn, query):
        for row in rows:
            if any(t.get("href") in wanted for t in json.loads(row.translations)):
                ids[row.id] = None
    return _posts.posts_by_ids(conn, [pid for pid in ids if pid not in held])

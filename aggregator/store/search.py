"""The search index in the store, on both backends, kept in step with the posts.

SQLite: an FTS5 table (``search_fts``: title, body) of the tokens ``aggregator.search``
makes (folded, stemmed in the post's language, prefixed with it), and ``search_docs``
mapping its integer rowids to post ids, with a fingerprint of each document's tokens.
The FTS5 table is contentless (revision 0011): it keeps the index, not a second copy of
every post's tokens, which had made up most of what a cycle wrote (about 3 KB a post) and a
fifth of the cycle's own CPU time.  The price: the index can only forget a document when it
is handed the tokens it was given.  They are recomputed from the stored post, and used only
when their fingerprint matches the stored one; otherwise (the stemmer changed between
versions, a row was rewritten before it was taken out) the document stays in the index,
unreachable, listed in ``search_orphans`` and left out of every query until ``aggregator
search --reindex`` rebuilds the index.  PostgreSQL: ``post_search``, one ``tsvector`` per
post built with the text search configuration of the post's language (``search_fr``…:
``unaccent`` then the Snowball stemmer, migration 0007), a GIN index over it.

Who calls what: ``posts.upsert_many`` indexes every post it writes, in the same
transaction; ``expiry`` removes what it deletes; hiding a post (``console.hide_post``) calls
``unindex`` and showing it again ``index`` (a hidden post leaves the results at once, and is
never indexed again while hidden); the posts of a source the console holds are left out at
query time (``_TAKEN_DOWN_DOCS``); ``rebuild`` (migration 0007, ``aggregator search
--reindex``) indexes every post from scratch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

from aggregator.models import Post
from aggregator.search import (
    SearchRequest,
    body_text,
    fts_match,
    index_text,
    language_key,
    post_text,
    post_tokens,
    tokens_digest,
    tsquery_text,
)
from aggregator.store.schema import StoredTime, stored_time

log = logging.getLogger(__name__)

CHUNK = 500
TITLE_WEIGHT = 4.0  # a word in the title counts as much as four in the body (bm25 weights)


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# --------------------------------------------------------------------------------------------
# Writing


Tokens = Mapping[str, tuple[str, str]]  # post id -> (title tokens, body tokens)


def index(conn: Connection, batch: Sequence[Post], tokens: Tokens | None = None) -> None:
    """(Re)index these posts, but those staff hid; the caller owns the transaction.

    ``tokens`` (``search.post_tokens``, computed by the cycle's workers) saves stemming here.
    """
    if not batch:
        return
    latest = list({p.id: p for p in batch}.values())
    hidden: set[str] = set()
    # staff hide few posts: one plain probe first, not a look-up of every id of every batch
    if conn.exec_driver_sql(_ANY_HIDDEN_POST).first() is not None:
        for chunk in _chunks([p.id for p in latest]):
            hidden.update(str(r[0]) for r in conn.execute(_HIDDEN_AMONG, {"ids": list(chunk)}))
    if hidden:
        unindex(conn, sorted(hidden))
        latest = [p for p in latest if p.id not in hidden]
        if not latest:
            return
    if conn.dialect.name == "postgresql":
        _index_pg(conn, latest)
    else:
        _index_sqlite(conn, latest, tokens or {})


def unindex(conn: Connection, ids: Sequence[str]) -> None:
    """Take these posts out of the index (hidden, deleted); unknown ids are ignored."""
    for chunk in _chunks(list(dict.fromkeys(ids))):
        if conn.dialect.name == "postgresql":
            conn.execute(_PG_DELETE, {"ids": list(chunk)})
            continue
        found = conn.execute(_SQLITE_DOCS, {"ids": list(chunk)}).all()
        if found:
            _forget_sqlite(conn, {str(r[1]): (int(r[0]), int(r[2])) for r in found})
            conn.execute(_SQLITE_DELETE_DOCS, {"docs": [r[0] for r in found]})


def rebuild(conn: Connection, batches: Iterable[Sequence[Post]]) -> int:
    """Index every stored post afresh (``batches``: ``posts.all_posts``); how many.

    Used by migration 0007 and ``aggregator search --reindex``.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("DELETE FROM post_search"))
    else:
        conn.execute(text("INSERT INTO search_fts (search_fts) VALUES ('delete-all')"))
        conn.execute(text("DELETE FROM search_docs"))
        conn.execute(text("DELETE FROM search_orphans"))
    count = 0
    for batch in batches:
        index(conn, batch)
        count += len(batch)
    return count


_ANY_HIDDEN_POST = "SELECT post_id FROM hidden_posts LIMIT 1"
_HIDDEN_AMONG = text("SELECT post_id FROM hidden_posts WHERE post_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
_SQLITE_DOCS = text(
    "SELECT doc, post_id, tokens_digest FROM search_docs WHERE post_id IN :ids"
).bindparams(bindparam("ids", expanding=True))
_SQLITE_DELETE_DOCS = text("DELETE FROM search_docs WHERE doc IN :docs").bindparams(
    bindparam("docs", expanding=True)
)
_PG_DELETE = text("DELETE FROM post_search WHERE post_id = ANY(:ids)")


def _index_sqlite(conn: Connection, batch: Sequence[Post], tokens: Tokens) -> None:
    """Index each post under the next row number; one already indexed with the same tokens is
    left as it is, one indexed with others is forgotten first.  Row numbers order the matches
    that relevance ranks (``RANKED_NEWEST``): a post indexed again counts as recent."""
    known: dict[str, tuple[int, int]] = {}  # post id -> (doc, digest of its indexed tokens)
    for chunk in _chunks([p.id for p in batch]):
        found = conn.exec_driver_sql(
            "SELECT post_id, doc, tokens_digest FROM search_docs "
            f"WHERE post_id IN ({','.join('?' * len(chunk))})",
            tuple(chunk),
        )
        known.update((r[0], (r[1], r[2])) for r in found)
    next_doc = int(
        conn.exec_driver_sql("SELECT coalesce(max(doc), 0) FROM search_docs").scalar_one()
    )
    fresh: list[tuple[int, str, int]] = []
    rows: list[tuple[int, str, str]] = []
    stale: dict[str, tuple[int, int]] = {}
    for post in batch:
        title, body = tokens.get(post.id) or post_tokens(post)
        digest = tokens_digest(title, body)
        previous = known.get(post.id)
        if previous is not None:
            if previous[1] == digest:
                continue  # indexed with these very tokens already
            stale[post.id] = previous
        next_doc += 1
        fresh.append((next_doc, post.id, digest))
        rows.append((next_doc, title, body))
    if stale:  # normally none: a rewritten post is taken out (``unindex``) before its row is
        _forget_sqlite(conn, stale)
        conn.exec_driver_sql(
            "DELETE FROM search_docs WHERE doc = ?", [(doc,) for doc, _ in stale.values()]
        )
    if fresh:
        conn.exec_driver_sql(
            "INSERT INTO search_docs (doc, post_id, tokens_digest) VALUES (?, ?, ?)", fresh
        )
        conn.exec_driver_sql("INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)", rows)


_STORED_TEXT = (
    "SELECT id, language, title, content_html, excerpt, tags, authors FROM posts WHERE id IN "
)


def _forget_sqlite(conn: Connection, docs: Mapping[str, tuple[int, int]]) -> None:
    """Take these documents (post id -> (doc, digest)) out of the contentless index.

    FTS5 forgets a document given exactly the tokens it indexed; they are recomputed from
    the stored post and used only when their digest is the stored one.  Any other document
    becomes an orphan (module docstring): out of every result, until a rebuild.
    """
    exact: list[tuple[int, str, str]] = []
    for chunk in _chunks(list(docs)):
        marks = ",".join("?" * len(chunk))
        for row in conn.exec_driver_sql(f"{_STORED_TEXT}({marks})", tuple(chunk)):
            post_id, language, title, content_html, excerpt, tags, authors = row
            body = body_text(content_html, excerpt, json.loads(tags), _names(authors))
            doc, digest = docs[post_id]
            title_tokens, body_tokens = index_text(language, title), index_text(language, body)
            if tokens_digest(title_tokens, body_tokens) == digest:
                exact.append((doc, title_tokens, body_tokens))
    if exact:
        conn.exec_driver_sql(
            "INSERT INTO search_fts (search_fts, rowid, title, body) VALUES ('delete', ?, ?, ?)",
            exact,
        )
    orphans = {doc for doc, _ in docs.values()} - {doc for doc, _, _ in exact}
    if orphans:
        log.warning(
            "search: %d documents could not be taken out of the index (their words have "
            "changed since they were indexed); they are left out of results until "
            "`aggregator search --reindex`",
            len(orphans),
        )
        conn.exec_driver_sql(
            "INSERT OR IGNORE INTO search_orphans (doc) VALUES (?)", [(d,) for d in orphans]
        )


def _names(authors: str) -> list[str]:
    return [str(a.get("name", "")) for a in json.loads(authors) if isinstance(a, dict)]


_PG_INSERT = (
    "INSERT INTO post_search (post_id, language, document) VALUES (%(id)s, %(lang)s, "
    "setweight(to_tsvector(CAST(%(config)s AS regconfig), %(title)s), 'A') || "
    "setweight(to_tsvector(CAST(%(config)s AS regconfig), %(body)s), 'B')) "
    "ON CONFLICT (post_id) DO UPDATE SET language = EXCLUDED.language, "
    "document = EXCLUDED.document"
)


_PG_CONFIGS = text(
    "SELECT cfgname FROM pg_ts_config "
    "WHERE cfgname LIKE 'search!_%' ESCAPE '!' AND pg_ts_config_is_visible(oid)"
)


def pg_configs(conn: Connection) -> dict[str, str]:
    """Language key -> the text search configuration migration 0007 made for it."""
    names = [str(r[0]) for r in conn.execute(_PG_CONFIGS)]
    return {name.removeprefix("search_"): name for name in names}


def _config(configs: dict[str, str], language: str) -> str:
    return configs.get(language, "search_simple")


def _index_pg(conn: Connection, batch: Sequence[Post]) -> None:
    configs = pg_configs(conn)
    rows = []
    for post in batch:
        key = language_key(post.language)
        body = post_text(post)[:60_000]
        config = _config(configs, key)
        rows.append(
            {"id": post.id, "lang": key, "config": config, "title": post.title, "body": body}
        )
    conn.exec_driver_sql(_PG_INSERT, rows)


# --------------------------------------------------------------------------------------------
# Reading

# The distinct languages of the posts, from the (language, published) index in one probe per
# language rather than a scan of every row.
_LANGUAGES = text(
    "WITH RECURSIVE found(language) AS ("
    " SELECT min(language) FROM posts"
    " UNION ALL"
    " SELECT (SELECT min(language) FROM posts WHERE language > found.language)"
    " FROM found WHERE found.language IS NOT NULL)"
    " SELECT language FROM found WHERE language IS NOT NULL"
)


def stored_languages(conn: Connection) -> tuple[str, ...]:
    """The language keys of the stored posts, sorted."""
    keys = {language_key(str(r[0])) for r in conn.execute(_LANGUAGES)}
    return tuple(sorted(keys))


def search(conn: Connection, request: SearchRequest) -> tuple[int, list[str], tuple[str, ...]]:
    """One page of post ids matching ``request`` in order, the total count, and the
    language keys searched (``SqlStore.search_posts`` reads the posts)."""
    languages = request.languages or stored_languages(conn)
    languages = tuple(dict.fromkeys(language_key(lang) for lang in languages))
    if conn.dialect.name == "postgresql":
        built = _pg_query(request, languages, pg_configs(conn))
    else:
        match = fts_match(request.query, languages)
        if match is not None and request.sort != "date":
            return (*_sqlite_relevance(conn, request, match), languages)
        built = None if match is None else _sqlite_query(match)
    if built is None:
        return 0, [], languages
    where, params, score = built
    filters, filter_params = _filters(request, stored_time(conn.dialect), _takedowns(conn))
    params.update(filter_params)
    source = f"{where}{filters}"
    total = int(conn.execute(text(f"SELECT count(*) {source}"), params).scalar_one())
    if total == 0 or request.offset >= total:
        return total, [], languages
    order = (
        "p.published DESC, p.id DESC" if request.sort == "date" else f"{score}, p.published DESC"
    )
    page = text(f"SELECT p.id {source} ORDER BY {order} LIMIT :limit OFFSET :offset")
    params.update(limit=max(1, request.limit), offset=max(0, request.offset))
    return total, [str(r[0]) for r in conn.execute(page, params)], languages


#: Relevance is ranked among the newest matches only, this many at least: a word in a third
#: of 100,000 posts would otherwise cost a bm25 score per post, 40 ms a query, where this
#: bound keeps every query under 20 ms (bench/search_posts.py).  A reader paging that deep
#: widens it.
RANKED_NEWEST = 4000


def _sqlite_relevance(
    conn: Connection, request: SearchRequest, match: str
) -> tuple[int, list[str]]:
    """The FTS5 table alone finds, counts and scores; posts are joined for filters only.

    What the console took down is left out by its documents (a few), never by listing every
    document that stays, which would cost a scan of the posts at every query.
    """
    filters, params = _filters(request, stored_time(conn.dialect))
    within = ""
    if filters:
        within = (
            " AND search_fts.rowid IN (SELECT d.doc FROM search_docs d "
            f"JOIN posts p ON p.id = d.post_id WHERE 1 = 1{filters})"
        )
    if _takedowns(conn):
        within += f" AND search_fts.rowid NOT IN ({_TAKEN_DOWN_DOCS})"
    if conn.exec_driver_sql("SELECT EXISTS (SELECT 1 FROM search_orphans)").scalar_one():
        within += " AND search_fts.rowid NOT IN (SELECT doc FROM search_orphans)"
    params["match"] = match
    where = f"FROM search_fts WHERE search_fts MATCH :match{within}"
    total = int(conn.execute(text(f"SELECT count(*) {where}"), params).scalar_one())
    if total == 0 or request.offset >= total:
        return total, []
    limit, offset = max(1, request.limit), max(0, request.offset)
    params.update(limit=limit, offset=offset, cap=max(RANKED_NEWEST, offset + limit))
    score = f"bm25(search_fts, {TITLE_WEIGHT}, 1.0)"
    page = text(
        f"SELECT h.doc, d.post_id FROM (SELECT search_fts.rowid AS doc, {score} AS score "
        f"{where} ORDER BY search_fts.rowid DESC LIMIT :cap) h "
        "JOIN search_docs d ON d.doc = h.doc "
        "ORDER BY h.score, h.doc DESC LIMIT :limit OFFSET :offset"
    )
    return total, [str(r[1]) for r in conn.execute(page, params)]


# The documents of hidden posts (none once hiding unindexes them; older stores may hold some)
# and of the posts of held sources.
_TAKEN_DOWN_DOCS = (
    "SELECT d.doc FROM search_docs d WHERE d.post_id IN (SELECT post_id FROM hidden_posts) "
    "UNION ALL SELECT d.doc FROM search_docs d JOIN posts p ON p.id = d.post_id "
    "WHERE p.source_id IN (SELECT source_id FROM source_holds)"
)


Built = tuple[str, dict[str, Any], str]


def _sqlite_query(match: str) -> Built:
    where = (
        "FROM search_fts JOIN search_docs d ON d.doc = search_fts.rowid "
        "JOIN posts p ON p.id = d.post_id WHERE search_fts MATCH :match"
    )
    return where, {"match": match}, f"bm25(search_fts, {TITLE_WEIGHT}, 1.0)"


def _pg_query(
    request: SearchRequest, languages: Sequence[str], configs: dict[str, str]
) -> Built | None:
    query = tsquery_text(request.query)
    if query is None or not languages:
        return None
    params: dict[str, Any] = {"tsq": query}
    either = []
    for n, lang in enumerate(languages):
        params[f"l{n}"] = lang
        params[f"c{n}"] = _config(configs, lang)
        either.append(
            f"(s.language = :l{n} AND s.document @@ to_tsquery(CAST(:c{n} AS regconfig), :tsq))"
        )
    where = f"FROM post_search s JOIN posts p ON p.id = s.post_id WHERE ({' OR '.join(either)})"
    score = "-ts_rank_cd(s.document, to_tsquery(CAST(:c0 AS regconfig), :tsq))"
    return where, params, score


def _takedowns(conn: Connection) -> bool:
    """Whether staff hid any post or held any source (``store.takedowns``): only then do the
    queries pay for leaving them out."""
    found = conn.execute(
        text("SELECT EXISTS (SELECT 1 FROM hidden_posts) OR EXISTS (SELECT 1 FROM source_holds)")
    ).scalar_one()
    return bool(found)


def _filters(
    request: SearchRequest, convert: StoredTime, takedowns: bool = False
) -> tuple[str, dict[str, Any]]:
    parts: list[str] = []
    params: dict[str, Any] = {}
    if takedowns:  # what the console took down is found by no reader
        parts.append("p.id NOT IN (SELECT post_id FROM hidden_posts)")
        parts.append("p.source_id NOT IN (SELECT source_id FROM source_holds)")
    if request.organisation:
        parts.append("p.source_id IN (SELECT id FROM sources WHERE organisation = :org)")
        params["org"] = request.organisation
    if request.topic:
        parts.append("p.id IN (SELECT post_id FROM post_topics WHERE topic = :topic)")
        params["topic"] = request.topic
    if request.since is not None:
        parts.append("p.published >= :since")
        params["since"] = convert(request.since)
    if request.until is not None:
        parts.append("p.published < :until")
        params["until"] = convert(request.until)
    return "".join(f" AND {p}" for p in parts), params

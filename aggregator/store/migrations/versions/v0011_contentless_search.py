"""SQLite's search index keeps no copy of the tokens it indexes.

The FTS5 table of revision 0007 stored every post's index tokens a second time (about 3 KB
a post: more than the rest of the post's row), which was most of what a cold cycle wrote and
a fifth of its own CPU time.  It becomes contentless: the index alone.  Forgetting a document
then takes the tokens it was given, which the store recomputes from the stored post and
checks against a fingerprint kept in ``search_docs`` (``store/search.py``); documents that
cannot be forgotten exactly are listed in ``search_orphans`` and left out of every query.

The existing index is copied, not rebuilt: the old table still holds every document's
tokens, so the upgrade stems nothing.  PostgreSQL's index (a ``tsvector`` column) is not
concerned.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TOKENIZER = "tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\""


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    from aggregator.search import tokens_digest

    raw: sqlite3.Connection = bind.connection.dbapi_connection  # type: ignore[assignment]
    raw.create_function("aggregator_tokens_digest", 2, tokens_digest, deterministic=True)
    op.execute("ALTER TABLE search_docs ADD COLUMN tokens_digest INTEGER NOT NULL DEFAULT 0")
    op.execute(
        "UPDATE search_docs SET tokens_digest = coalesce((SELECT "
        "aggregator_tokens_digest(f.title, f.body) FROM search_fts f "
        "WHERE f.rowid = search_docs.doc), 0)"
    )
    op.execute("CREATE TABLE search_orphans (doc INTEGER PRIMARY KEY)")
    op.execute(f"CREATE VIRTUAL TABLE search_index USING fts5(title, body, {_TOKENIZER}, content='')")
    op.execute(
        "INSERT INTO search_index (rowid, title, body) SELECT rowid, title, body "
        "FROM search_fts WHERE rowid IN (SELECT doc FROM search_docs)"
    )
    op.execute("DROP TABLE search_fts")
    op.execute("ALTER TABLE search_index RENAME TO search_fts")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    from aggregator.search import post_tokens
    from aggregator.store.posts import posts_by_ids

    op.execute("DROP TABLE search_fts")
    op.execute(f"CREATE VIRTUAL TABLE search_fts USING fts5(title, body, {_TOKENIZER})")
    docs = bind.exec_driver_sql("SELECT doc, post_id FROM search_docs ORDER BY doc").all()
    for start in range(0, len(docs), 500):
        chunk = {str(post_id): int(doc) for doc, post_id in docs[start : start + 500]}
        rows = [(chunk[p.id], *post_tokens(p)) for p in posts_by_ids(bind, list(chunk))]
        bind.exec_driver_sql("INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)", rows)
    op.execute("DROP TABLE search_orphans")
    with op.batch_alter_table("search_docs") as batch:
        batch.drop_column("tokens_digest")

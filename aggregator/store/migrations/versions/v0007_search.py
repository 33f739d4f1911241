"""The search index (FTS5 on SQLite, tsvector per language on PostgreSQL) and full text.

Existing posts are indexed here, so a store upgraded with posts in it can be searched at
once.  On PostgreSQL the ``unaccent`` extension is created when it is missing (it ships with
PostgreSQL's contrib, part of Debian's ``postgresql`` package); a server without it, or a
role that may not create it, gets configurations that stem without folding accents, and a
warning says so.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

log = logging.getLogger("aggregator.store")

# ISO 639-1 code -> PostgreSQL's Snowball configuration of that language.
PG_CONFIGS = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian",
    "sr": "serbian", "sv": "swedish", "ta": "tamil", "tr": "turkish", "simple": "simple",
}  # fmt: skip


def upgrade() -> None:
    from aggregator.store.posts import all_posts
    from aggregator.store.search import rebuild

    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _postgresql(bind)
        rebuild(bind, all_posts(bind))
    else:
        op.execute("CREATE TABLE search_docs (doc INTEGER PRIMARY KEY, post_id TEXT NOT NULL UNIQUE)")
        op.execute(
            "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, "
            "tokenize = \"unicode61 remove_diacritics 0 tokenchars '_'\")"
        )
        _fill_sqlite(bind)
    op.create_table(
        "post_fulltext",
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("fetched", UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("blocks", sa.Text(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_post_fulltext_post_id_posts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", name="pk_post_fulltext"),
    )
    op.create_index("ix_post_fulltext_source_id_fetched", "post_fulltext", ["source_id", "fetched"])



def _fill_sqlite(bind: sa.Connection) -> None:
    """Index the stored posts in this revision's tables (the store's own indexing code
    writes the tables of the newest revision, revision 0011's)."""
    from aggregator.search import post_tokens
    from aggregator.store.posts import all_posts

    hidden = {str(r[0]) for r in bind.exec_driver_sql("SELECT post_id FROM hidden_posts")}
    doc = 0
    for batch in all_posts(bind):
        rows = []
        for post in batch:
            if post.id in hidden:
                continue
            doc += 1
            rows.append((doc, post.id, *post_tokens(post)))
        bind.exec_driver_sql(
            "INSERT INTO search_docs (doc, post_id) VALUES (?, ?)", [r[:2] for r in rows]
        )
        bind.exec_driver_sql(
            "INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)",
            [(r[0], *r[2:]) for r in rows],
        )


def _unaccent_schema(bind: sa.Connection) -> str | None:
    """The schema holding the unaccent dictionary, creating the extension if need be."""
    find = sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'"
    )
    found = bind.execute(find).scalar()
    if found is not None:
        return str(found)
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS unaccent"))
    except sa.exc.DBAPIError as error:
        log.warning("search: accents are not folded on PostgreSQL (unaccent: %s)", error.orig)
        return None
    return str(bind.execute(find).scalar())


def _postgresql(bind: sa.Connection) -> None:
    unaccent = _unaccent_schema(bind)
    available = {r[0] for r in bind.execute(sa.text("SELECT cfgname FROM pg_ts_config"))}
    for code, config in PG_CONFIGS.items():
        if config not in available:
            continue
        op.execute(f"CREATE TEXT SEARCH CONFIGURATION search_{code} (COPY = pg_catalog.{config})")
        if unaccent is not None:
            stem = "simple" if config == "simple" else f"{config}_stem"
            op.execute(
                f"ALTER TEXT SEARCH CONFIGURATION search_{code} ALTER MAPPING FOR "
                f'hword, hword_part, word WITH "{unaccent}".unaccent, pg_catalog.{stem}'
            )
    op.execute(
        "CREATE TABLE post_search ("
        " post_id TEXT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,"
        " language TEXT NOT NULL,"
        " document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_post_search_document ON post_search USING gin (document)")


def downgrade() -> None:
    op.drop_table("post_fulltext")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TABLE post_search")
        for code in PG_CONFIGS:
            op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS search_{code}")
    else:
        op.execute("DROP TABLE search_fts")
        op.execute("DROP TABLE search_docs")

"""Indexes a streaming publish reads through, so that a publish with nothing new scans nothing.

At 700,000 stored posts an unchanged publish spent its time reading table rows (each holds a
post's content, so every row read is a page read): each member's edition sorted all of the
member's posts, the undated backlogs compared two dates of every post, the topics' languages
joined every tagged post to its row, and the posts stating translations were found by reading
every row.  Each of these becomes an index-only read:

* ``(source_id, published, id)`` replaces ``(source_id)``: a member's newest posts in order;
* ``(first_seen, published, id)`` replaces ``(first_seen)``: moments crowded with undated
  posts, and the archives' order numbered without the rows;
* ``(id, language)``: the language of a tagged post without its row;
* ``(id, translations)`` over the posts that state translations only (few: multilingual
  members' feeds).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TRANSLATED = sa.text("translations != '[]'")


def upgrade() -> None:
    op.drop_index("ix_posts_source_id", table_name="posts")
    op.create_index("ix_posts_source_id_published_id", "posts", ["source_id", "published", "id"])
    op.drop_index("ix_posts_first_seen", table_name="posts")
    op.create_index(
        "ix_posts_first_seen_published_id", "posts", ["first_seen", "published", "id"]
    )
    op.create_index("ix_posts_id_language", "posts", ["id", "language"])
    op.create_index(
        "ix_posts_translated",
        "posts",
        ["id", "translations"],
        sqlite_where=TRANSLATED,
        postgresql_where=TRANSLATED,
    )


def downgrade() -> None:
    op.drop_index("ix_posts_translated", table_name="posts")
    op.drop_index("ix_posts_id_language", table_name="posts")
    op.drop_index("ix_posts_first_seen_published_id", table_name="posts")
    op.create_index("ix_posts_first_seen", "posts", ["first_seen"])
    op.drop_index("ix_posts_source_id_published_id", table_name="posts")
    op.create_index("ix_posts_source_id", "posts", ["source_id"])

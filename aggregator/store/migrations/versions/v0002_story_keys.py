"""Cross-source duplicates: story keys on posts, and post aliases.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.dedupe import link_key, title_key
from aggregator.store.schema import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("link_key", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("title_key", sa.Text(), nullable=False, server_default=""))
    op.create_index("ix_posts_link_key", "posts", ["link_key"])
    op.create_index("ix_posts_title_key", "posts", ["title_key"])
    op.create_table(
        "post_aliases",
        sa.Column("alias_id", sa.Text(), nullable=False),
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.Text(), nullable=False, server_default=""),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_post_aliases_post_id_posts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("alias_id", name="pk_post_aliases"),
    )
    op.create_index("ix_post_aliases_post_id", "post_aliases", ["post_id"])
    op.create_index("ix_post_aliases_source_id", "post_aliases", ["source_id"])
    _backfill()


def _backfill() -> None:
    """Compute the keys of posts stored before this revision."""
    conn = op.get_bind()
    posts = sa.table("posts", sa.column("id"), sa.column("link"), sa.column("title"),
                     sa.column("link_key"), sa.column("title_key"))
    rows = conn.execute(sa.select(posts.c.id, posts.c.link, posts.c.title)).all()
    if rows:
        conn.execute(
            posts.update().where(posts.c.id == sa.bindparam("_id")).values(
                link_key=sa.bindparam("_lk"), title_key=sa.bindparam("_tk")
            ),
            [{"_id": r.id, "_lk": link_key(r.link), "_tk": title_key(r.title)} for r in rows],
        )


def downgrade() -> None:
    op.drop_table("post_aliases")
    op.drop_index("ix_posts_title_key", "posts")
    op.drop_index("ix_posts_link_key", "posts")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("title_key")
        batch.drop_column("link_key")

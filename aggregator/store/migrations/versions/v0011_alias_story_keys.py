"""Story keys on post aliases: a story is found through every post it holds.

A post merged into another member's story used to keep only its id and source: a later post
matching *it* (and not the primary) was not found, so whether two posts ended in one story
depended on which was stored first, and a crash between two members' commits changed the
result (issue 17).  Aliases now keep their link key, title key, language and publication time,
indexed like the posts'.  Aliases stored before this revision have no content to compute them
from: they keep empty keys and are found through their primary only, as before.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0011"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("post_aliases") as batch:
        batch.add_column(sa.Column("link_key", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("title_key", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("language", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("published", UTCDateTime(), nullable=True))
    op.create_index("ix_post_aliases_link_key", "post_aliases", ["link_key"])
    op.create_index("ix_post_aliases_title_key", "post_aliases", ["title_key"])


def downgrade() -> None:
    op.drop_index("ix_post_aliases_title_key", "post_aliases")
    op.drop_index("ix_post_aliases_link_key", "post_aliases")
    with op.batch_alter_table("post_aliases") as batch:
        for column in ("published", "language", "title_key", "link_key"):
            batch.drop_column(column)

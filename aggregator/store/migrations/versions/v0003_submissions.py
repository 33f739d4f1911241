"""Member submissions (the moderation queue) and the owner notices already sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("feed_url", sa.Text(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("preview", sa.Text(), nullable=False, server_default="{}"),
        sa.Column("state", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("decided", UTCDateTime(), nullable=True),
        sa.Column("source_id", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_submissions"),
    )
    op.create_index("ix_submissions_state_id", "submissions", ["state", "id"])
    op.create_index("ix_submissions_feed_url", "submissions", ["feed_url"])
    op.create_table(
        "source_notices",
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("condition", sa.Text(), nullable=False),
        sa.Column("notified", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("source_id", name="pk_source_notices"),
    )


def downgrade() -> None:
    op.drop_table("source_notices")
    op.drop_index("ix_submissions_feed_url", "submissions")
    op.drop_index("ix_submissions_state_id", "submissions")
    op.drop_table("submissions")

"""At most one pending submission per feed: a unique index over pending rows only.

Concurrent confirmations of the same feed (two members, or one member's two tabs) each passed
the "already waiting?" check before either wrote, and queued a copy each.  The partial index
makes the database refuse the second copy, whoever writes it.  Copies queued before this
revision are decided here: the oldest stays pending, the others become rejected as duplicates
of it, so that the index can be built and moderators see one entry per feed.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ux_submissions_pending_feed"
_PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    submissions = sa.table(
        "submissions",
        sa.column("id", sa.Integer),
        sa.column("feed_url", sa.Text),
        sa.column("state", sa.Text),
        sa.column("reason", sa.Text),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(submissions.c.id, submissions.c.feed_url)
        .where(submissions.c.state == "pending")
        .order_by(submissions.c.id)
    ).all()
    first: dict[str, int] = {}
    for ident, feed_url in rows:
        kept = first.setdefault(feed_url, ident)
        if kept != ident:
            conn.execute(
                sa.update(submissions)
                .where(submissions.c.id == ident)
                .values(state="rejected", reason=f"duplicate of submission {kept}")
            )
    op.create_index(
        INDEX,
        "submissions",
        ["feed_url"],
        unique=True,
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="submissions")

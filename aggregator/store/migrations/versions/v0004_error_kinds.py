"""Source errors as a kind and parameters beside the English sentence.

Rows written before this revision keep their sentence and get a NULL kind: readers see the
stored sentence until the source fails again.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("last_error_kind", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_error_params", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("last_error_params")
        batch.drop_column("last_error_kind")

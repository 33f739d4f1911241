"""The staff console: accounts, audit log, hidden posts, held sources, edition curation, and
the language of the form a member used (their outcome mail is written in it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.Text(), nullable=False, unique=True),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False, server_default="en"),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", UTCDateTime()),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("last_login", UTCDateTime()),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_target", "audit_log", ["target"])
    op.create_table(
        "hidden_posts",
        sa.Column("post_id", sa.Text(), primary_key=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, server_default=""),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "source_holds",
        sa.Column("source_id", sa.Text(), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "edition_curation",
        sa.Column("issue", sa.Text(), primary_key=True),
        sa.Column("edition", sa.Text(), nullable=False),
        sa.Column("excluded", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("featured", sa.Text()),
        sa.Column("ordering", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("subject", sa.Text()),
        sa.Column("send_at", UTCDateTime()),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False, server_default=""),
    )
    with op.batch_alter_table("submissions") as batch:
        batch.add_column(sa.Column("form_language", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("submissions") as batch:
        batch.drop_column("form_language")
    op.drop_table("edition_curation")
    op.drop_table("source_holds")
    op.drop_table("hidden_posts")
    op.drop_index("ix_audit_log_target", "audit_log")
    op.drop_index("ix_audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_table("accounts")

"""Initial schema: sources, posts, post topics, editions, recipients, locks.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aggregator.store.schema import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sources",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False, server_default=""),
        sa.Column("config_url", sa.Text(), nullable=False),
        sa.Column("homepage", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=False, server_default="en"),
        sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("kind", sa.Text(), nullable=False, server_default="feed"),
        sa.Column("scrape", sa.Text(), nullable=True),
        sa.Column("day_first", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("configured", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.Text(), nullable=True),
        sa.Column("last_fetch", UTCDateTime(), nullable=True),
        sa.Column("last_success", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", UTCDateTime(), nullable=True),
        sa.Column("failing_since", UTCDateTime(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_fetch", UTCDateTime(), nullable=True),
        sa.Column("gone", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("entries_seen", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("link", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sources"),
    )
    op.create_table(
        "posts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Text(), nullable=False),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("published", UTCDateTime(), nullable=False),
        sa.Column("updated", UTCDateTime(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("excerpt", sa.Text(), nullable=False),
        sa.Column("content_html", sa.Text(), nullable=False),
        sa.Column("title_derived", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("authors", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("tags", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("topics", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("image", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.Text(), nullable=False, server_default=""),
        sa.Column("also_from", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("translations", sa.Text(), nullable=False, server_default="[]"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_posts_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_posts"),
    )
    op.create_index("ix_posts_published_id", "posts", ["published", "id"])
    op.create_index("ix_posts_first_seen", "posts", ["first_seen"])
    op.create_index("ix_posts_source_id", "posts", ["source_id"])
    op.create_index("ix_posts_language_published", "posts", ["language", "published"])
    op.create_table(
        "post_topics",
        sa.Column("post_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"], ["posts.id"], name="fk_post_topics_post_id_posts", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("post_id", "topic", name="pk_post_topics"),
    )
    op.create_index("ix_post_topics_topic_post_id", "post_topics", ["topic", "post_id"])
    op.create_table(
        "editions",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=True),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("created", UTCDateTime(), nullable=False),
        sa.Column("post_ids", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("html_path", sa.Text(), nullable=True),
        sa.Column("text_path", sa.Text(), nullable=True),
        sa.Column("eml_path", sa.Text(), nullable=True),
        sa.Column("sent", sa.Boolean(), nullable=False, server_default="0"),
        sa.Column("notes", sa.Text(), nullable=False, server_default="[]"),
        sa.PrimaryKeyConstraint("id", name="pk_editions"),
    )
    op.create_index("ix_editions_name_created", "editions", ["name", "created"])
    op.create_index("ix_editions_created", "editions", ["created"])
    op.create_table(
        "recipients",
        sa.Column("edition_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("state", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["edition_id"],
            ["editions.id"],
            name="fk_recipients_edition_id_editions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("edition_id", "address", name="pk_recipients"),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.Text(), nullable=True),
        sa.Column("acquired", UTCDateTime(), nullable=False),
        sa.Column("expires", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_locks"),
    )


def downgrade() -> None:
    op.drop_table("locks")
    op.drop_table("recipients")
    op.drop_table("editions")
    op.drop_table("post_topics")
    op.drop_table("posts")
    op.drop_table("sources")

"""The tables, as SQLAlchemy Core metadata, and the one column type they need.

This module describes the schema the code expects *now*; the Alembic revisions in
``migrations/versions`` are what builds it in a database, and a test compares the two so they
cannot drift apart.

Datetimes go through :class:`UTCDateTime`: PostgreSQL keeps them in ``timestamptz``; SQLite has
no time zone type, so they are stored as fixed-width ISO 8601 text in UTC
(``2026-11-20T12:00:00.000000+00:00``).  Fixed width and one offset mean text order is time
order, so ``ORDER BY`` and ``<``/``>`` comparisons work on the text unchanged.

Strings are ``TEXT`` without lengths: SQLite ignores declared lengths, so a limit only PostgreSQL
enforced would make an odd feed fail on one backend and pass on the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine

# Constraint names are fixed by convention so that later migrations can refer to them on both
# backends (SQLite batch mode needs names to drop or alter a constraint).
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ISO_WIDTH = len("2026-11-20T12:00:00.000000+00:00")


def to_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is a bug upstream, so refuse it."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} reached the store; use aware UTC")
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (``timestamptz`` or sortable ISO text)."""

    impl = String(ISO_WIDTH)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(DateTime(timezone=True))
        return dialect.type_descriptor(String(ISO_WIDTH))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return to_utc(value)
        return iso_text(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else from_stored(value)


def iso_text(value: datetime) -> str:
    """How SQLite stores a datetime: fixed-width ISO text in UTC.

    Shared by ``UTCDateTime`` and the store's bulk writes that bypass SQLAlchemy's per-value
    type processing, so both write the very same text.
    """
    if value.tzinfo is UTC:  # the usual case: already UTC, nothing to convert
        return value.isoformat(timespec="microseconds")
    return to_utc(value).isoformat(timespec="microseconds")


StoredTime = Callable[[datetime], Any]


def stored_time(dialect: Dialect) -> StoredTime:
    """What ``UTCDateTime`` binds for a datetime on ``dialect``, for writes that bypass it.

    Each call has its own memo: a batch of posts repeats a few instants (all of a source's
    posts share ``first_seen``; ``updated`` is mostly ``published``) and formatting one costs
    microseconds.  Equal instants give equal UTC values whatever their zone, so the memo
    cannot return another instant's text; a naive datetime is never equal to an aware one,
    so it still reaches ``to_utc`` and is refused.
    """
    convert = to_utc if dialect.name == "postgresql" else iso_text
    memo: dict[datetime, Any] = {}

    def once(value: datetime) -> Any:
        stored = memo.get(value)
        if stored is None:
            stored = memo[value] = convert(value)
        return stored

    return once


def from_stored(value: Any) -> datetime:
    """A stored datetime (``timestamptz`` or ISO text) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return to_utc(value)
    return to_utc(datetime.fromisoformat(str(value)))


metadata = MetaData(naming_convention=NAMING)

sources = Table(
    "sources",
    metadata,
    Column("id", Text, primary_key=True),
    # what the operator configured
    Column("name", Text, nullable=False),
    Column("organisation", Text, nullable=False, server_default=""),
    Column("config_url", Text, nullable=False),
    Column("homepage", Text),
    Column("language", Text, nullable=False, server_default="en"),
    Column("tags", Text, nullable=False, server_default="[]"),  # JSON list
    Column("enabled", Boolean, nullable=False, server_default="1"),
    Column("kind", Text, nullable=False, server_default="feed"),
    Column("scrape", Text),  # JSON object of ScrapeRules, or NULL
    Column("day_first", Boolean, nullable=False, server_default="0"),
    Column("contact", Text),
    Column("configured", Boolean, nullable=False, server_default="1"),  # in feeds.yaml now
    # what the store remembers between cycles (models.SourceState)
    Column("url", Text, nullable=False),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", Text),
    Column("last_fetch", UTCDateTime),
    Column("last_success", UTCDateTime),
    Column("last_error", Text),  # one English line, for logs and the command line
    Column("last_error_kind", Text),  # models.ErrorKind; NULL in rows older than kinds
    Column("last_error_params", Text),  # JSON object of the kind's parameters, or NULL
    Column("last_error_at", UTCDateTime),
    Column("failing_since", UTCDateTime),
    Column("consecutive_failures", Integer, nullable=False, server_default="0"),
    Column("next_fetch", UTCDateTime),
    Column("gone", Boolean, nullable=False, server_default="0"),
    Column("entries_seen", Integer, nullable=False, server_default="0"),
    Column("title", Text),
    Column("link", Text),
)

posts = Table(
    "posts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source_id", Text, ForeignKey("sources.id"), nullable=False),
    Column("guid", Text),
    Column("title", Text, nullable=False),
    Column("link", Text, nullable=False),
    Column("published", UTCDateTime, nullable=False),
    Column("updated", UTCDateTime, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("language", Text, nullable=False),
    Column("excerpt", Text, nullable=False),
    Column("content_html", Text, nullable=False),
    Column("title_derived", Boolean, nullable=False, server_default="0"),
    Column("authors", Text, nullable=False, server_default="[]"),  # JSON list of objects
    Column("tags", Text, nullable=False, server_default="[]"),  # JSON list of strings
    Column("topics", Text, nullable=False, server_default="[]"),  # JSON list of strings
    Column("image", Text),
    Column("content_hash", Text, nullable=False, server_default=""),
    Column("also_from", Text, nullable=False, server_default="[]"),  # JSON list of source ids
    Column("translations", Text, nullable=False, server_default="[]"),  # JSON list of links
    # dedupe.link_key / dedupe.title_key: how the same story from another member is found
    Column("link_key", Text, nullable=False, server_default=""),
    Column("title_key", Text, nullable=False, server_default=""),
    Index(None, "published", "id"),
    Index(None, "first_seen"),
    Index(None, "source_id"),
    Index(None, "language", "published"),
    Index(None, "link_key"),
    Index(None, "title_key"),
)

# A post of one source found to be the same story as a stored post of another source: it is
# not stored again; this row remembers it (so the next fetch knows it) and the primary post
# lists the source in ``also_from``.
post_aliases = Table(
    "post_aliases",
    metadata,
    Column("alias_id", Text, primary_key=True),
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("source_id", Text, nullable=False),
    Column("content_hash", Text, nullable=False, server_default=""),
    Column("first_seen", UTCDateTime, nullable=False),
    # the alias's own story keys (0011): a later post matching it joins its story
    Column("link_key", Text, nullable=False, server_default=""),
    Column("title_key", Text, nullable=False, server_default=""),
    Column("language", Text, nullable=False, server_default=""),
    Column("published", UTCDateTime),
    Index(None, "post_id"),
    Index(None, "source_id"),
    Index(None, "link_key"),
    Index(None, "title_key"),
)

# One row per (post, topic): lets ``recent_posts(topic=…)`` use an index instead of scanning
# the JSON text of every post.  ``posts.topics`` stays the source of truth for the order.
post_topics = Table(
    "post_topics",
    metadata,
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), nullable=False),
    Column("topic", Text, nullable=False),
    PrimaryKeyConstraint("post_id", "topic"),
    Index(None, "topic", "post_id"),
)

editions = Table(
    "editions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("window_start", UTCDateTime),
    Column("window_end", UTCDateTime, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("post_ids", Text, nullable=False, server_default="[]"),  # JSON list, in edition order
    Column("subject", Text, nullable=False),
    Column("html_path", Text),
    Column("text_path", Text),
    Column("eml_path", Text),
    Column("sent", Boolean, nullable=False, server_default="0"),
    Column("notes", Text, nullable=False, server_default="[]"),  # JSON list of strings
    Index(None, "name", "created"),
    Index(None, "created"),
)

recipients = Table(
    "recipients",
    metadata,
    Column("edition_id", Text, ForeignKey("editions.id", ondelete="CASCADE"), nullable=False),
    Column("address", Text, nullable=False),
    Column("position", Integer, nullable=False, server_default="0"),  # the mailing-list order
    Column("state", Text, nullable=False, server_default="pending"),
    Column("message_id", Text),
    Column("error", Text),
    Column("updated", UTCDateTime),
    PrimaryKeyConstraint("edition_id", "address"),
)

locks = Table(
    "locks",
    metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("pid", Integer),
    Column("host", Text),
    Column("acquired", UTCDateTime, nullable=False),
    Column("expires", UTCDateTime, nullable=False),
)

# Feeds members submitted on the web form, waiting for (or past) an operator's decision.
submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),  # what the member typed
    Column("feed_url", Text, nullable=False),  # the feed discovery found
    Column("organisation", Text, nullable=False),
    Column("contact", Text, nullable=False),
    Column("language", Text, nullable=False),
    Column("preview", Text, nullable=False, server_default="{}"),  # JSON, as the member saw it
    Column("state", Text, nullable=False, server_default="pending"),
    Column("reason", Text),
    Column("created", UTCDateTime, nullable=False),
    Column("decided", UTCDateTime),
    Column("source_id", Text),  # the feeds.yaml id once approved
    Column("form_language", Text),  # the language of the form the member used: their outcome mail's
    Index(None, "state", "id"),
    Index(None, "feed_url"),
    # one pending submission per feed, whoever confirms it at the same moment (0008)
    Index(
        "ux_submissions_pending_feed",
        "feed_url",
        unique=True,
        sqlite_where=text("state = 'pending'"),
        postgresql_where=text("state = 'pending'"),
    ),
)

# Per source, the last condition (failing, gone, moved, quiet, ok) its contact was told about.
source_notices = Table(
    "source_notices",
    metadata,
    Column("source_id", Text, primary_key=True),
    Column("condition", Text, nullable=False),
    Column("notified", UTCDateTime, nullable=False),
)

# People on the digest's list (issue 14).  ``address_key`` is the address case-folded: the one
# spelling every lookup uses.  ``nonce`` goes into every token mailed to the person; a new one
# (after ``forget`` and a new signup) voids every link mailed before.
subscribers = Table(
    "subscribers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", Text, nullable=False),
    Column("address_key", Text, nullable=False, unique=True),
    Column("language", Text, nullable=False),
    Column("editions", Text, nullable=False, server_default="[]"),  # JSON list of edition names
    Column("status", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("created", UTCDateTime, nullable=False),
    Column("changed", UTCDateTime, nullable=False),
    Column("confirmed", UTCDateTime),
    Column("confirm_sent", UTCDateTime),
    # consent: how (web, import, staff), the version of the form's text, when, a staff note
    Column("consent_method", Text, nullable=False),
    Column("consent_version", Text, nullable=False),
    Column("consent_at", UTCDateTime, nullable=False),
    Column("consent_note", Text),
    Index(None, "status"),
)

# What happened to each subscriber, oldest first: signup, confirmation, changes, bounces,
# complaints, each with the edition that caused it when there is one.
subscriber_events = Table(
    "subscriber_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "subscriber_id",
        Integer,
        ForeignKey("subscribers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("kind", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("edition_id", Text),
    Column("detail", Text),
    Index(None, "subscriber_id", "at"),
)

# Addresses that must never be re-added by an import or a staff command: a SHA-256 of the
# case-folded address, so a forgotten person leaves no readable trace.
suppressions = Table(
    "suppressions",
    metadata,
    Column("address_hash", Text, primary_key=True),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)
# --- the staff console (issue 15) -----------------------------------------------------------

# Staff accounts: argon2 hashes only; ``failures``/``locked_until`` are the per-account lockout.
accounts = Table(
    "accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("email", Text, nullable=False, unique=True),  # stored lower case
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("language", Text, nullable=False, server_default="en"),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("locked_until", UTCDateTime),
    Column("created", UTCDateTime, nullable=False),
    Column("last_login", UTCDateTime),
)

# What staff did, by whom and why: takedowns, source changes, moderation, sends, accounts.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Index(None, "at"),
    Index(None, "target"),
)

# Posts taken down: kept in ``posts``, left out of every output while listed here.
hidden_posts = Table(
    "hidden_posts",
    metadata,
    Column("post_id", Text, primary_key=True),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("at", UTCDateTime, nullable=False),
)

# Sources disabled or removed from the console: not fetched, their posts left out of outputs.
source_holds = Table(
    "source_holds",
    metadata,
    Column("source_id", Text, primary_key=True),
    Column("state", Text, nullable=False),  # disabled or removed
    Column("actor", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
)

# Staff's choices for one issue of an edition: keyed by the edition's name and the start of the
# issue's window, which stays put until the issue is sent (its end moves until it is recorded).
edition_curation = Table(
    "edition_curation",
    metadata,
    Column("issue", Text, primary_key=True),  # newsletter.curation.issue_key
    Column("edition", Text, nullable=False),
    Column("excluded", Text, nullable=False, server_default="[]"),  # JSON list of post ids
    Column("featured", Text),
    Column("ordering", Text, nullable=False, server_default="[]"),  # JSON list of post ids
    Column("note", Text, nullable=False, server_default=""),
    Column("subject", Text),
    Column("send_at", UTCDateTime),
    Column("updated", UTCDateTime, nullable=False),
    Column("actor", Text, nullable=False, server_default=""),
)

# Full text (ingest/fulltext): per post, the last time its article page was read, what came
# of it, and the digests of the page's blocks (compared with the source's other pages to find
# their shared boilerplate).  A post without a row is waiting; a changed post loses its row.
post_fulltext = Table(
    "post_fulltext",
    metadata,
    Column("post_id", Text, ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("source_id", Text, nullable=False),
    Column("fetched", UTCDateTime, nullable=False),
    Column("outcome", Text, nullable=False),  # expanded, kept, failed
    Column("blocks", Text, nullable=False, server_default=""),  # space-separated digests
    Index(None, "source_id", "fetched"),
)

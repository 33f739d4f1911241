"""``SqlStore``: the Store Protocol over SQLAlchemy Core, for SQLite and PostgreSQL alike.

Each public method is one transaction on its own pooled connection, so the object can be shared
between threads (scheduler jobs, the web server).  Writes go through ``_write`` (on SQLite:
``BEGIN IMMEDIATE``), reads through ``_read``.  Every database failure leaves as a
``StorageError`` naming the operation: callers never see SQLAlchemy types.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from aggregator.dedupe import StoryKey
from aggregator.models import (
    EditionRecord,
    Post,
    RecipientState,
    RecipientStatus,
    Source,
    SourceState,
    SourceUpdate,
)
from aggregator.search import SearchRequest, SearchResults
from aggregator.store import editions as _editions
from aggregator.store import expiry as _expiry
from aggregator.store import fulltext as _fulltext
from aggregator.store import locks as _locks
from aggregator.store import posts as _posts
from aggregator.store import search as _search
from aggregator.store import sources as _sources
from aggregator.store import stories as _stories
from aggregator.store import submissions as _submissions
from aggregator.store import subscribers as _subscribers
from aggregator.store.console import ConsoleMethods
from aggregator.store.engine import (
    WRITE_OPTION,
    current_revision,
    schema_drift,
    translate_errors,
)


class SqlStore(ConsoleMethods):
    """The one Store implementation.  Build it with ``aggregator.store.open_store(url)``.

    The staff console's methods come from ``ConsoleMethods`` (``store.console``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._host = _locks.this_host()

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``: for reports, never for branching outside the store."""
        return self._engine.dialect.name

    # --- plumbing ----------------------------------------------------------------------------
    @contextmanager
    def _write(self, action: str) -> Iterator[Connection]:
        with (
            translate_errors(action),
            self._engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
            conn.begin(),
        ):
            yield conn

    @contextmanager
    def _read(self, action: str) -> Iterator[Connection]:
        with translate_errors(action), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _driver_cursor(self, action: str) -> Iterator[Any]:
        """A driver cursor on a pooled connection, for one read statement.

        No transaction is begun (one statement is consistent on its own; PostgreSQL's
        implicit one ends when the pool takes the connection back), and the driver's errors
        become ``StorageError`` like SQLAlchemy's.
        """
        with translate_errors(action, self._engine.dialect.loaded_dbapi.Error):
            connection = self._engine.raw_connection()
            try:
                cursor = connection.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
            finally:
                connection.close()

    def schema_revision(self) -> str | None:
        """The Alembic revision stamped in the database (``SCHEMA_VERSION`` once opened)."""
        return current_revision(self._engine)

    def schema_drift(self) -> list[str]:
        """How the live tables differ from the code's schema: empty when healthy."""
        return schema_drift(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- sources -----------------------------------------------------------------------------
    def sync_sources(self, sources: Sequence[Source]) -> None:
        with self._write("syncing sources with the configuration") as conn:
            _sources.sync_sources(conn, sources)

    def get_sources(self) -> dict[str, Source]:
        with self._read("reading sources") as conn:
            return _sources.get_sources(conn)

    def get_states(self) -> dict[str, SourceState]:
        with self._read("reading source states") as conn:
            return _sources.get_states(conn)

    def due_sources(
        self, ids: Sequence[str], *, due_at: datetime | None = None
    ) -> list[tuple[Source, SourceState]]:
        with self._read("reading the sources to fetch") as conn:
            return _sources.due_of(conn, ids, due_at)

    def due_counts(
        self, *, due_at: datetime | None = None, only: Sequence[str] | None = None
    ) -> tuple[int, int]:
        with self._read("counting the sources to fetch") as conn:
            return _sources.due_counts(conn, due_at, only)

    def set_state(self, state: SourceState) -> None:
        with self._write(f"saving the state of source {state.source_id}") as conn:
            _sources.write_state(conn, state)

    # --- posts -------------------------------------------------------------------------------
    def known_posts(self, source_id: str, ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
        with self._read("reading known posts") as conn:
            return _posts.known_posts(conn, source_id, ids)

    def known_and_aliases(
        self, source_id: str, ids: Sequence[str]
    ) -> tuple[dict[str, tuple[str, datetime]], dict[str, str]]:
        """``known_posts`` and ``alias_targets`` in one read (the cycle needs both)."""
        with self._read("reading known posts") as conn:
            return _posts.known_and_aliases(conn, source_id, ids)

    def apply_update(
        self, update: SourceUpdate, story_keys: _posts.StoryKeys | None = None
    ) -> tuple[int, int]:
        """``story_keys`` (post id -> link key, title key): keys already computed, if any."""
        with self._write(f"saving the update of source {update.source_id}") as conn:
            _sources.write_state(conn, update.state)
            counts = _posts.upsert_posts(conn, update.posts, story_keys)
            _stories.merge_aliases(conn, update.merges, story_keys)
            _stories.join_stories(conn, update.joins)
            return counts

    def apply_updates(
        self,
        updates: Sequence[SourceUpdate],
        story_keys: _posts.StoryKeys | None = None,
        search_tokens: _search.Tokens | None = None,
    ) -> list[tuple[int, int]]:
        """``apply_update`` for several sources in one transaction (all or none of them).

        The cycle batches updates: one commit and one statement per kind of write for many
        sources instead of several each.  Every source's update is whole in the transaction,
        so a crash still leaves each source either updated or not.
        """
        with self._write(f"saving the updates of {len(updates)} sources") as conn:
            _sources.write_states(conn, [update.state for update in updates])
            if not any(update.posts or update.merges or update.joins for update in updates):
                return [(0, 0)] * len(updates)
            batches = [u.posts for u in updates]
            counts = _posts.upsert_many(conn, batches, story_keys, search_tokens)
            for update in updates:  # merges first: a join carries the aliases it finds along
                _stories.merge_aliases(conn, update.merges, story_keys)
            for update in updates:
                _stories.join_stories(conn, update.joins)
            return counts

    def alias_targets(self, source_id: str, ids: Sequence[str]) -> dict[str, str]:
        with self._read("reading post aliases") as conn:
            return _posts.alias_targets(conn, source_id, ids)

    def story_candidates(
        self, link_keys: Sequence[str], title_keys: Sequence[str], exclude_source: str
    ) -> list[StoryKey]:
        """One driver statement outside SQLAlchemy's Connection when it can (the cycle asks
        once per source, and the Connection's own work was most of the cost)."""
        action = "looking up the same story from other sources"
        lookup = _stories.story_lookup(self._engine.dialect, link_keys, title_keys, exclude_source)
        if lookup is None:
            with self._read(action) as conn:
                return _stories.story_candidates(conn, link_keys, title_keys, exclude_source)
        with self._driver_cursor(action) as cursor:
            cursor.execute(*lookup)
            return _stories.story_keys(cursor.fetchall())

    def recent_posts(
        self,
        limit: int,
        *,
        language: str | None = None,
        source_id: str | None = None,
        topic: str | None = None,
        offset: int = 0,
    ) -> list[Post]:
        with self._read("reading recent posts") as conn:
            return _posts.recent_posts(
                conn, limit, language=language, source_id=source_id, topic=topic, offset=offset
            )

    def posts_first_seen(
        self, after: datetime | None, until: datetime, *, language: str | None = None
    ) -> list[Post]:
        with self._read("reading posts by first seen") as conn:
            return _posts.posts_first_seen(conn, after, until, language=language)

    def posts_by_ids(self, ids: Sequence[str]) -> list[Post]:
        with self._read("reading posts by id") as conn:
            return _posts.posts_by_ids(conn, ids)

    def count_posts(self) -> int:
        with self._read("counting posts") as conn:
            return _posts.count_posts(conn)

    def expire_posts(
        self, before: datetime, keep_ids: Collection[str], *, keep_newest: int = 0
    ) -> int:
        with self._write("deleting expired posts") as conn:
            return _expiry.expire_posts(conn, before, keep_ids, keep_newest=keep_newest)

    # --- search (store/search.py) -----------------------------------------------------------
    def search_posts(self, request: SearchRequest) -> SearchResults:
        with self._read("searching posts") as conn:
            total, ids, languages = _search.search(conn, request)
            found = {p.id: p for p in _posts.posts_by_ids(conn, ids)} if ids else {}
        return SearchResults(total, tuple(found[i] for i in ids if i in found), languages)

    def index_posts(self, ids: Sequence[str]) -> int:
        with self._write("indexing posts for search") as conn:
            found = _posts.posts_by_ids(conn, ids)
            _search.index(conn, found)
            return len(found)

    def unindex_posts(self, ids: Sequence[str]) -> None:
        with self._write("removing posts from the search index") as conn:
            _search.unindex(conn, ids)

    def rebuild_search_index(self) -> int:
        with self._write("rebuilding the search index") as conn:
            return _search.rebuild(conn, _posts.all_posts(conn))

    # --- full text (store/fulltext.py) -------------------------------------------------------
    def fulltext_pending(
        self, source_ids: Sequence[str], limit: int
    ) -> list[tuple[Post, str | None]]:
        with self._read("reading posts waiting for their article") as conn:
            return _fulltext.pending(conn, source_ids, limit)

    def source_recent_posts(self, source_id: str, limit: int) -> list[Post]:
        with self._read("reading a source's newest posts") as conn:
            return _fulltext.recent_posts_of(conn, source_id, limit)

    def fulltext_page_blocks(
        self, source_id: str, exclude: Sequence[str] = ()
    ) -> list[frozenset[str]]:
        with self._read("reading a source's page fingerprints") as conn:
            return _fulltext.page_blocks(conn, source_id, exclude)

    def record_full_text(
        self,
        post: Post,
        now: datetime,
        outcome: str,
        blocks: frozenset[str],
        article: tuple[str, str] | None,
    ) -> None:
        with self._write("saving a post's article") as conn:
            _fulltext.record(conn, post, now, outcome, blocks, article)

    def forget_full_text(self, source_ids: Sequence[str]) -> int:
        with self._write("marking articles to read again") as conn:
            return _fulltext.forget(conn, source_ids)

    # --- digest ledger -----------------------------------------------------------------------
    def last_edition(self, name: str) -> EditionRecord | None:
        with self._read("reading the last edition") as conn:
            return _editions.last_edition(conn, name)

    def get_edition(self, edition_id: str) -> EditionRecord | None:
        with self._read("reading an edition") as conn:
            return _editions.get_edition(conn, edition_id)

    def list_editions(self, limit: int = 50) -> list[EditionRecord]:
        with self._read("listing editions") as conn:
            return _editions.list_editions(conn, limit)

    def save_edition(self, edition: EditionRecord, recipients: Sequence[str]) -> None:
        with self._write(f"saving edition {edition.id}") as conn:
            _editions.save_edition(conn, edition, recipients)

    def open_edition(
        self, edition: EditionRecord, recipients: Sequence[str], based_on: str | None
    ) -> bool:
        with self._write(f"recording edition {edition.id}") as conn:
            return _editions.open_edition(conn, edition, recipients, based_on)

    def recipients(self, edition_id: str) -> list[RecipientStatus]:
        with self._read("reading recipients") as conn:
            return _editions.list_recipients(conn, edition_id)

    def claim_recipient(self, edition_id: str, address: str, now: datetime) -> bool:
        with self._write("claiming a recipient") as conn:
            return _editions.claim_recipient(conn, edition_id, address, now)

    def mark_recipient(
        self,
        edition_id: str,
        address: str,
        state: RecipientState,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._write("recording a delivery") as conn:
            _editions.mark_recipient(
                conn, edition_id, address, state, now, message_id=message_id, error=error
            )

    # --- locks -------------------------------------------------------------------------------
    def acquire_lock(self, name: str, owner: str, now: datetime, ttl_s: float) -> str | None:
        with self._write(f"taking lock {name}") as conn:
            return _locks.acquire_lock(
                conn, name, owner, now, ttl_s, pid=os.getpid(), host=self._host
            )

    def lock_held_since(self, name: str, now: datetime) -> datetime | None:
        with self._read(f"reading lock {name}") as conn:
            return _locks.held_since(conn, name, now, self._host)

    def renew_lock(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        with self._write(f"renewing lock {name}") as conn:
            return _locks.renew_lock(conn, name, owner, now, ttl_s)

    def release_lock(self, name: str, owner: str) -> None:
        with self._write(f"releasing lock {name}") as conn:
            _locks.release_lock(conn, name, owner)

    # --- member submissions and owner notices ------------------------------------------------
    def add_submission(self, new: _submissions.NewSubmission, now: datetime) -> int:
        with self._write("queueing a member submission") as conn:
            return _submissions.add_submission(conn, new, now)

    def get_submission(self, submission_id: int) -> _submissions.Submission | None:
        with self._read("reading a submission") as conn:
            return _submissions.get_submission(conn, submission_id)

    def list_submissions(
        self, state: str | None = "pending", limit: int = 200
    ) -> list[_submissions.Submission]:
        with self._read("listing submissions") as conn:
            return _submissions.list_submissions(conn, state, limit)

    def pending_with_feed(self, feed_url: str) -> _submissions.Submission | None:
        with self._read("looking for a pending submission") as conn:
            return _submissions.pending_with_feed(conn, feed_url)

    def decide_submission(
        self,
        submission_id: int,
        state: str,
        now: datetime,
        *,
        reason: str | None = None,
        source_id: str | None = None,
    ) -> bool:
        with self._write(f"deciding submission {submission_id}") as conn:
            return _submissions.decide_submission(
                conn, submission_id, state, now, reason=reason, source_id=source_id
            )

    def last_notices(self) -> dict[str, str]:
        with self._read("reading sent notices") as conn:
            return _submissions.last_notices(conn)

    def record_notice(self, source_id: str, condition: str, now: datetime) -> None:
        with self._write(f"recording a notice for {source_id}") as conn:
            _submissions.record_notice(conn, source_id, condition, now)

    def source_activity(self, since: datetime) -> dict[str, _submissions.SourceActivity]:
        with self._read("counting recent posts per source") as conn:
            return _submissions.source_activity(conn, since)

    # --- subscribers -------------------------------------------------------------------------
    def get_subscriber(self, subscriber_id: int) -> _subscribers.Subscriber | None:
        with self._read("reading a subscriber") as conn:
            return _subscribers.get_subscriber(conn, subscriber_id)

    def find_subscriber(self, address: str) -> _subscribers.Subscriber | None:
        with self._read("looking up a subscriber") as conn:
            return _subscribers.find_subscriber(conn, address)

    def list_subscribers(
        self,
        *,
        statuses: Collection[_subscribers.Status] = (),
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[_subscribers.Subscriber]:
        with self._read("listing subscribers") as conn:
            return _subscribers.list_subscribers(
                conn, statuses=statuses, search=search, limit=limit, offset=offset
            )

    def count_subscribers(self) -> dict[_subscribers.Status, int]:
        with self._read("counting subscribers") as conn:
            return _subscribers.count_subscribers(conn)

    def save_subscriber(
        self, subscriber: _subscribers.Subscriber, events: Sequence[_subscribers.Event] = ()
    ) -> _subscribers.Subscriber:
        with self._write("saving a subscriber") as conn:
            return _subscribers.save_subscriber(conn, subscriber, events)

    def subscriber_events(self, subscriber_id: int) -> list[_subscribers.Event]:
        with self._read("reading a subscriber's history") as conn:
            return _subscribers.subscriber_events_of(conn, subscriber_id)

    def forget_subscriber(
        self, subscriber_id: int | None, address: str, address_hash: str, now: datetime
    ) -> None:
        with self._write("forgetting a subscriber") as conn:
            if subscriber_id is not None:
                _subscribers.delete_subscriber(conn, subscriber_id)
            _subscribers.scrub_deliveries(conn, address, f"forgotten:{address_hash}")
            _subscribers.suppress(conn, address_hash, "forgotten", now)

    def deliveries(self, address: str) -> list[_subscribers.Delivery]:
        with self._read("reading an address's deliveries") as conn:
            return _subscribers.deliveries(conn, address)

    def suppress(self, address_hash: str, reason: str, now: datetime) -> None:
        with self._write("suppressing an address") as conn:
            _subscribers.suppress(conn, address_hash, reason, now)

    def unsuppress(self, address_hash: str) -> None:
        with self._write("lifting a suppression") as conn:
            _subscribers.unsuppress(conn, address_hash)

    def suppressed(self, hashes: Collection[str]) -> dict[str, str]:
        with self._read("reading the suppression list") as conn:
            return _subscribers.suppressed(conn, hashes)

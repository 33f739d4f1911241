"""The storage contract.

Every stage talks to storage through this Protocol, never through SQLAlchemy directly, so the
SQLite default and PostgreSQL share one code path and tests can read the store back with plain
records.  Rules every implementation keeps:

* ``apply_update`` is one transaction: a crash leaves either all of a source's update or none.
* A post is keyed by ``Post.id``; applying it again updates it in place (first_seen is kept).
* Lists of posts come back newest first by ``published`` unless a method says otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Protocol

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
from aggregator.store.console import ConsoleStore
from aggregator.store.submissions import NewSubmission, SourceActivity, Submission
from aggregator.store.subscribers import Delivery, Event, Status, Subscriber


class Store(ConsoleStore, Protocol):
    """Everything below, and the staff console's part (``store.console.ConsoleStore``)."""

    # --- sources -------------------------------------------------------------------------
    def sync_sources(self, sources: Sequence[Source]) -> None:
        """Make the stored source rows match the configuration (new rows get a fresh state).

        A source whose configured URL changed gets its fetch URL and HTTP caching reset.
        Sources absent from the configuration are kept (their posts stay) but not fetched.
        """

    def get_sources(self) -> dict[str, Source]:
        """Every source the store knows, configured or not, by id."""

    def get_states(self) -> dict[str, SourceState]: ...

    def due_sources(
        self, ids: Sequence[str], *, due_at: datetime | None = None
    ) -> list[tuple[Source, SourceState]]:
        """Those of ``ids`` (a batch of a few hundred) that a cycle fetches: enabled and
        configured, not gone, not held in the console, due at ``due_at`` (None: due or not);
        each with its configuration and its state, in no particular order."""

    def due_counts(
        self, *, due_at: datetime | None = None, only: Sequence[str] | None = None
    ) -> tuple[int, int]:
        """How many sources ``due_sources`` gives in all, and how many of them never parsed."""

    def set_state(self, state: SourceState) -> None: ...

    # --- posts ---------------------------------------------------------------------------
    def known_posts(self, source_id: str, ids: Sequence[str]) -> dict[str, tuple[str, datetime]]:
        """For the given post ids of one source: id -> (content_hash, first_seen)."""

    def known_and_aliases(
        self, source_id: str, ids: Sequence[str]
    ) -> tuple[dict[str, tuple[str, datetime]], dict[str, str]]:
        """``known_posts`` and ``alias_targets`` together, in one read (the cycle needs both)."""

    def apply_update(
        self, update: SourceUpdate, story_keys: Mapping[str, tuple[str, str]] | None = None
    ) -> tuple[int, int]:
        """Write a source's new state and its new/changed posts atomically: (new, updated).

        ``update.merges`` (duplicate, primary id) are recorded in the same transaction: the
        duplicate is remembered as an alias and its source named in the primary's also_from.
        ``story_keys`` (post id -> link key, title key) are dedupe keys already computed.
        """

    def apply_updates(
        self,
        updates: Sequence[SourceUpdate],
        story_keys: Mapping[str, tuple[str, str]] | None = None,
        search_tokens: Mapping[str, tuple[str, str]] | None = None,
    ) -> list[tuple[int, int]]:
        """``apply_update`` for several sources in one transaction: all of them or none.

        ``search_tokens`` (post id -> ``search.post_tokens``) are index tokens already made."""

    def alias_targets(self, source_id: str, ids: Sequence[str]) -> dict[str, str]:
        """For post ids of one source stored as duplicates (aliases): alias id -> primary id."""

    def story_candidates(
        self, link_keys: Sequence[str], title_keys: Sequence[str], exclude_source: str
    ) -> list[StoryKey]:
        """Posts of other sources sharing one of these link keys or title keys (dedupe)."""

    def recent_posts(
        self,
        limit: int,
        *,
        language: str | None = None,
        source_id: str | None = None,
        topic: str | None = None,
        offset: int = 0,
    ) -> list[Post]: ...

    def posts_first_seen(
        self, after: datetime | None, until: datetime, *, language: str | None = None
    ) -> list[Post]:
        """Posts with ``after < first_seen <= until``, oldest first seen first."""

    def posts_by_ids(self, ids: Sequence[str]) -> list[Post]: ...

    def count_posts(self) -> int: ...

    def expire_posts(
        self, before: datetime, keep_ids: Collection[str], *, keep_newest: int = 0
    ) -> int:
        """Delete posts first seen before ``before``; how many went (retention).

        Never deleted: ``keep_ids``, any post a digest edition references (editions keep their
        record), and each source's ``keep_newest`` newest posts by ``published`` (its feed
        probably still lists them; deleting one would bring it back as new at the next fetch).
        """

    # --- search (store/search.py) -------------------------------------------------------
    def search_posts(self, request: SearchRequest) -> SearchResults:
        """A page of the posts matching ``request`` (each matched in its own language)."""

    def index_posts(self, ids: Sequence[str]) -> int:
        """Index these stored posts again (after their text changed, or a post is shown
        again after hiding); how many were found.  Writing posts indexes them already."""

    def unindex_posts(self, ids: Sequence[str]) -> None:
        """Take posts out of search results at once (a post hidden by staff)."""

    def rebuild_search_index(self) -> int:
        """Index every stored post from scratch; how many."""

    # --- full text (store/fulltext.py) -------------------------------------------------
    def fulltext_pending(
        self, source_ids: Sequence[str], limit: int
    ) -> list[tuple[Post, str | None]]:
        """Posts of these sources whose article waits to be read, newest first, each with
        its previous outcome when it is read again (``--again``)."""

    def source_recent_posts(self, source_id: str, limit: int) -> list[Post]:
        """A source's newest posts by first seen (deciding ``full_text: auto``)."""

    def fulltext_page_blocks(
        self, source_id: str, exclude: Sequence[str] = ()
    ) -> list[frozenset[str]]:
        """The block digests of the source's newest article pages read, but ``exclude``'s."""

    def record_full_text(
        self,
        post: Post,
        now: datetime,
        outcome: str,
        blocks: frozenset[str],
        article: tuple[str, str] | None,
    ) -> None:
        """Remember a reading; with ``article`` (content HTML, excerpt) the post shows it,
        and the search index follows."""

    def forget_full_text(self, source_ids: Sequence[str]) -> int:
        """Make these sources' articles wait to be read again; how many readings went."""

    # --- digest ledger -------------------------------------------------------------------
    def last_edition(self, name: str) -> EditionRecord | None:
        """The newest edition of that name, sent or not."""

    def get_edition(self, edition_id: str) -> EditionRecord | None: ...

    def list_editions(self, limit: int = 50) -> list[EditionRecord]: ...

    def save_edition(self, edition: EditionRecord, recipients: Sequence[str]) -> None:
        """Insert or replace an edition; recipients not yet present are added as PENDING."""

    def open_edition(
        self, edition: EditionRecord, recipients: Sequence[str], based_on: str | None
    ) -> bool:
        """Record an edition a preview or a send works on, only if the newest edition of its
        name is still ``based_on`` and this one is not sent; False (nothing written) else."""

    def recipients(self, edition_id: str) -> list[RecipientStatus]: ...

    def claim_recipient(self, edition_id: str, address: str, now: datetime) -> bool:
        """PENDING/FAILED -> SENDING in one statement; False if taken by another or done."""

    def mark_recipient(
        self,
        edition_id: str,
        address: str,
        state: RecipientState,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
    ) -> None: ...

    # --- locks ---------------------------------------------------------------------------
    def acquire_lock(self, name: str, owner: str, now: datetime, ttl_s: float) -> str | None:
        """Take the named lock; None on success, else a description of the holder.

        A lock past its TTL, or held by a process that no longer exists on this host, is
        taken over.
        """

    def lock_held_since(self, name: str, now: datetime) -> datetime | None:
        """When the live holder of the named lock took it; None when free or stale."""

    def renew_lock(self, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
        """The holder's heartbeat: its lock now expires ``ttl_s`` after ``now``; False when
        ``owner`` does not hold it (any more)."""

    def release_lock(self, name: str, owner: str) -> None: ...

    # --- member submissions and owner notices (members_web, notify) ------------------------
    def add_submission(self, new: NewSubmission, now: datetime) -> int:
        """Queue a member's submission as pending; its new id, or the id of the submission of
        the same feed already pending (never two pending copies of one feed)."""

    def get_submission(self, submission_id: int) -> Submission | None: ...

    def list_submissions(self, state: str | None = "pending", limit: int = 200) -> list[Submission]:
        """Oldest first; ``state`` None lists every state."""

    def pending_with_feed(self, feed_url: str) -> Submission | None:
        """A submission of that feed URL still waiting for review, if any."""

    def decide_submission(
        self,
        submission_id: int,
        state: str,
        now: datetime,
        *,
        reason: str | None = None,
        source_id: str | None = None,
    ) -> bool:
        """pending -> approved/rejected in one statement; False if it was not pending."""

    def last_notices(self) -> dict[str, str]:
        """Source id -> the last condition its contact was told about."""

    def record_notice(self, source_id: str, condition: str, now: datetime) -> None: ...

    def source_activity(self, since: datetime) -> dict[str, SourceActivity]:
        """Per source: posts first seen after ``since`` and its newest post's first_seen."""

    # --- subscribers (aggregator.subscribers decides; the store writes) --------------------
    def get_subscriber(self, subscriber_id: int) -> Subscriber | None: ...

    def find_subscriber(self, address: str) -> Subscriber | None:
        """By address, whatever its case."""

    def list_subscribers(
        self,
        *,
        statuses: Collection[Status] = (),
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Subscriber]:
        """In signup order; ``search``: part of the address, any case."""

    def count_subscribers(self) -> dict[Status, int]: ...

    def save_subscriber(self, subscriber: Subscriber, events: Sequence[Event] = ()) -> Subscriber:
        """Insert (id 0) or update, with the events explaining the change, in one transaction."""

    def subscriber_events(self, subscriber_id: int) -> list[Event]:
        """Oldest first."""

    def forget_subscriber(
        self, subscriber_id: int | None, address: str, address_hash: str, now: datetime
    ) -> None:
        """Delete the subscriber (if any) and its history, replace the address in the digest
        ledger by ``forgotten:<hash>``, and keep ``address_hash`` suppressed: one transaction."""

    def deliveries(self, address: str) -> list[Delivery]:
        """The digest ledger's rows for an address, any case."""

    def suppress(self, address_hash: str, reason: str, now: datetime) -> None: ...

    def unsuppress(self, address_hash: str) -> None: ...

    def suppressed(self, hashes: Collection[str]) -> dict[str, str]:
        """Of ``hashes``, the suppressed ones -> their reason."""

    def close(self) -> None: ...

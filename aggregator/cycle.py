"""Wire the stages into a cycle: the only place that knows all of them.

``run_cycle`` is the update of every due source:

    store.due_sources (batches) -> Fetcher.fetch (async, bounded) -> process_document
    (process pool) -> store.known_and_aliases -> decide.plan_update (pure)
    -> store.apply_updates (batched; a source's state is dropped once written)

A failing source is an ``UpdateOutcome`` with its error; nothing a source does can abort the
cycle.  The clock is a parameter (``clock``) so tests and the demo control time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime

from aggregator.clock import Clock, utc_now
from aggregator.config import Settings
from aggregator.dedupe import Joins, StoryIndex, StoryKey, update_stories
from aggregator.errors import LockedError, StorageError, one_line
from aggregator.ingest.decide import (
    NOTHING_PARSED,
    Document,
    Schedule,
    Stored,
    plan_update,
)
from aggregator.ingest.fetch import Fetcher, body_digest, user_agent
from aggregator.ingest.fulltext import read_articles
from aggregator.ingest.process import ProcessedDocument, document_job, process_document
from aggregator.ingest.workers import WorkerPool
from aggregator.members.notify import send_notices
from aggregator.models import (
    CycleReport,
    FetchRequest,
    FetchResult,
    FetchStatus,
    Source,
    SourceState,
    SourceUpdate,
    UpdateOutcome,
)
from aggregator.ops.cycles import record_of, write_record
from aggregator.ops.heap import fewer_collections, give_back
from aggregator.present.imagefetch import fetch_images
from aggregator.publish.publisher import PublishReport, publish_all
from aggregator.publish.websub import announce
from aggregator.retention import tidy
from aggregator.store import open_store
from aggregator.store.due import due_sources
from aggregator.store.patience import patient
from aggregator.store.protocol import Store

log = logging.getLogger("aggregator.cycle")

Progress = Callable[[UpdateOutcome], None]

# Below this many documents, a process pool costs more to start than it saves.
POOL_THRESHOLD = 16
# State-only updates (304s, unchanged bodies) written per transaction.
STATE_BATCH = 64
# Posts written per transaction, from as many sources as it takes.
POST_BATCH = 400
# Documents fetched and not yet parsed, per allowed connection.  The bound keeps a cold cycle's
# bodies from all waiting in memory at once; it stays loose because the fetching done while the
# workers start up is free (measured at 1,000 sources: 2 per connection cost 0.5 s a cycle, 16
# nothing measurable, and the bound kept the cycle's memory about 40 MB under the 300 MB budget).
DOCUMENTS_PER_CONNECTION = 16
RUNNERS_SPARE = STATE_BATCH  # runners beyond the documents in flight: those awaiting a write
# Bytes of fetched documents held (waiting for a worker or in one): a fetch starts only below
# it, so at most this plus the fetches under way (megabyte documents need a bound in bytes).
HELD_BYTES = 32 * 2**20
# Longest ``only`` counted in the store (``due_counts``) as a list of ids.
COUNTED_ONLY = 500
# Stories a first cycle keeps in memory instead of asking the (empty) store; beyond, it asks.
WRITTEN_STORIES = 20_000


def open_configured_store(settings: Settings) -> Store:
    return open_store(settings.storage_url)


@dataclass
class _Pending:
    """An update waiting for the next batched write, and who waits for its counts."""

    update: SourceUpdate
    done: asyncio.Future[tuple[int, int]] | None
    stories: list[StoryKey] = field(default_factory=list)
    keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # of its posts


@dataclass
class _Cycle:
    settings: Settings
    store: Store
    clock: Clock
    pool: WorkerPool | None
    progress: Progress | None
    rng: random.Random
    schedule: Schedule
    pending: list[_Pending] = field(default_factory=list)
    # post id -> (link key, title key) of the posts in ``pending``
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, str]] = field(default_factory=dict)  # search index tokens
    # own posts in ``pending`` by link key and by title key: stories another source of the
    # same batch may duplicate (indexed: a scan of the whole batch per source added up)
    unwritten: StoryIndex = field(default_factory=lambda: StoryIndex())
    # When the store held no post as the cycle began, every story another source could
    # duplicate was written by this cycle: they are indexed here and the store is not asked.
    store_was_empty: bool = False
    written: StoryIndex = field(default_factory=lambda: StoryIndex())
    written_stories: int = 0  # in ``written``
    joins: Joins = field(default_factory=Joins)  # stories this cycle joined (dedupe)
    pending_posts: int = 0
    documents: asyncio.Semaphore = field(default_factory=asyncio.Semaphore)  # set by run()
    held_bytes: int = 0  # of the fetched documents not processed yet
    processed: int = 0  # documents parsed and normalised (in a worker or here)
    room: asyncio.Condition = field(default_factory=asyncio.Condition)  # set by run()
    running: int = 0  # sources taken by a runner and not finished
    waiting: int = 0  # of which, waiting for a batched write
    # sources whose update the store refused, and the first cause: one line each, one summary
    store_failures: int = 0
    first_store_error: str | None = None

    async def run(
        self, due: Iterator[tuple[Source, SourceState]], total: int
    ) -> list[UpdateOutcome]:
        """Update every source ``due`` yields (``total`` of them, to size the runners).

        ``due`` reads the store a page at a time, and a source's state is dropped once its
        update is written: what the cycle holds does not grow with the number of sources.
        """
        fetch = self.settings.fetch
        bound = DOCUMENTS_PER_CONNECTION * fetch.concurrency
        self.documents = asyncio.Semaphore(bound)
        self.room = asyncio.Condition()
        outcomes: list[UpdateOutcome] = []
        async with Fetcher(
            fetch, user_agent=user_agent(self.settings), allow=fetch.allow_private
        ) as f:

            async def runner() -> None:
                for source, state in due:  # shared: each runner takes the next when it is free
                    self.running += 1
                    outcomes.append(await self._one(f, source, state))
                    if self.progress is not None:
                        self.progress(outcomes[-1])

            # runners, not a task per source: memory does not grow with the sources
            runners = min(total, bound + RUNNERS_SPARE)
            try:
                await asyncio.gather(*(runner() for _ in range(max(runners, 1))))
            finally:
                self._flush()
        if self.store_failures:
            log.error(
                "store: %d of %d sources not saved; first cause: %s",
                self.store_failures,
                len(outcomes),
                self.first_store_error,
            )
        return outcomes

    def _store_failed(self, source_id: str, exc: StorageError) -> str:
        """One line for a source the store refused (no traceback: its parameters would dump
        post bodies into the log), counted for the cycle's summary."""
        self.store_failures += 1
        if self.first_store_error is None:
            self.first_store_error = str(exc)
        log.warning("source=%s outcome=not-saved %s", source_id, exc)
        return one_line(f"not saved: {exc}")

    async def _apply(
        self,
        update: SourceUpdate,
        keys: Mapping[str, tuple[str, str]],
        tokens: Mapping[str, tuple[str, str]],
        seen: Mapping[str, datetime],
    ) -> tuple[int, int]:
        """Write one source's update, batched with other sources' in one transaction.

        A transaction per source (and several statements each) was most of a cold cycle's
        time in the parent process, so updates wait in ``pending`` until ``POST_BATCH`` posts
        or ``STATE_BATCH`` sources are waiting, or every unfinished source is waiting.  Each
        source's update is whole in its batch: an interrupted cycle loses whole sources'
        updates, state included, and those sources are simply fetched again.  A state-only
        update (a 304) does not wait for its write: it has no counts to report.
        """
        self.keys.update(keys)
        self.tokens.update(tokens)
        self.joins.record(update.joins, seen)
        stories = update_stories(update.posts, update.merges, keys, seen)
        for story in stories:  # aliases too: a post matching one joins its story
            self.unwritten.add(story)
        stateless = not (update.posts or update.merges or update.joins)
        done: asyncio.Future[tuple[int, int]] | None = None
        if not stateless:
            done = asyncio.get_running_loop().create_future()
        self.pending.append(_Pending(update, done, stories, keys))
        self.pending_posts += len(update.posts) + len(update.merges)
        if done is None:
            self._maybe_flush()
            return 0, 0
        self.waiting += 1
        try:
            self._maybe_flush()
            return await done
        finally:
            self.waiting -= 1

    def _maybe_flush(self) -> None:
        full = self.pending_posts >= POST_BATCH or len(self.pending) >= STATE_BATCH
        if full or self.waiting >= self.running:
            self._flush()

    def _finished(self) -> None:
        self.running -= 1
        if self.pending and self.waiting >= self.running:
            self._flush()

    def _flush(self) -> None:
        pending, self.pending = self.pending, []
        keys, self.keys = self.keys, {}
        tokens, self.tokens = self.tokens, {}
        batch, self.unwritten, self.pending_posts = self.unwritten, StoryIndex(), 0
        if not pending:
            return
        try:
            counts = self.store.apply_updates([p.update for p in pending], keys, tokens)
        except StorageError as exc:  # one line: a traceback here carried every post's body
            log.warning(
                "batched write of %d sources failed (%s); writing one by one", len(pending), exc
            )
            for item in pending:
                self._apply_one(item)
            return
        except Exception:  # one bad update must not lose the others'
            log.exception("batched write failed; writing one by one")
            for item in pending:
                self._apply_one(item)
            return
        if self.store_was_empty:
            self.written.merge(batch)
            self._count_written(sum(len(p.stories) for p in pending))
        for item, count in zip(pending, counts, strict=True):
            if item.done is not None and not item.done.done():
                item.done.set_result(count)

    def _apply_one(self, item: _Pending) -> None:
        try:
            count = self.store.apply_update(item.update, item.keys)
        except StorageError as exc:
            if item.done is None:  # nobody waits to report it: a state-only update
                self._store_failed(item.update.source_id, exc)
            elif not item.done.done():
                item.done.set_exception(exc)
            return
        except Exception as exc:
            log.exception("source=%s update not saved", item.update.source_id)
            if item.done is not None and not item.done.done():
                item.done.set_exception(exc)
            return
        if self.store_was_empty:
            for story in item.stories:
                self.written.add(story)
            self._count_written(len(item.stories))
        if item.done is not None and not item.done.done():
            item.done.set_result(count)

    def _count_written(self, stories: int) -> None:
        """``stories`` more in ``written``; past ``WRITTEN_STORIES`` the store is asked instead."""
        self.written_stories += stories
        if self.written_stories > WRITTEN_STORIES:
            self.store_was_empty = False  # what was written is in the store, and found there
            self.written, self.written_stories = StoryIndex(), 0

    def _candidates(self, source_id: str, fresh: Sequence[tuple[str, str]]) -> list[StoryKey]:
        """Stored stories, and stories of the batch not written yet, sharing a key."""
        links = {k[0] for k in fresh if k[0]}
        titles = {k[1] for k in fresh if k[1]}
        found: list[StoryKey] = []
        indexes = [self.unwritten]
        if self.store_was_empty:
            indexes.append(self.written)
        else:
            found = self.store.story_candidates(sorted(links), sorted(titles), source_id)
        seen = {c.post_id for c in found}
        for index in indexes:
            for story in index.find(links, titles):
                if story.source_id != source_id and story.post_id not in seen:
                    seen.add(story.post_id)
                    found.append(story)
        return [self.joins.current(c) for c in found]

    def _known(
        self, source_id: str, ids: Sequence[str]
    ) -> tuple[dict[str, tuple[str, datetime]], dict[str, str]]:
        return self.store.known_and_aliases(source_id, ids)

    async def _one(self, fetcher: Fetcher, source: Source, state: SourceState) -> UpdateOutcome:
        started = time.perf_counter()
        try:
            return await self._update(fetcher, source, state, started)
        except StorageError as exc:  # the store is down or full: one line, no traceback
            return UpdateOutcome(
                source.id,
                FetchStatus.ERROR,
                error=self._store_failed(source.id, exc),
                elapsed_s=time.perf_counter() - started,
            )
        except Exception as exc:  # a bug here must not take the other sources down
            log.exception("source=%s outcome=crash", source.id)
            return UpdateOutcome(
                source.id,
                FetchStatus.ERROR,
                error=one_line(f"internal error: {exc}"),
                elapsed_s=time.perf_counter() - started,
            )
        finally:
            self._finished()

    async def _update(
        self, fetcher: Fetcher, source: Source, state: SourceState, started: float
    ) -> UpdateOutcome:
        request = FetchRequest(source.id, state.url, state.etag, state.last_modified)
        # Fetching outruns parsing many times over: without this bound every body of a cold
        # cycle would wait in memory for a worker (70 MB at 1,000 sources); see
        # DOCUMENTS_PER_CONNECTION for why the bound is not tighter.
        async with self.documents:
            async with self.room:
                await self.room.wait_for(lambda: self.held_bytes < HELD_BYTES)
            result = await fetcher.fetch(request)
            size = len(result.body or b"")
            self.held_bytes += size
            try:
                now = self.clock()
                processed: ProcessedDocument | None = None
                digest = None
                if result.status is FetchStatus.OK and result.body is not None:
                    digest = body_digest(result.body)
                    if digest == state.body_hash:  # the hash of the last body that parsed
                        result = _as_not_modified(result)
                    else:
                        processed = await self._process(source, result, now)
                if result.body is not None:  # the posts are what is kept from here on
                    result = replace(result, body=None)
            finally:
                await self._release(size)
        posts = processed.posts if processed else ()
        ids = [p.id for p in posts]
        # A source never fetched has nothing stored: every post and alias is written with
        # a state whose last_fetch is set (plan_update), so the lookup can only find nothing.
        looked_up = posts and state.last_fetch is not None
        known, aliases = self._known(source.id, ids) if looked_up else ({}, {})
        aliases = {post: self.joins.resolve(story) for post, story in aliases.items()}
        keys = list(processed.story_keys) if processed else []
        fresh = [k for p, k in zip(posts, keys, strict=True) if p.id not in known]
        candidates = self._candidates(source.id, fresh) if fresh else []
        document = NOTHING_PARSED
        if processed is not None:
            document = Document(
                tuple(posts),
                processed.error,
                processed.error_kind,
                processed.error_params,
                digest,
                processed.title,
                processed.link,
            )
        story_keys = dict(zip(ids, keys, strict=True))
        stored = Stored(known, aliases, tuple(candidates), story_keys)
        update = plan_update(state, result, now, self.schedule, document, stored, self.rng)
        tokens = dict(zip(ids, processed.search_tokens, strict=True)) if processed else {}
        seen = {c.primary: c.first_seen for c in candidates}
        new, updated = await self._apply(update, story_keys, tokens, seen)
        failed = update.state.consecutive_failures > 0
        status = result.status
        if failed and status in (FetchStatus.OK, FetchStatus.NOT_MODIFIED):
            status = FetchStatus.ERROR  # not a feed, or a 304 nothing good stands behind
        outcome = UpdateOutcome(
            source.id,
            status,
            new_posts=new,
            updated_posts=updated,
            error=update.state.last_error if failed else None,
            http_status=result.http_status,
            elapsed_s=time.perf_counter() - started,
            moved_to=result.permanent_url if result.permanent_url != state.url else None,
        )
        _log_outcome(outcome)
        return outcome

    async def _release(self, size: int) -> None:
        """``size`` bytes of documents are no longer held: fetches waiting for room may go."""
        if size:
            self.held_bytes -= size
            async with self.room:
                self.room.notify_all()

    async def _process(
        self, source: Source, result: FetchResult, now: datetime
    ) -> ProcessedDocument:
        job = document_job(source, result, self.settings, now)
        self.processed += 1
        if self.pool is None:
            return process_document(job)
        return await self.pool.run(process_document, job)


def _as_not_modified(result: FetchResult) -> FetchResult:
    """A 200 whose body is byte-identical to the last one: treat it as a 304, skip parsing."""
    return replace(result, status=FetchStatus.NOT_MODIFIED, body=None)


def _log_outcome(o: UpdateOutcome) -> None:
    """One line per source; a failing source at WARNING, so failures stand out of the INFO flow."""
    log.log(
        logging.WARNING if o.error else logging.INFO,
        "source=%s outcome=%s http=%s new=%d updated=%d elapsed_ms=%.0f%s",
        o.source_id,
        o.status.value,
        o.http_status if o.http_status is not None else "-",
        o.new_posts,
        o.updated_posts,
        o.elapsed_s * 1000,
        f" error={o.error!r}" if o.error else "",
    )


def run_cycle(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = utc_now,
    only: Sequence[str] | None = None,
    due_only: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
    rng: random.Random | None = None,
) -> CycleReport:
    """Fetch, parse, normalise and store every selected source; report one outcome each."""
    started = clock()
    store.sync_sources(settings.source_list())
    due_at = started if due_only else None
    wanted = frozenset(only or ())
    ids = [s.id for s in settings.sources if s.enabled and (not only or s.id in wanted)]
    # a queue bucket's thousands of ids are not bound in a count: an over-count only sizes runners
    asked = only if only and len(only) <= COUNTED_ONLY else None
    total, unparsed = store.due_counts(due_at=due_at, only=asked)
    pool = _pool(
        total,
        workers,
        eager=unparsed >= POOL_THRESHOLD,
        languages=tuple(settings.site.languages),
    )
    cycle: _Cycle | None = None
    try:
        schedule = Schedule(
            interval_s=settings.site.fetch_interval_minutes * 60,
            max_backoff_s=settings.fetch.max_backoff_s,
            cycle_started=started,
        )
        cycle = _Cycle(settings, store, clock, pool, progress, rng or random.Random(), schedule)
        cycle.store_was_empty = store.count_posts() == 0
        due = due_sources(store, ids, due_at)
        with fewer_collections():  # see ops.heap: a tenth of a cold cycle's process
            outcomes = asyncio.run(cycle.run(due, total))
    finally:
        if pool is not None:
            pool.shutdown()
        # What a cycle that read documents freed goes back to the system, not to the next
        # cycle.  A cycle of 304s frees little, and the full collection would walk every
        # object of the process for nothing (63 ms, a fifth of a warm cycle of 1,000 sources).
        if cycle is None or cycle.processed:
            give_back()
    return CycleReport(started, clock(), tuple(sorted(outcomes, key=lambda o: o.source_id)))


def _pool(
    jobs: int,
    workers: int | None,
    *,
    eager: bool = False,
    languages: tuple[str, ...] = ("en", "fr", "es"),
) -> WorkerPool | None:
    """Worker processes for the CPU stage, or None when the cycle is too small for them.

    ``eager``: many documents are expected (sources never parsed), so the workers are started
    at once rather than when the first document arrives.
    """
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1 or jobs < POOL_THRESHOLD:
        return None
    return WorkerPool(count, languages, eager=eager)


# --------------------------------------------------------------------------------------------
# Locks: one cycle (and one digest send) at a time across processes


LOCK_TTL_S = 15 * 60  # renewed every RENEW_EVERY_S while held: a long cycle keeps it
RENEW_EVERY_S = 60.0
STORE_PATIENCE_S = 300.0  # how long in all a cycle waits for an unreachable database


@contextmanager
def held_lock(store: Store, name: str, clock: Clock = utc_now) -> Iterator[None]:
    """Hold the named store lock for the block, or raise ``LockedError`` naming the holder.

    The store recovers a lock whose process is dead (same host) or whose TTL has passed, so a
    crash never leaves the product stuck.  The TTL is short and renewed by a heartbeat while
    the block runs: a holder that lost the database (or died on another host) stops renewing,
    and its lock lapses within ``LOCK_TTL_S`` instead of blocking every other host for hours.
    """
    owner = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
    holder = store.acquire_lock(name, owner, clock(), LOCK_TTL_S)
    if holder is not None:
        raise LockedError(f"the {name!r} lock is taken ({holder}); another run is in progress")
    stop = threading.Event()
    heartbeat = threading.Thread(
        target=_renew, args=(store, name, owner, clock, stop), name=f"lock {name}", daemon=True
    )
    heartbeat.start()
    try:
        yield
    finally:
        stop.set()
        heartbeat.join(timeout=5)
        _release(store, name, owner)


def _renew(store: Store, name: str, owner: str, clock: Clock, stop: threading.Event) -> None:
    while not stop.wait(RENEW_EVERY_S):
        try:
            store.renew_lock(name, owner, clock(), LOCK_TTL_S)
        except StorageError as exc:
            log.warning("could not renew the %r lock (%s)", name, exc)


def _release(store: Store, name: str, owner: str) -> None:
    """Release a lock; a store that cannot be reached now gets one warning, not a traceback
    that hides the failure that ended the block.  The lock then lapses by itself: at once for
    a process of this host that has exited, after ``LOCK_TTL_S`` for other hosts."""
    try:
        store.release_lock(name, owner)
    except StorageError as exc:
        log.warning("could not release the %r lock (%s); it lapses by itself", name, exc)


def fetch_and_publish(
    settings: Settings,
    store: Store,
    *,
    clock: Clock = utc_now,
    only: Sequence[str] | None = None,
    due_only: bool = False,
    progress: Progress | None = None,
) -> tuple[CycleReport, PublishReport]:
    """One full cycle under the cycle lock: update the sources, then rewrite the outputs.

    The store is used patiently (``store.patience``): a database that becomes unreachable
    mid-cycle is waited for, up to ``STORE_PATIENCE_S`` in all, before sources fail.

    After the lock is released, the slow and optional outside world is told: the WebSub hub
    (changed feeds) and the contacts of sources whose state changed.  Neither can fail the cycle
    or hold the lock.
    """
    store = patient(store, STORE_PATIENCE_S)
    with held_lock(store, "cycle", clock):
        report = run_cycle(
            settings, store, clock=clock, only=only, due_only=due_only, progress=progress
        )
        read_articles(settings, store, clock())
        tidy(store, settings, clock())  # retention, and temp files of a killed run
        fetch_images(store, settings, clock())
        published = publish_all(store, settings, clock())
    write_record(settings.output_dir, record_of(report))
    announce(published, settings)
    notices = send_notices(store, settings, clock())
    if notices.sent or notices.failed:
        log.info("owner notices: %d sent, %d failed", len(notices.sent), len(notices.failed))
    return report, published

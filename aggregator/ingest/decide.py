"""Decide what one source's fetch changes: pure functions, ``now`` passed in.

Nothing here does I/O.  The cycle (``cycle.run_cycle``) fetches, parses and normalises, asks the
store which posts it already has, and then calls ``plan_update`` with records, as
lemon24/reader's decider is fed: ``Document`` (what the body became), ``Stored`` (what the store
holds) and ``Schedule`` (the interval and the cycle's start).  It returns the complete
``SourceUpdate`` to apply in one transaction.  Keeping the decisions pure makes every rule
(backoff, moved feeds, gone feeds, unchanged posts) testable with plain values.

Scheduling rules:

* success or 304: the next fetch is one interval after the cycle's start and the failure count
  resets; validators (ETag, Last-Modified, body hash) are stored only from a response that
  parsed into a feed, so a 304 confirms the last good state and nothing else;
* an error: exponential backoff from the interval, doubled per consecutive failure, with ±10 %
  jitter so that a host's feeds do not retry in lockstep, capped at ``max_backoff_s`` (one day by
  default).  A source is never dropped: it keeps being retried at the cap;
* 429/503 with Retry-After: the later of the backoff and the (already clamped) Retry-After;
* 410 Gone: ``gone`` is set and the source is not fetched again until its configured URL
  changes or an operator re-enables it;
* a 301/308 chain: the stored fetch URL becomes the new location (the fetcher only reports a
  permanent URL after every hop passed the address checks);
* a post that another member already published (``dedupe``) is not stored twice: it becomes an
  alias of the stored story, whose ``also_from`` names this source; a post that matches two
  stored stories joins them (``SourceUpdate.joins``);
* a failure is stored twice over: one English line (``last_error``, for logs and the CLI) and
  its kind with parameters (``last_error_kind``, ``last_error_params``), which each reader sees
  in their own language; the document's reason wins over the fetch's when a 200 is not a feed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from aggregator.config import Settings
from aggregator.dedupe import StoryKey, plan_merges
from aggregator.errors import one_line
from aggregator.models import (
    ErrorKind,
    ErrorParams,
    FetchResult,
    FetchStatus,
    Post,
    Source,
    SourceState,
    SourceUpdate,
)

JITTER = 0.1


def is_due(state: SourceState, now: datetime) -> bool:
    """A source is due when it has never been fetched or its next fetch time has come."""
    if state.gone:
        return False
    return state.next_fetch is None or state.next_fetch <= now


def select_sources(
    settings: Settings,
    states: dict[str, SourceState],
    now: datetime,
    *,
    only: Sequence[str] | None = None,
    due_only: bool = False,
) -> list[Source]:
    """Enabled, not gone, and (for the scheduler) due; ``only`` restricts to some ids.

    For callers holding every state already (the queue's planner, the command line's count);
    the cycle itself reads the same selection from the store a page at a time
    (``Store.due_sources``)."""
    chosen = []
    for source in settings.source_list():
        if not source.enabled or (only and source.id not in only):
            continue
        state = states[source.id]
        if state.gone:
            continue
        if due_only and not is_due(state, now):
            continue
        chosen.append(source)
    return chosen


def backoff_delay(
    failures: int, interval_s: float, max_s: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after ``failures`` consecutive failures (failures >= 1)."""
    exponent = min(max(failures - 1, 0), 30)
    delay = min(interval_s * float(2**exponent), max_s)
    if rng is not None:
        delay *= 1 + rng.uniform(-JITTER, JITTER)
    return min(delay, max_s)


def keep_first_seen(post: Post, known: Mapping[str, tuple[str, datetime]]) -> Post:
    """A stored post keeps its first-seen time, and so does a date that fell back to it.

    ``normalise`` stamps a post without any date with the current time (its first sight).
    On later fetches that fallback must stay the first sight, not move to each fetch's time.
    """
    stored = known.get(post.id)
    if stored is None:
        return post
    first_seen = stored[1]
    if post.published == post.first_seen:
        updated = first_seen if post.updated == post.first_seen else post.updated
        return replace(post, first_seen=first_seen, published=first_seen, updated=updated)
    return replace(post, first_seen=first_seen)


def changed_posts(
    posts: Sequence[Post], known: Mapping[str, tuple[str, datetime]]
) -> tuple[Post, ...]:
    """Posts that are new, or whose content hash differs from the stored one."""
    out: list[Post] = []
    for post in posts:
        stored = known.get(post.id)
        if stored is None or stored[0] != post.content_hash:
            out.append(post)
    return tuple(out)


def split_duplicates(
    posts: Sequence[Post],
    known: Mapping[str, tuple[str, datetime]],
    aliases: Mapping[str, str],
    candidates: Sequence[StoryKey],
    keys: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[tuple[Post, ...], tuple[tuple[Post, str], ...], tuple[tuple[str, str], ...]]:
    """Split posts to write into (own posts, merges into another story, stories joined).

    A post already recorded as an alias stays one (its primary is kept); a post never seen
    before is matched against the other sources' stored stories, primaries and aliases alike
    (``dedupe.plan_merges``), and may show two of them to be one; a post of this source
    already stored as its own is never merged away by its own source.
    """
    own: list[Post] = []
    merges: list[tuple[Post, str]] = []
    fresh = [p for p in posts if p.id not in known and p.id not in aliases]
    plan = plan_merges(fresh, candidates, keys=keys) if candidates and fresh else None
    matched = plan.merges if plan is not None else {}
    for post in posts:
        primary = aliases.get(post.id) or matched.get(post.id)
        if primary is not None:
            merges.append((post, primary))
        else:
            own.append(post)
    return tuple(own), tuple(merges), plan.joins if plan is not None else ()


@dataclass(frozen=True, slots=True)
class Schedule:
    """When sources are fetched next: the site's interval, the backoff cap, and the instant the
    cycle began.  Due times count from the cycle's start, not from when a source's fetch ended:
    stamped a few milliseconds after the start, the next cycle would find the source not yet
    due and fetch it one interval late (every source at half the configured rate)."""

    interval_s: float
    max_backoff_s: float
    cycle_started: datetime


@dataclass(frozen=True, slots=True)
class Document:
    """What a fetched body became: its posts, or the reason it is not a feed (one English
    line, and the same as a kind and parameters for readers)."""

    posts: tuple[Post, ...] = ()
    error: str | None = None
    error_kind: ErrorKind | None = None
    error_params: ErrorParams = field(default_factory=dict)
    body_hash: str | None = None
    title: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """What the store holds that the decision needs: this source's posts by id (content hash,
    first seen), its posts recorded as aliases of other sources' stories, and other sources'
    stories that may be the same as one of the new posts."""

    known: Mapping[str, tuple[str, datetime]] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)
    candidates: tuple[StoryKey, ...] = ()
    keys: Mapping[str, tuple[str, str]] | None = None  # post id -> its story keys (dedupe)


NOTHING_PARSED = Document()
NOTHING_STORED = Stored()


def plan_update(
    state: SourceState,
    result: FetchResult,
    now: datetime,
    schedule: Schedule,
    document: Document = NOTHING_PARSED,
    stored: Stored = NOTHING_STORED,
    rng: random.Random | None = None,
) -> SourceUpdate:
    """The state to store and the posts to write after one fetch of one source.

    A document that is not a feed (``document.error``) turns an HTTP success into a failure of
    the source: a 200 that is not a feed is still a broken feed for its owner.  Validators
    (ETag, Last-Modified, body hash) are stored only from a response that parsed into a feed, so
    a later 304 can only ever confirm the last *good* state, never a broken one.
    """
    failed = result.status is FetchStatus.ERROR or document.error is not None
    moved: dict[str, Any] = {}
    if result.permanent_url and result.permanent_url != state.url:
        moved["url"] = result.permanent_url
    if result.http_status == 304 and not _sent_validators(result):
        failed = True
        document = replace(
            document, error=NO_VALIDATORS_304, error_kind=ErrorKind.NO_VALIDATORS_304
        )
    if failed or result.status is FetchStatus.GONE:
        base = replace(state, last_fetch=now, **moved)
        if result.status is FetchStatus.GONE:
            return SourceUpdate(state.source_id, _gone(base, result, now))
        return SourceUpdate(state.source_id, _failing(base, result, document, now, schedule, rng))
    # One ``replace`` for the whole healthy state: on a cycle where most sources answer 304
    # this is the work done per source, and each ``replace`` costs as much as the rest.
    healthy = {
        **moved,
        "last_fetch": now,
        "consecutive_failures": 0,
        "failing_since": None,
        "last_success": now,
        "next_fetch": schedule.cycle_started + timedelta(seconds=schedule.interval_s),
        **_caching(state, result, document.body_hash),
    }
    if result.status is FetchStatus.NOT_MODIFIED:
        return SourceUpdate(state.source_id, replace(state, **healthy))
    posts = [keep_first_seen(p, stored.known) for p in document.posts]
    to_write = changed_posts(posts, stored.known)
    own, merges, joins = split_duplicates(
        to_write, stored.known, stored.aliases, stored.candidates, stored.keys
    )
    healthy.update(
        entries_seen=len(posts),
        title=document.title or state.title,
        link=document.link or state.link,
    )
    return SourceUpdate(state.source_id, replace(state, **healthy), own, merges, joins)


NO_VALIDATORS_304 = "the server answered 304 Not Modified to a request without validators"


def _sent_validators(result: FetchResult) -> bool:
    """A 304 only means something as the answer to validators we sent.  (A 200 whose body
    hashes as the last good one is also "not modified", with its own status of 200.)"""
    return bool(result.request.etag or result.request.last_modified)


def _gone(base: SourceState, result: FetchResult, now: datetime) -> SourceState:
    return replace(
        base,
        gone=True,
        last_error=one_line(result.error or "HTTP 410 Gone: the publisher removed this feed"),
        last_error_kind=ErrorKind.GONE,
        last_error_params=result.error_params,
        last_error_at=now,
        next_fetch=None,
        consecutive_failures=base.consecutive_failures + 1,
        failing_since=base.failing_since or now,
    )


def _failing(
    base: SourceState,
    result: FetchResult,
    document: Document,
    now: datetime,
    schedule: Schedule,
    rng: random.Random | None,
) -> SourceState:
    """A failed fetch: back off, and keep the validators of the last good response."""
    failures = base.consecutive_failures + 1
    delay = backoff_delay(failures, schedule.interval_s, schedule.max_backoff_s, rng)
    next_fetch = schedule.cycle_started + timedelta(seconds=delay)
    if result.retry_after_s is not None:  # the server's own word counts from its answer
        next_fetch = max(next_fetch, now + timedelta(seconds=result.retry_after_s))
    error: str | None
    if document.error is not None:  # a 200 that is not a feed: the document says why
        error, kind, params = document.error, document.error_kind, document.error_params
    else:
        error, kind, params = result.error, result.error_kind, result.error_params
    return replace(
        base,
        consecutive_failures=failures,
        last_error=one_line(error or "unknown error"),
        last_error_kind=kind,
        last_error_params=params,
        last_error_at=now,
        failing_since=base.failing_since or now,
        next_fetch=next_fetch,
    )


def _caching(state: SourceState, result: FetchResult, body_hash: str | None) -> dict[str, Any]:
    """The validators to keep: verbatim, replaced only when the server sent new ones."""
    return {
        "etag": result.etag if result.etag is not None else state.etag,
        "last_modified": (
            result.last_modified if result.last_modified is not None else state.last_modified
        ),
        "body_hash": body_hash if body_hash is not None else state.body_hash,
    }


def failing_for(state: SourceState, now: datetime) -> timedelta | None:
    """How long the source has been failing, or None when it is healthy."""
    if state.failing_since is None:
        return None
    return now - state.failing_since

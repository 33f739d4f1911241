"""The pure update rules: backoff, moved and gone feeds, unchanged posts, kept validators."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from aggregator.ingest.decide import (
    Document,
    Schedule,
    Stored,
    backoff_delay,
    changed_posts,
    is_due,
    plan_update,
)
from aggregator.models import (
    ErrorKind,
    FetchRequest,
    FetchResult,
    FetchStatus,
    Post,
    SourceState,
)
from tests.stores import at_head

HOUR = 3600.0
DAY = 24 * HOUR


def _state(**kw: object) -> SourceState:
    base = SourceState(source_id="s", url="https://a.example/feed", etag='"v1"', last_modified="x")
    return replace(base, **kw)  # type: ignore[arg-type]


def _result(status: FetchStatus, **kw: object) -> FetchResult:
    req = FetchRequest("s", "https://a.example/feed", '"v1"', "x")
    return FetchResult(request=req, status=status, **kw)  # type: ignore[arg-type]


def _post(pid: str, h: str, now: datetime) -> Post:
    return Post(
        id=pid,
        source_id="s",
        guid=None,
        title="t",
        link="https://a.example/p",
        published=now,
        updated=now,
        first_seen=now,
        language="en",
        excerpt="",
        content_html="",
        content_hash=h,
    )


def _plan(  # type: ignore[no-untyped-def]
    state: SourceState,
    result: FetchResult,
    now: datetime,
    *,
    posts: list[Post] | None = None,
    known: dict[str, tuple[str, datetime]] | None = None,
    parse_error: str | None = None,
    started: datetime | None = None,
):
    schedule = Schedule(HOUR, DAY, started or now)
    document = Document(tuple(posts or ()), parse_error)
    return plan_update(state, result, now, schedule, document, Stored(known or {}))


def test_success_schedules_the_next_fetch_one_interval_later(now: datetime) -> None:
    update = _plan(_state(consecutive_failures=3, failing_since=now), _result(FetchStatus.OK), now)
    assert update.state.next_fetch == now + timedelta(hours=1)
    assert update.state.consecutive_failures == 0
    assert update.state.failing_since is None
    assert update.state.last_success == now


def test_validators_are_kept_unless_the_server_sends_new_ones(now: datetime) -> None:
    kept = _plan(_state(), _result(FetchStatus.NOT_MODIFIED), now).state
    assert (kept.etag, kept.last_modified) == ('"v1"', "x")
    new = _plan(_state(), _result(FetchStatus.OK, etag='"v2"'), now).state
    assert (new.etag, new.last_modified) == ('"v2"', "x")


def test_errors_back_off_exponentially_capped_at_a_day_and_never_drop(now: datetime) -> None:
    delays = [backoff_delay(n, HOUR, DAY) for n in range(1, 12)]
    assert delays[:4] == [HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR]
    assert max(delays) == DAY and delays[-1] == DAY
    state = _state()
    for _ in range(20):
        state = _plan(state, _result(FetchStatus.ERROR, error="HTTP 500"), now).state
    assert state.consecutive_failures == 20
    assert state.next_fetch == now + timedelta(days=1)
    assert state.last_error == "HTTP 500" and not state.gone


def test_jitter_stays_within_ten_percent_and_under_the_cap() -> None:
    rng = random.Random(7)
    for n in range(1, 8):
        d = backoff_delay(n, HOUR, DAY, rng)
        base = min(HOUR * 2 ** (n - 1), DAY)
        assert 0.9 * base <= d <= min(1.1 * base, DAY)


def test_retry_after_wins_when_later_than_the_backoff(now: datetime) -> None:
    update = _plan(
        _state(), _result(FetchStatus.ERROR, error="HTTP 429", retry_after_s=5 * HOUR), now
    )
    assert update.state.next_fetch == now + timedelta(hours=5)


def test_gone_stops_fetching(now: datetime) -> None:
    state = _plan(_state(), _result(FetchStatus.GONE, http_status=410), now).state
    assert state.gone and state.next_fetch is None
    assert not is_due(state, now + timedelta(days=365))


def test_a_permanent_redirect_moves_the_stored_url(now: datetime) -> None:
    result = _result(FetchStatus.OK, permanent_url="https://b.example/feed")
    assert _plan(_state(), result, now).state.url == "https://b.example/feed"
    temporary = _result(FetchStatus.OK, final_url="https://c.example/feed")
    assert _plan(_state(), temporary, now).state.url == "https://a.example/feed"


def test_a_parse_error_is_a_failure_of_the_source(now: datetime) -> None:
    update = _plan(_state(), _result(FetchStatus.OK, etag='"v9"'), now, parse_error="not a feed")
    assert update.state.consecutive_failures == 1
    assert update.state.last_error == "not a feed"
    assert update.state.etag == '"v1"'  # the broken document's validators are not kept
    assert update.posts == ()


def test_a_304_after_a_failure_confirms_only_the_last_good_state(now: datetime) -> None:
    broken = _plan(_state(), _result(FetchStatus.OK, etag='"bad"'), now, parse_error="not a feed")
    later = now + timedelta(hours=1)
    again = _plan(broken.state, _result(FetchStatus.NOT_MODIFIED), later).state
    assert again.etag == '"v1"' and again.consecutive_failures == 0  # v1 parsed: truly healthy
    never_good = _state(etag=None, last_modified=None)
    request = FetchRequest("s", "https://a.example/feed", None, None)
    bogus = FetchResult(request=request, status=FetchStatus.NOT_MODIFIED, http_status=304)
    state = _plan(never_good, bogus, later).state
    assert state.consecutive_failures == 1 and "without validators" in (state.last_error or "")


def test_due_times_count_from_the_cycle_start(now: datetime) -> None:
    finished = now + timedelta(seconds=3)  # the fetch ended a few seconds into the cycle
    ok = _plan(_state(), _result(FetchStatus.OK), finished, started=now).state
    assert ok.next_fetch == now + timedelta(hours=1)
    assert is_due(ok, now + timedelta(hours=1))  # the next cycle, one interval later, fetches it
    failing = _plan(_state(), _result(FetchStatus.ERROR, error="x"), finished, started=now).state
    assert failing.next_fetch == now + timedelta(hours=1)


def test_only_new_or_changed_posts_are_written(now: datetime) -> None:
    posts = [_post("a", "h1", now), _post("b", "h2", now), _post("c", "h3", now)]
    known = {"a": ("h1", now), "b": ("old", now)}
    assert [p.id for p in changed_posts(posts, known)] == ["b", "c"]
    update = _plan(_state(), _result(FetchStatus.OK), now, posts=posts, known=known)
    assert [p.id for p in update.posts] == ["b", "c"]
    assert update.state.entries_seen == 3


def test_a_dateless_post_keeps_its_first_sight_as_its_date(now: datetime) -> None:
    first = now - timedelta(days=3)
    fallback = _post("a", "h2", now)  # normalise stamped it with this fetch's time
    update = _plan(
        _state(), _result(FetchStatus.OK), now, posts=[fallback], known={"a": ("h1", first)}
    )
    assert update.posts[0].published == first
    assert update.posts[0].first_seen == first


def test_a_digest_window_closes_where_a_running_cycle_began(tmp_path: Path, now: datetime) -> None:
    from aggregator.jobs import digest_now
    from aggregator.store import open_store

    store = open_store(at_head(f"sqlite:///{tmp_path / 'db.sqlite3'}"))
    try:
        assert digest_now(store, lambda: now) == now
        started = now - timedelta(minutes=5)
        assert store.acquire_lock("cycle", "other", started, 3600) is None
        assert digest_now(store, lambda: now) == started
        store.release_lock("cycle", "other")
        assert digest_now(store, lambda: now) == now
    finally:
        store.close()


def test_a_failure_keeps_its_kind_and_parameters_beside_the_sentence(now: datetime) -> None:
    fetch_failed = _result(
        FetchStatus.ERROR,
        error="HTTP 503 Service Unavailable",
        error_kind=ErrorKind.HTTP_STATUS,
        error_params={"status": 503},
    )
    state = _plan(_state(), fetch_failed, now).state
    assert (state.last_error, state.last_error_kind, state.last_error_params) == (
        "HTTP 503 Service Unavailable",
        ErrorKind.HTTP_STATUS,
        {"status": 503},
    )
    schedule = Schedule(HOUR, DAY, now)
    page = Document(
        error="not a feed: this is an HTML page and it advertises no feed",
        error_kind=ErrorKind.NOT_A_FEED,
        error_params={"page": "html"},
    )
    state = plan_update(_state(), _result(FetchStatus.OK), now, schedule, page).state
    assert (state.last_error_kind, state.last_error_params) == (
        ErrorKind.NOT_A_FEED,
        {"page": "html"},
    )
    gone = _result(FetchStatus.GONE, error="HTTP 410 Gone", error_params={"status": 410})
    assert _plan(_state(), gone, now).state.last_error_kind is ErrorKind.GONE
    request = FetchRequest("s", "https://a.example/feed", None, None)
    bogus = FetchResult(request=request, status=FetchStatus.NOT_MODIFIED, http_status=304)
    state = _plan(_state(etag=None, last_modified=None), bogus, now).state
    assert state.last_error_kind is ErrorKind.NO_VALIDATORS_304

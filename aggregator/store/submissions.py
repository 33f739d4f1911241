"""Member submissions waiting for review, the owner notices already sent, and per-source
activity counts for the public health page.

Submissions get small integer ids because an operator types them (``feeds approve 12``).  A
decision is one conditional UPDATE from ``pending``: two moderators (the web page and the
command line) acting on the same submission at once cannot both win.

``source_notices`` keeps, per source, the last condition its contact was told about.  Sending
one e-mail per *change* of condition (not one per failed fetch) needs exactly that memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from aggregator.store.schema import posts, source_notices, sources, submissions

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
SUBMISSION_STATES = (PENDING, APPROVED, REJECTED)


@dataclass(frozen=True, slots=True)
class NewSubmission:
    """What a member submitted, after the same checks as ``feeds add`` passed."""

    url: str  # what the member typed
    feed_url: str  # the feed discovery found
    organisation: str
    contact: str
    language: str
    preview_json: str  # the preview the member confirmed, as JSON (title, format, entries…)
    form_language: str | None = None  # the language the member read the form in


@dataclass(frozen=True, slots=True)
class Submission:
    id: int
    url: str
    feed_url: str
    organisation: str
    contact: str
    language: str
    preview_json: str
    state: str  # pending, approved or rejected
    reason: str | None
    created: datetime
    decided: datetime | None
    source_id: str | None  # the feeds.yaml id it was approved as
    form_language: str | None = None  # the language the member read the form in


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """Posts of one source first seen since a date, and when its newest post was first seen."""

    source_id: str
    configured: bool
    posts_since: int
    last_post: datetime | None


def _submission(row: Row[Any]) -> Submission:
    return Submission(
        id=int(row.id),
        url=row.url,
        feed_url=row.feed_url,
        organisation=row.organisation,
        contact=row.contact,
        language=row.language,
        preview_json=row.preview,
        state=row.state,
        reason=row.reason,
        created=row.created,
        decided=row.decided,
        source_id=row.source_id,
        form_language=row.form_language,
    )


def add_submission(conn: Connection, new: NewSubmission, now: datetime) -> int:
    """Queue ``new``; when the same feed is already pending, that submission's id instead.

    The unique index over pending rows (revision 0008) decides, so two confirmations racing
    each other cannot both queue a copy; the losing insert is undone in its savepoint.
    """
    waiting = pending_with_feed(conn, new.feed_url)
    if waiting is not None:
        return waiting.id
    try:
        with conn.begin_nested():
            return _insert_submission(conn, new, now)
    except IntegrityError:
        waiting = pending_with_feed(conn, new.feed_url)
        if waiting is None:
            raise
        return waiting.id


def _insert_submission(conn: Connection, new: NewSubmission, now: datetime) -> int:
    result = conn.execute(
        insert(submissions)
        .values(
            url=new.url,
            feed_url=new.feed_url,
            organisation=new.organisation,
            contact=new.contact,
            language=new.language,
            preview=new.preview_json,
            form_language=new.form_language,
            state=PENDING,
            created=now,
        )
        .returning(submissions.c.id)
    )
    return int(result.scalar_one())


def get_submission(conn: Connection, submission_id: int) -> Submission | None:
    row = conn.execute(select(submissions).where(submissions.c.id == submission_id)).first()
    return None if row is None else _submission(row)


def list_submissions(conn: Connection, state: str | None, limit: int) -> list[Submission]:
    query = select(submissions).order_by(submissions.c.id).limit(limit)
    if state is not None:
        query = query.where(submissions.c.state == state)
    return [_submission(row) for row in conn.execute(query)]


def pending_with_feed(conn: Connection, feed_url: str) -> Submission | None:
    row = conn.execute(
        select(submissions)
        .where(submissions.c.state == PENDING, submissions.c.feed_url == feed_url)
        .limit(1)
    ).first()
    return None if row is None else _submission(row)


def decide_submission(
    conn: Connection,
    submission_id: int,
    state: str,
    now: datetime,
    *,
    reason: str | None,
    source_id: str | None,
) -> bool:
    """pending -> approved/rejected; False when it was not pending (decided by someone else)."""
    if state not in (APPROVED, REJECTED):
        raise ValueError(f"not a decision: {state!r}")
    result = conn.execute(
        update(submissions)
        .where(submissions.c.id == submission_id, submissions.c.state == PENDING)
        .values(state=state, reason=reason, decided=now, source_id=source_id)
    )
    return result.rowcount == 1


def last_notices(conn: Connection) -> dict[str, str]:
    rows = conn.execute(select(source_notices.c.source_id, source_notices.c.condition))
    return {row.source_id: row.condition for row in rows}


def record_notice(conn: Connection, source_id: str, condition: str, now: datetime) -> None:
    changed = conn.execute(
        update(source_notices)
        .where(source_notices.c.source_id == source_id)
        .values(condition=condition, notified=now)
    )
    if changed.rowcount == 0:
        conn.execute(
            insert(source_notices).values(source_id=source_id, condition=condition, notified=now)
        )


def source_activity(conn: Connection, since: datetime) -> dict[str, SourceActivity]:
    """Per source: posts first seen after ``since`` and the newest first_seen (two GROUP BYs)."""
    recent: Mapping[str, int] = {
        row.source_id: int(row.n)
        for row in conn.execute(
            select(posts.c.source_id, func.count().label("n"))
            .where(posts.c.first_seen > since)
            .group_by(posts.c.source_id)
        )
    }
    newest: Mapping[str, Any] = {
        row.source_id: row.last
        for row in conn.execute(
            select(posts.c.source_id, func.max(posts.c.first_seen).label("last")).group_by(
                posts.c.source_id
            )
        )
    }
    out: dict[str, SourceActivity] = {}
    for row in conn.execute(select(sources.c.id, sources.c.configured)):
        last = newest.get(row.id)
        out[row.id] = SourceActivity(
            source_id=row.id,
            configured=bool(row.configured),
            posts_since=recent.get(row.id, 0),
            last_post=_as_datetime(last),
        )
    return out


def _as_datetime(value: Any) -> datetime | None:
    """``max()`` over the UTCDateTime column skips its result processing: convert here."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))

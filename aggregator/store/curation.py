"""Staff's choices for one issue of an edition, kept in the store (``edition_curation``).

An issue is named by its edition and the start of its window (``newsletter.curation.issue_key``):
the start is fixed from the moment the previous issue went out, while the end keeps moving
until the issue is recorded by a preview or a send.  So the console can curate the next issue
without freezing its window, the CLI's ``digest preview`` and ``send`` and the scheduler read
the same row, a restart changes nothing, and the issue after it, with a new start, begins with
no row at all: no note, subject or exclusion carries over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from aggregator.store.schema import edition_curation

__all__ = ["Curation", "due_curations", "get_curation", "save_curation"]


@dataclass(frozen=True, slots=True)
class Curation:
    issue: str  # newsletter.curation.issue_key(edition, window_start)
    edition: str
    excluded: tuple[str, ...] = ()  # post ids left out of this issue
    featured: str | None = None  # the post shown first, under its own heading
    ordering: tuple[str, ...] = ()  # post ids in the order staff set; empty: the default order
    note: str = ""  # the editorial note of this issue only
    subject: str | None = None  # this issue's subject; None: the edition's template
    send_at: datetime | None = None  # a scheduled send, None when not scheduled
    updated: datetime | None = None
    actor: str = ""


def _curation(row: Row[Any]) -> Curation:
    return Curation(
        issue=row.issue,
        edition=row.edition,
        excluded=tuple(json.loads(row.excluded)),
        featured=row.featured,
        ordering=tuple(json.loads(row.ordering)),
        note=row.note,
        subject=row.subject,
        send_at=row.send_at,
        updated=row.updated,
        actor=row.actor,
    )


def get_curation(conn: Connection, issue: str) -> Curation | None:
    row = conn.execute(select(edition_curation).where(edition_curation.c.issue == issue)).first()
    return None if row is None else _curation(row)


def save_curation(conn: Connection, curation: Curation) -> None:
    values = {
        "edition": curation.edition,
        "excluded": json.dumps(list(curation.excluded)),
        "featured": curation.featured,
        "ordering": json.dumps(list(curation.ordering)),
        "note": curation.note,
        "subject": curation.subject,
        "send_at": curation.send_at,
        "updated": curation.updated,
        "actor": curation.actor,
    }
    changed = conn.execute(
        update(edition_curation).where(edition_curation.c.issue == curation.issue).values(**values)
    )
    if changed.rowcount == 0:
        conn.execute(insert(edition_curation).values(issue=curation.issue, **values))


def due_curations(conn: Connection, now: datetime) -> list[Curation]:
    """Issues whose scheduled send time has come (the caller checks each is still the draft)."""
    rows = conn.execute(
        select(edition_curation)
        .where(edition_curation.c.send_at.is_not(None), edition_curation.c.send_at <= now)
        .order_by(edition_curation.c.send_at)
    )
    return [_curation(row) for row in rows]

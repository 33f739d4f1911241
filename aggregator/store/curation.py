"""Staff's choices for one issue of an edition, stored beside it (``edition_curation``).

The row is keyed by the edition's id, which is fixed once the issue is recorded (a preview or
the console's first look records it): the CLI's ``digest preview`` and ``send`` and the console
read the same row, a restart changes nothing, and the next issue, a new edition id, starts
with no row at all, so no note, subject or exclusion carries over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from aggregator.store.schema import edition_curation, editions

__all__ = ["Curation", "due_curations", "get_curation", "save_curation"]


@dataclass(frozen=True, slots=True)
class Curation:
    edition_id: str
    excluded: tuple[str, ...] = ()  # post ids left out of this issue
    featured: str | None = None  # the post shown first, under its own heading
    ordering: tuple[str, ...] = ()  # post ids in the order staff set; empty: the default order
    note: str = ""  # the editorial note of this issue only
    subject: str | None = None  # this subject; None: the edition's template
    send_at: datetime | None = None  # scheduled send, None when not scheduled
    updated: datetime | None = None
    actor: str = ""


def _curation(row: Row[Any]) -> Curation:
    return Curation(
        edition_id=row.edition_id,
        excluded=tuple(json.loads(row.excluded)),
        featured=row.featured,
        ordering=tuple(json.loads(row.ordering)),
        note=row.note,
        subject=row.subject,
        send_at=row.send_at,
        updated=row.updated,
        actor=row.actor,
    )


def get_curation(conn: Connection, edition_id: str) -> Curation | None:
    row = conn.execute(
        select(edition_curation).where(edition_curation.c.edition_id == edition_id)
    ).first()
    return None if row is None else _curation(row)


def save_curation(conn: Connection, curation: Curation) -> None:
    values = {
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
        update(edition_curation)
        .where(edition_curation.c.edition_id == curation.edition_id)
        .values(**values)
    )
    if changed.rowcount == 0:
        conn.execute(insert(edition_curation).values(edition_id=curation.edition_id, **values))


def due_curations(conn: Connection, now: datetime) -> list[tuple[str, Curation]]:
    """(edition name, curation) of unsent issues whose scheduled send time has come."""
    rows = conn.execute(
        select(editions.c.name, edition_curation)
        .join(editions, editions.c.id == edition_curation.c.edition_id)
        .where(edition_curation.c.send_at.is_not(None), edition_curation.c.send_at <= now)
        .where(editions.c.sent.is_(False))
    )
    return [(row.name, _curation(row)) for row in rows]

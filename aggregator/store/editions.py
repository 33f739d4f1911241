"""The digest ledger: editions and, per edition, where each recipient's message stands.

The recipient rows are what make delivery at-most-once: a sender must *claim* a row (one
conditional UPDATE that only one process can win) before it talks to the SMTP server, so two
senders racing over the same edition never mail the same address twice.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, insert, select, text, update
from sqlalchemy.engine import Connection

from aggregator.models import EditionRecord, RecipientState, RecipientStatus
from aggregator.store.schema import editions, recipients

_CLAIMABLE = (RecipientState.PENDING.value, RecipientState.FAILED.value)


def _edition_values(edition: EditionRecord) -> dict[str, Any]:
    return {
        "name": edition.name,
        "window_start": edition.window_start,
        "window_end": edition.window_end,
        "created": edition.created,
        "post_ids": json.dumps(list(edition.post_ids), ensure_ascii=False),
        "subject": edition.subject,
        "html_path": edition.html_path,
        "text_path": edition.text_path,
        "eml_path": edition.eml_path,
        "sent": edition.sent,
        "notes": json.dumps(list(edition.notes), ensure_ascii=False),
    }


def _edition(row: Row[Any]) -> EditionRecord:
    return EditionRecord(
        id=row.id,
        name=row.name,
        window_start=row.window_start,
        window_end=row.window_end,
        created=row.created,
        post_ids=tuple(json.loads(row.post_ids)),
        subject=row.subject,
        html_path=row.html_path,
        text_path=row.text_path,
        eml_path=row.eml_path,
        sent=bool(row.sent),
        notes=tuple(json.loads(row.notes)),
    )


def _newest(query: Select[Any]) -> Select[Any]:
    return query.order_by(
        editions.c.created.desc(), editions.c.window_end.desc(), editions.c.id.desc()
    )


def last_edition(conn: Connection, name: str) -> EditionRecord | None:
    row = conn.execute(_newest(select(editions).where(editions.c.name == name)).limit(1)).first()
    return None if row is None else _edition(row)


def get_edition(conn: Connection, edition_id: str) -> EditionRecord | None:
    row = conn.execute(select(editions).where(editions.c.id == edition_id)).first()
    return None if row is None else _edition(row)


def list_editions(conn: Connection, limit: int) -> list[EditionRecord]:
    if limit <= 0:
        return []
    return [_edition(row) for row in conn.execute(_newest(select(editions)).limit(limit))]


def save_edition(conn: Connection, edition: EditionRecord, addresses: Sequence[str]) -> None:
    """Upsert the edition in place (an UPDATE, never delete-and-insert, so its recipient rows
    and their states survive) and add unseen addresses as PENDING at the end of the list."""
    values = _edition_values(edition)
    result = conn.execute(update(editions).where(editions.c.id == edition.id).values(values))
    if result.rowcount == 0:
        conn.execute(insert(editions).values(id=edition.id, **values))
    _add_recipients(conn, edition.id, addresses)


def _add_recipients(conn: Connection, edition_id: str, addresses: Sequence[str]) -> None:
    """Unseen addresses join the edition's ledger as PENDING, after those already there."""
    present = {
        row.address
        for row in conn.execute(
            select(recipients.c.address).where(recipients.c.edition_id == edition_id)
        )
    }
    unseen = [a for a in dict.fromkeys(addresses) if a not in present]
    if not unseen:
        return
    last = conn.execute(
        select(func.max(recipients.c.position)).where(recipients.c.edition_id == edition_id)
    ).scalar_one()
    start = 0 if last is None else int(last) + 1
    conn.execute(
        insert(recipients),
        [
            {
                "edition_id": edition_id,
                "address": address,
                "position": start + i,
                "state": RecipientState.PENDING.value,
                "message_id": None,
                "error": None,
                "updated": None,
            }
            for i, address in enumerate(unseen)
        ],
    )


def open_edition(
    conn: Connection, edition: EditionRecord, addresses: Sequence[str], based_on: str | None
) -> bool:
    """Record the edition a preview or a send is about to work on, unless the ledger moved.

    ``based_on`` is the id of the newest edition of that name when the caller read it (None:
    there was none).  Nothing is written, and False comes back, when another edition has been
    recorded since, or when this edition is already sent: a slow preview that read the ledger
    before a send started can then neither add a second window over the same posts nor turn
    the sent edition back to unsent.  ``sent`` is never written here.  One transaction, taken
    in turns per edition name (SQLite's write lock; an advisory lock on PostgreSQL).
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"edition:{edition.name}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    current = last_edition(conn, edition.name)
    if (current.id if current is not None else None) != based_on:
        return False
    existing = get_edition(conn, edition.id)
    if existing is not None and existing.sent:
        return False
    values = _edition_values(edition)
    if existing is None:
        conn.execute(insert(editions).values(id=edition.id, **{**values, "sent": False}))
    else:
        del values["sent"]
        conn.execute(update(editions).where(editions.c.id == edition.id).values(values))
    _add_recipients(conn, edition.id, addresses)
    return True


def list_recipients(conn: Connection, edition_id: str) -> list[RecipientStatus]:
    query = (
        select(recipients)
        .where(recipients.c.edition_id == edition_id)
        .order_by(recipients.c.position, recipients.c.address)
    )
    return [
        RecipientStatus(
            edition_id=row.edition_id,
            address=row.address,
            state=RecipientState(row.state),
            message_id=row.message_id,
            error=row.error,
            updated=row.updated,
        )
        for row in conn.execute(query)
    ]


def claim_recipient(conn: Connection, edition_id: str, address: str, now: datetime) -> bool:
    """One conditional UPDATE: whoever changes the row owns the delivery."""
    result = conn.execute(
        update(recipients)
        .where(
            recipients.c.edition_id == edition_id,
            recipients.c.address == address,
            recipients.c.state.in_(_CLAIMABLE),
        )
        .values(state=RecipientState.SENDING.value, updated=now)
    )
    return result.rowcount == 1


def mark_recipient(
    conn: Connection,
    edition_id: str,
    address: str,
    state: RecipientState,
    now: datetime,
    *,
    message_id: str | None,
    error: str | None,
) -> None:
    """Record a delivery's outcome.  ``error`` is always overwritten (a success clears an old
    failure); ``message_id`` only when given, so a later failure keeps the id that was sent."""
    values: dict[str, Any] = {"state": RecipientState(state).value, "updated": now, "error": error}
    if message_id is not None:
        values["message_id"] = message_id
    result = conn.execute(
        update(recipients)
        .where(recipients.c.edition_id == edition_id, recipients.c.address == address)
        .values(values)
    )
    if result.rowcount == 0:
        last = conn.execute(
            select(func.max(recipients.c.position)).where(recipients.c.edition_id == edition_id)
        ).scalar_one()
        conn.execute(
            insert(recipients).values(
                edition_id=edition_id,
                address=address,
                position=0 if last is None else int(last) + 1,
                **{"message_id": message_id, **values},
            )
        )

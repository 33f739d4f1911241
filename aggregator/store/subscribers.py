"""The subscriber list, each subscriber's history, and the suppression list.

The store keeps records and writes what it is handed: whether a change is allowed (a bounced
address confirming again, an import touching someone who left) is decided by
``aggregator.subscribers.rules`` before anything reaches here.  A subscriber and the events
that explain a change are written in one transaction, so the history never disagrees with the
status.

Forgetting (GDPR art. 17) deletes the row and its events (``ON DELETE CASCADE``) and keeps only
the SHA-256 of the case-folded address in ``suppressions``.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from aggregator.store.schema import recipients, subscriber_events, subscribers, suppressions


class Status(StrEnum):
    PENDING = "pending"  # signed up, not confirmed yet
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    COMPLAINED = "complained"


@dataclass(frozen=True, slots=True)
class Consent:
    """How the person agreed: ``web`` (the form), ``import`` or ``staff``; the version of the
    form's text they saw; when; a staff note (where an import's list came from)."""

    method: str
    version: str
    at: datetime
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int  # 0 before it is stored
    address: str
    language: str
    editions: tuple[str, ...]
    status: Status
    nonce: str  # in every token mailed to this person; a new one voids the old links
    created: datetime
    changed: datetime
    consent: Consent
    confirmed: datetime | None = None
    confirm_sent: datetime | None = None

    @property
    def key(self) -> str:
        return address_key(self.address)


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a subscriber's history (``kind``: subscribed, confirmed, preferences,
    unsubscribed, soft_bounce, hard_bounce, complaint, imported, added, removed…)."""

    kind: str
    at: datetime
    edition_id: str | None = None
    detail: str | None = None


def address_key(address: str) -> str:
    """The one spelling lookups use: trimmed and case-folded."""
    return address.strip().casefold()


def _values(sub: Subscriber) -> dict[str, Any]:
    return {
        "address": sub.address,
        "address_key": sub.key,
        "language": sub.language,
        "editions": json.dumps(list(sub.editions)),
        "status": sub.status.value,
        "nonce": sub.nonce,
        "created": sub.created,
        "changed": sub.changed,
        "confirmed": sub.confirmed,
        "confirm_sent": sub.confirm_sent,
        "consent_method": sub.consent.method,
        "consent_version": sub.consent.version,
        "consent_at": sub.consent.at,
        "consent_note": sub.consent.note,
    }


def _record(row: Row[Any]) -> Subscriber:
    return Subscriber(
        id=int(row.id),
        address=row.address,
        language=row.language,
        editions=tuple(json.loads(row.editions)),
        status=Status(row.status),
        nonce=row.nonce,
        created=row.created,
        changed=row.changed,
        consent=Consent(row.consent_method, row.consent_version, row.consent_at, row.consent_note),
        confirmed=row.confirmed,
        confirm_sent=row.confirm_sent,
    )


def get_subscriber(conn: Connection, subscriber_id: int) -> Subscriber | None:
    row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
    return None if row is None else _record(row)


def find_subscriber(conn: Connection, address: str) -> Subscriber | None:
    query = select(subscribers).where(subscribers.c.address_key == address_key(address))
    row = conn.execute(query).first()
    return None if row is None else _record(row)


def list_subscribers(
    conn: Connection,
    *,
    statuses: Collection[Status] = (),
    search: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Subscriber]:
    """By id (signup order); ``search`` is a case-insensitive part of the address."""
    query = select(subscribers).order_by(subscribers.c.id)
    if statuses:
        query = query.where(subscribers.c.status.in_([s.value for s in statuses]))
    if search:
        escaped = search.casefold().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(subscribers.c.address_key.like(f"%{escaped}%", escape="\\"))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [_record(row) for row in conn.execute(query)]


def count_subscribers(conn: Connection) -> dict[Status, int]:
    query = select(subscribers.c.status, func.count()).group_by(subscribers.c.status)
    return {Status(status): int(n) for status, n in conn.execute(query)}


def save_subscriber(conn: Connection, sub: Subscriber, events: Sequence[Event]) -> Subscriber:
    """Insert (``id`` 0) or update the subscriber and append ``events``; the stored record."""
    values = _values(sub)
    if sub.id:
        conn.execute(update(subscribers).where(subscribers.c.id == sub.id).values(values))
        ident = sub.id
    else:
        inserted = conn.execute(insert(subscribers).values(values)).inserted_primary_key
        assert inserted is not None
        ident = int(inserted[0])
    if events:
        conn.execute(
            insert(subscriber_events),
            [
                {
                    "subscriber_id": ident,
                    "kind": e.kind,
                    "at": e.at,
                    "edition_id": e.edition_id,
                    "detail": e.detail,
                }
                for e in events
            ],
        )
    stored = get_subscriber(conn, ident)
    assert stored is not None
    return stored


def subscriber_events_of(conn: Connection, subscriber_id: int) -> list[Event]:
    query = (
        select(subscriber_events)
        .where(subscriber_events.c.subscriber_id == subscriber_id)
        .order_by(subscriber_events.c.at, subscriber_events.c.id)
    )
    return [Event(r.kind, r.at, r.edition_id, r.detail) for r in conn.execute(query)]


def delete_subscriber(conn: Connection, subscriber_id: int) -> None:
    """The row and, in the same statement's cascade, its events (explicitly, for SQLite
    connections opened without foreign keys)."""
    conn.execute(
        delete(subscriber_events).where(subscriber_events.c.subscriber_id == subscriber_id)
    )
    conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One edition's ledger row for an address: what a GDPR export lists."""

    edition_id: str
    state: str
    updated: datetime | None
    message_id: str | None


def deliveries(conn: Connection, address: str) -> list[Delivery]:
    query = (
        select(recipients)
        .where(func.lower(recipients.c.address) == address_key(address))
        .order_by(recipients.c.edition_id)
    )
    return [Delivery(r.edition_id, r.state, r.updated, r.message_id) for r in conn.execute(query)]


def scrub_deliveries(conn: Connection, address: str, replacement: str) -> int:
    """Replace the address in the digest ledger (erasure keeps the counts, not the person)."""
    result = conn.execute(
        update(recipients)
        .where(func.lower(recipients.c.address) == address_key(address))
        .values(address=replacement)
    )
    return int(result.rowcount or 0)


def suppress(conn: Connection, address_hash: str, reason: str, now: datetime) -> None:
    """Record (or refresh) a suppression; the first reason is kept."""
    found = conn.execute(
        select(suppressions.c.address_hash).where(suppressions.c.address_hash == address_hash)
    ).first()
    if found is None:
        conn.execute(insert(suppressions).values(address_hash=address_hash, reason=reason, at=now))


def unsuppress(conn: Connection, address_hash: str) -> None:
    conn.execute(delete(suppressions).where(suppressions.c.address_hash == address_hash))


def suppressed(conn: Connection, hashes: Collection[str]) -> dict[str, str]:
    """Of ``hashes``, those suppressed -> the reason."""
    found: dict[str, str] = {}
    wanted = list(dict.fromkeys(hashes))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(suppressions.c.address_hash, suppressions.c.reason).where(
            or_(suppressions.c.address_hash.in_(chunk))
        )
        found.update((str(h), str(r)) for h, r in conn.execute(query))
    return found

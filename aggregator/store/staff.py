"""Staff accounts and the audit log: who may sign in to the console, and what they did.

An account's e-mail address is its name, kept lower case so ``Ana@x`` and ``ana@x`` are one
account.  A wrong password is one conditional UPDATE (``failures`` + 1 and the new
``locked_until``), so two wrong guesses racing on two workers both count.  The audit log is
append-only: the console shows it, nothing edits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.engine import Connection

from aggregator.store.schema import accounts, audit_log, subscriber_events, subscribers

BOUNCE_KINDS = ("hard_bounce", "soft_bounce", "complaint")

__all__ = [
    "BOUNCE_KINDS",
    "Account",
    "AuditEntry",
    "Bounce",
    "add_account",
    "audit",
    "audit_entries",
    "find_account",
    "list_accounts",
]


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    email: str
    role: str
    password_hash: str
    language: str
    failures: int
    locked_until: datetime | None
    created: datetime
    last_login: datetime | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str  # e.g. post.hide, source.disable, submission.approve, edition.send
    target: str
    reason: str


@dataclass(frozen=True, slots=True)
class Bounce:
    """A bounce or complaint the subscriber list recorded (``subscribers.bounces``)."""

    at: datetime
    address: str
    kind: str  # hard_bounce, soft_bounce or complaint
    edition_id: str | None
    detail: str | None


def bounces(conn: Connection, edition_id: str | None, limit: int) -> list[Bounce]:
    """Newest first: of one edition, or of all."""
    query = (
        select(subscriber_events, subscribers.c.address)
        .join(subscribers, subscribers.c.id == subscriber_events.c.subscriber_id)
        .where(subscriber_events.c.kind.in_(BOUNCE_KINDS))
        .order_by(subscriber_events.c.at.desc(), subscriber_events.c.id.desc())
        .limit(limit)
    )
    if edition_id is not None:
        query = query.where(subscriber_events.c.edition_id == edition_id)
    rows = conn.execute(query)
    return [Bounce(r.at, r.address, r.kind, r.edition_id, r.detail) for r in rows]


def _account(row: Row[Any]) -> Account:
    return Account(
        id=int(row.id),
        email=row.email,
        role=row.role,
        password_hash=row.password_hash,
        language=row.language,
        failures=int(row.failures),
        locked_until=row.locked_until,
        created=row.created,
        last_login=row.last_login,
    )


def add_account(
    conn: Connection, email: str, role: str, password_hash: str, language: str, now: datetime
) -> int:
    result = conn.execute(
        insert(accounts)
        .values(
            email=email.strip().lower(),
            role=role,
            password_hash=password_hash,
            language=language,
            created=now,
        )
        .returning(accounts.c.id)
    )
    return int(result.scalar_one())


def find_account(
    conn: Connection, *, email: str | None = None, ident: int | None = None
) -> Account | None:
    query = select(accounts)
    if email is not None:
        query = query.where(accounts.c.email == email.strip().lower())
    if ident is not None:
        query = query.where(accounts.c.id == ident)
    row = conn.execute(query.limit(1)).first()
    return None if row is None else _account(row)


def list_accounts(conn: Connection) -> list[Account]:
    return [_account(r) for r in conn.execute(select(accounts).order_by(accounts.c.email))]


def count_accounts(conn: Connection) -> int:
    return len(conn.execute(select(accounts.c.id)).all())


def record_failure(
    conn: Connection, ident: int, expected_failures: int, locked_until: datetime | None
) -> bool:
    """Count one wrong password; False when another request counted one meanwhile."""
    result = conn.execute(
        update(accounts)
        .where(accounts.c.id == ident, accounts.c.failures == expected_failures)
        .values(failures=expected_failures + 1, locked_until=locked_until)
    )
    return result.rowcount == 1


def record_login(conn: Connection, ident: int, now: datetime, new_hash: str | None) -> None:
    values: dict[str, Any] = {"failures": 0, "locked_until": None, "last_login": now}
    if new_hash is not None:
        values["password_hash"] = new_hash
    conn.execute(update(accounts).where(accounts.c.id == ident).values(**values))


def update_account(conn: Connection, ident: int, **values: Any) -> bool:
    """Set ``role``, ``language`` or ``password_hash`` (a new password also clears the lockout)."""
    allowed = {k: v for k, v in values.items() if k in ("role", "language", "password_hash")}
    if "password_hash" in allowed:
        allowed.update(failures=0, locked_until=None)
    result = conn.execute(update(accounts).where(accounts.c.id == ident).values(**allowed))
    return result.rowcount == 1


def remove_account(conn: Connection, ident: int) -> bool:
    return conn.execute(delete(accounts).where(accounts.c.id == ident)).rowcount == 1


def audit(conn: Connection, entry: AuditEntry) -> None:
    conn.execute(
        insert(audit_log).values(
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            reason=entry.reason,
        )
    )


def audit_entries(
    conn: Connection, target: str | None, limit: int, kind: str | None = None
) -> list[AuditEntry]:
    """Newest first; ``target`` one thing (``post:ID``), ``kind`` one kind of action (``post``)."""
    query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
    if target is not None:
        query = query.where(audit_log.c.target == target)
    if kind is not None:
        query = query.where(audit_log.c.action.startswith(kind + ".", autoescape=True))
    return [AuditEntry(r.at, r.actor, r.action, r.target, r.reason) for r in conn.execute(query)]

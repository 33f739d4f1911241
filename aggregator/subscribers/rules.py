"""What happens to a subscription: every status change, decided from records and ``now``.

Nothing here reads the store, the clock or the network; ``subscribers.service`` reads, asks
here, and writes what comes back (a ``Change``).  The statuses and the moves between them:

```
(none) --signup--> pending --confirm--> confirmed --unsubscribe--> unsubscribed
                   ^                     |   \\--hard bounce, or N soft in M days--> bounced
                   |                      \\--complaint--> complained
   unsubscribed / bounced / complained --signup (a new opt-in)--> pending
(none) --staff add, import--> confirmed          (refused for a suppressed address)
```

A signup never tells the visitor whether the address was already known (the page is the same
in every case), and never changes a confirmed subscription: only a token from the person's own
mailbox can.  Leaving, bouncing and complaining put the address on the suppression list, which
imports and staff additions respect; a new opt-in confirmed by the person lifts it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from aggregator.store.subscribers import Consent, Event, Status, Subscriber, address_key

__all__ = [
    "Change",
    "Refusal",
    "add_by_staff",
    "address_hash",
    "after_bounce",
    "after_complaint",
    "change_preferences",
    "confirm",
    "is_recipient",
    "signup",
    "unsubscribe",
]

SUPPRESSING = (Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED)


class Refusal(StrEnum):
    SUPPRESSED = "suppressed"  # left, bounced, complained or was forgotten
    EXISTS = "exists"
    NOT_PENDING = "not pending"  # a confirmation for a subscription that moved on
    NOT_ACTIVE = "not active"


@dataclass(frozen=True, slots=True)
class Change:
    """The subscriber as it should be stored, the events explaining why, and what follows."""

    subscriber: Subscriber
    events: tuple[Event, ...]
    send_confirmation: bool = False
    suppress: str | None = None  # the suppression reason to record
    unsuppress: bool = False


def address_hash(address: str) -> str:
    """SHA-256 of the case-folded address: what the suppression list keeps.

    Unkeyed on purpose: it must survive a change of the site secret, and it is compared,
    never reversed."""
    return hashlib.sha256(address_key(address).encode("utf-8")).hexdigest()


def signup(
    existing: Subscriber | None,
    address: str,
    language: str,
    editions: Sequence[str],
    now: datetime,
    *,
    consent_version: str,
    nonce: str,
    resend_after: timedelta,
) -> Change | None:
    """The web form's signup; None when nothing changes (a confirmed subscription, or a
    confirmation mailed too recently to mail again)."""
    consent = Consent("web", consent_version, now)
    if existing is None:
        sub = Subscriber(
            0, address, language, tuple(editions), Status.PENDING, nonce, now, now, consent
        )
        return Change(replace(sub, confirm_sent=now), _ev("subscribed", now), True)
    if existing.status is Status.CONFIRMED:
        return None
    if existing.status is Status.PENDING:
        recent = existing.confirm_sent is not None and now - existing.confirm_sent < resend_after
        if recent:
            return None
        sub = replace(
            existing, language=language, editions=tuple(editions), changed=now, consent=consent
        )
        return Change(replace(sub, confirm_sent=now), _ev("subscribed", now), True)
    # a new opt-in after leaving: pending until the person confirms from the mailbox
    sub = replace(
        existing,
        language=language,
        editions=tuple(editions),
        status=Status.PENDING,
        nonce=nonce,
        changed=now,
        consent=consent,
        confirmed=None,
        confirm_sent=now,
    )
    return Change(sub, _ev("subscribed", now, detail=f"after {existing.status.value}"), True)


def _ev(
    kind: str, now: datetime, edition: str | None = None, detail: str | None = None
) -> tuple[Event, ...]:
    return (Event(kind, now, edition, detail),)


def confirm(sub: Subscriber, now: datetime) -> Change | Refusal:
    """The person pressed the button of the confirmation page."""
    if sub.status is Status.CONFIRMED:
        return Change(sub, ())  # a second press: already done, nothing to record
    if sub.status is not Status.PENDING:
        return Refusal.NOT_PENDING
    done = replace(sub, status=Status.CONFIRMED, confirmed=now, changed=now)
    return Change(done, _ev("confirmed", now), unsuppress=True)


def change_preferences(
    sub: Subscriber, language: str, editions: Sequence[str], now: datetime
) -> Change | Refusal:
    if sub.status not in (Status.CONFIRMED, Status.PENDING):
        return Refusal.NOT_ACTIVE
    if sub.language == language and sub.editions == tuple(editions):
        return Change(sub, ())
    detail = f"language {language}; editions {', '.join(editions) or '-'}"
    changed = replace(sub, language=language, editions=tuple(editions), changed=now)
    return Change(changed, _ev("preferences", now, detail=detail))


def unsubscribe(sub: Subscriber, now: datetime, how: str, edition_id: str | None = None) -> Change:
    """Leave: from the page, the one-click POST, staff.  Leaving twice records nothing."""
    if sub.status in SUPPRESSING:
        return Change(sub, ())
    left = replace(sub, status=Status.UNSUBSCRIBED, changed=now)
    return Change(left, _ev("unsubscribed", now, edition_id, how), suppress="unsubscribed")


def after_bounce(
    sub: Subscriber,
    history: Sequence[Event],
    now: datetime,
    *,
    permanent: bool,
    edition_id: str | None,
    detail: str,
    soft_limit: int,
    soft_days: int,
) -> Change:
    """A hard bounce suppresses at once; soft ones once ``soft_limit`` fall within
    ``soft_days`` (this one included).  Every bounce is recorded, whatever the status."""
    kind = "hard_bounce" if permanent else "soft_bounce"
    event = Event(kind, now, edition_id, detail)
    since = now - timedelta(days=soft_days)
    recent_soft = sum(1 for e in history if e.kind == "soft_bounce" and e.at > since)
    dead = permanent or recent_soft + 1 >= soft_limit
    if not dead or sub.status in SUPPRESSING:
        return Change(sub, (event,))
    bounced = replace(sub, status=Status.BOUNCED, changed=now)
    return Change(bounced, (event,), suppress="bounced")


def after_complaint(sub: Subscriber, now: datetime, edition_id: str | None, detail: str) -> Change:
    """A spam complaint (ARF report) ends the subscription; it is never re-added by staff."""
    event = Event("complaint", now, edition_id, detail)
    if sub.status is Status.COMPLAINED:
        return Change(sub, (event,))
    return Change(
        replace(sub, status=Status.COMPLAINED, changed=now), (event,), suppress="complained"
    )


def add_by_staff(
    existing: Subscriber | None,
    suppressed_reason: str | None,
    address: str,
    language: str,
    editions: Sequence[str],
    now: datetime,
    *,
    method: str,
    version: str,
    note: str | None,
    nonce: str,
) -> Change | Refusal:
    """``subscribers add`` and each row of an import: confirmed on the staff's word (with
    the note saying where the consent was given), never over a suppression or an existing
    subscription."""
    if suppressed_reason is not None or (existing is not None and existing.status in SUPPRESSING):
        return Refusal.SUPPRESSED
    if existing is not None:
        return Refusal.EXISTS
    consent = Consent(method, version, now, note)
    sub = Subscriber(
        0,
        address,
        language,
        tuple(editions),
        Status.CONFIRMED,
        nonce,
        now,
        now,
        consent,
        confirmed=now,
    )
    kind = "imported" if method == "import" else "added"
    return Change(sub, _ev(kind, now, detail=note))


def is_recipient(
    sub: Subscriber, edition_name: str, edition_language: str | None, window_end: datetime
) -> bool:
    """Does this subscriber get this edition?  Confirmed before the window closed (someone
    confirming mid-week gets the next edition, never a back-fill), chose it, and reads its
    language (an edition without one is for every language)."""
    if sub.status is not Status.CONFIRMED or sub.confirmed is None:
        return False
    if sub.confirmed > window_end or edition_name not in sub.editions:
        return False
    if edition_language is None:
        return True
    return sub.language.split("-")[0].lower() == edition_language.split("-")[0].lower()

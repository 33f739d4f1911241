"""What communications staff do with the list: list, search, add, remove, import, export, and
answer a person's GDPR requests (export everything held, art. 15/20; forget, art. 17).

Plain functions over the Store that return records and reports and print nothing, so the CLI
(``cli/subscribers.py``) and a staff console call the same code.  Every addition records its
consent (``staff`` or ``import``, the form version and a note saying where the consent was
given); no addition ever touches an address on the suppression list, so a re-import of an old
spreadsheet cannot bring back someone who left, bounced, complained or was forgotten.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aggregator.config import Settings
from aggregator.store.protocol import Store
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import rules
from aggregator.subscribers.service import apply, new_nonce

__all__ = [
    "CSV_FIELDS",
    "ImportReport",
    "add",
    "export_csv",
    "export_person",
    "forget",
    "import_csv",
    "remove",
    "search",
]

CSV_FIELDS = (
    "address",
    "language",
    "editions",
    "status",
    "created",
    "confirmed",
    "consent_method",
    "consent_version",
    "consent_at",
    "consent_note",
)


def search(
    store: Store,
    *,
    statuses: Sequence[Status] = (),
    text: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[Subscriber]:
    """Subscribers in signup order, by status and part of the address."""
    return store.list_subscribers(statuses=statuses, search=text, limit=limit, offset=offset)


def _editions(settings: Settings, language: str, wanted: Sequence[str]) -> tuple[str, ...]:
    """The editions asked for, or every edition in the language (or in every language)."""
    known = list(settings.digest.editions)
    if wanted:
        return tuple(n for n in wanted if any(e.name == n for e in known))
    return tuple(
        e.name for e in known if e.language is None or e.language.split("-")[0] == language
    )


def add(
    store: Store,
    settings: Settings,
    address: str,
    now: datetime,
    *,
    language: str,
    editions: Sequence[str] = (),
    note: str | None = None,
    method: str = "staff",
) -> Subscriber | rules.Refusal:
    """Add a confirmed subscriber on the staff's word; refused for a suppressed or known
    address."""
    address = address.strip()
    existing = store.find_subscriber(address)
    reason = store.suppressed([rules.address_hash(address)]).get(rules.address_hash(address))
    change = rules.add_by_staff(
        existing,
        reason,
        address,
        language,
        _editions(settings, language, editions),
        now,
        method=method,
        version=settings.subscribers.consent_version,
        note=note,
        nonce=new_nonce(),
    )
    if isinstance(change, rules.Refusal):
        return change
    return apply(store, change, now)


def remove(store: Store, address: str, now: datetime, note: str | None = None) -> bool:
    """Unsubscribe on the person's request (kept, suppressed); False for an unknown address."""
    sub = store.find_subscriber(address)
    if sub is None:
        return False
    apply(store, rules.unsubscribe(sub, now, f"staff: {note}" if note else "staff"), now)
    return True


@dataclass
class ImportReport:
    added: int = 0
    suppressed: list[str] = field(default_factory=list)  # left, bounced, forgotten: not re-added
    existing: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # "line 4: not an e-mail address"

    def __str__(self) -> str:
        parts = [
            f"{self.added} added",
            f"{len(self.existing)} already on the list",
            f"{len(self.suppressed)} suppressed (left, bounced, complained or forgotten)",
            f"{len(self.invalid)} invalid",
        ]
        return ", ".join(parts)


def import_csv(
    store: Store,
    settings: Settings,
    text: str,
    now: datetime,
    *,
    note: str,
    default_language: str,
) -> ImportReport:
    """Rows with an ``address`` column (``language`` and ``editions``, separated by ``;``,
    optional).  ``note`` says where the consent was given; it is recorded with every row."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "address" not in reader.fieldnames:
        report.invalid.append("line 1: no 'address' column")
        return report
    for number, row in enumerate(reader, start=2):
        _import_row(store, settings, row, number, now, note, default_language, report)
    return report


def _import_row(
    store: Store,
    settings: Settings,
    row: dict[str, Any],
    number: int,
    now: datetime,
    note: str,
    default_language: str,
    report: ImportReport,
) -> None:
    address = (row.get("address") or "").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or "." not in domain or any(c in address for c in " <>,;\r\n"):
        report.invalid.append(f"line {number}: not an e-mail address: {address!r}")
        return
    language = (row.get("language") or default_language).strip().lower()
    editions = [e.strip() for e in (row.get("editions") or "").split(";") if e.strip()]
    result = add(
        store,
        settings,
        address,
        now,
        language=language,
        editions=editions,
        note=note,
        method="import",
    )
    if result is rules.Refusal.SUPPRESSED:
        report.suppressed.append(address)
    elif result is rules.Refusal.EXISTS:
        report.existing.append(address)
    else:
        report.added += 1


def _row(sub: Subscriber) -> list[str]:
    def when(value: datetime | None) -> str:
        return value.isoformat() if value else ""

    return [
        sub.address,
        sub.language,
        ";".join(sub.editions),
        sub.status.value,
        when(sub.created),
        when(sub.confirmed),
        sub.consent.method,
        sub.consent.version,
        when(sub.consent.at),
        sub.consent.note or "",
    ]


def export_csv(subscribers: Iterable[Subscriber]) -> str:
    """The list as CSV, consent columns included; ``import_csv`` reads it back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    writer.writerows(_row(sub) for sub in subscribers)
    return out.getvalue()


def export_person(store: Store, address: str) -> dict[str, Any] | None:
    """Everything held on one address, as JSON-able data; None when nothing is held."""
    sub = store.find_subscriber(address)
    reason = store.suppressed([rules.address_hash(address)]).get(rules.address_hash(address))
    deliveries = store.deliveries(address)
    if sub is None and reason is None and not deliveries:
        return None
    data: dict[str, Any] = {"address": address, "suppressed": reason}
    if sub is not None:
        data["subscription"] = dict(zip(CSV_FIELDS, _row(sub), strict=True))
        data["subscription"]["editions"] = list(sub.editions)
        data["history"] = [
            {
                "event": e.kind,
                "at": e.at.isoformat(),
                "edition": e.edition_id,
                "detail": e.detail,
            }
            for e in store.subscriber_events(sub.id)
        ]
    data["digests"] = [
        {
            "edition": d.edition_id,
            "state": d.state,
            "at": d.updated.isoformat() if d.updated else None,
            "message_id": d.message_id,
        }
        for d in deliveries
    ]
    return data


def forget(store: Store, address: str, now: datetime) -> bool:
    """Erase everything held on the address but its hash on the suppression list; False when
    nothing was held."""
    if export_person(store, address) is None:
        return False
    sub = store.find_subscriber(address)
    store.forget_subscriber(sub.id if sub else None, address, rules.address_hash(address), now)
    return True

"""Bounces and complaints: what a returned message says, and what it does to a subscription.

Reading a delivery report is a kept library's job: flufl.bounce (GNU Mailman's detectors,
imported here and nowhere else) finds the failed recipients of RFC 3464 DSNs and of the
non-standard shapes many servers still send, and tells permanent from temporary failures.  A
"failed" DSN whose status is 4.x.x (a full mailbox, a server that gave up retrying) counts as
soft.  Complaints arrive as ARF reports (RFC 5965, ``multipart/report;
report-type=feedback-report``), which the ``email`` package reads.

Which subscription: the VERP address the report came back to (``bounces+TOKEN@``: the token
names the subscriber and the edition, see ``tokens``); else the recipient the report names,
looked up on the list.  A static recipient of feeds.yaml is suppressed by a hard bounce or a
complaint (the suppression list keeps it out of later editions).  Each event is recorded
against the edition that caused it; the rules of ``rules.after_bounce`` decide the status.
"""

from __future__ import annotations

import email
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parseaddr
from enum import StrEnum

from flufl.bounce import all_failures

from aggregator.config import Settings
from aggregator.store.protocol import Store
from aggregator.store.subscribers import Subscriber
from aggregator.subscribers import rules
from aggregator.subscribers.mailbox import Inbox
from aggregator.subscribers.service import apply
from aggregator.subscribers.tokens import Tokens, edition_tag

log = logging.getLogger(__name__)
# flufl.bounce logs every detector it runs (INFO) and a traceback when one trips (ERROR): one
# report would fill a log.  What matters is said here, once per message.
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

__all__ = ["Kind", "Outcome", "Report", "apply_report", "classify", "process_inbox"]


class Kind(StrEnum):
    HARD = "hard_bounce"
    SOFT = "soft_bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True, slots=True)
class Report:
    """What one returned message says."""

    kind: Kind
    addresses: tuple[str, ...]  # the original recipients it names
    verp: str | None  # the VERP address it came back to, if any
    detail: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a report did to one address (for the command's output and logs)."""

    address: str
    kind: Kind
    status: str  # the subscription's status after it, "suppressed" for a static recipient
    edition_id: str | None


_ENVELOPE_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To", "To")


def classify(raw: bytes, bounce_address: str | None) -> Report | None:
    """A bounce or complaint report, or None for any other message (an auto-reply)."""
    msg = email.message_from_bytes(raw)
    verp = _verp_of(msg, bounce_address)
    complaint = _complaint(msg, verp)
    if complaint is not None:
        return complaint
    try:
        temporary, permanent = all_failures(msg)
    except Exception:
        # heuristics index headers that may be missing) makes it "not a report", not a crash
        log.warning("a message of the bounce mailbox could not be read as a report")
        return None
    if not temporary and not permanent:
        return None
    statuses = _statuses(msg)
    hard = [
        a.decode() for a in permanent if not statuses.get(a.decode().lower(), "5").startswith("4")
    ]
    soft = [a.decode() for a in (*permanent, *temporary) if a.decode() not in hard]
    subject = str(msg.get("Subject", "")).strip()
    if hard:
        return Report(Kind.HARD, tuple(sorted(hard)), verp, _detail(statuses, hard, subject))
    return Report(Kind.SOFT, tuple(sorted(set(soft))), verp, _detail(statuses, soft, subject))


def _detail(statuses: dict[str, str], addresses: Iterable[str], subject: str) -> str:
    codes = sorted({statuses[a.lower()] for a in addresses if a.lower() in statuses})
    return f"status {', '.join(codes)}" if codes else subject[:200]


def _statuses(msg: Message) -> dict[str, str]:
    """Recipient (lower case) -> the DSN's Status code, from every delivery-status block."""
    found: dict[str, str] = {}
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status" or not part.is_multipart():
            continue
        for block in part.get_payload():
            if not isinstance(block, Message):
                continue
            status = str(block.get("Status", "")).strip().split(" ")[0]
            for header in ("Original-Recipient", "Final-Recipient"):
                value = str(block.get(header, ""))
                address = parseaddr(value.partition(";")[2] or value)[1].lower()
                if address and status:
                    found[address] = status
    return found


def _verp_of(msg: Message, bounce_address: str | None) -> str | None:
    """The ``bounces+TOKEN@domain`` address the report was delivered to, if any."""
    if not bounce_address:
        return None
    local, _, domain = bounce_address.rpartition("@")
    prefix = f"{local}+".lower()
    values = [str(v) for h in _ENVELOPE_HEADERS for v in msg.get_all(h, [])]
    for _, address in getaddresses(values):
        head, _, tail = address.rpartition("@")
        if head.lower().startswith(prefix) and tail.lower() == domain.lower():
            return address
    return None


def _complaint(msg: Message, verp: str | None) -> Report | None:
    """An ARF feedback report: the complaining recipient, and the VERP of the original."""
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "")).lower() != "feedback-report":
        return None
    recipients: list[str] = []
    feedback = "abuse"
    original_verp = None
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/feedback-report":
            for name, value in _fields(part):
                if name == "feedback-type":
                    feedback = value.lower()
                elif name == "original-rcpt-to":
                    recipients.append(parseaddr(value)[1])
        elif kind in ("message/rfc822", "text/rfc822-headers"):
            original = _embedded(part)
            if original is not None:
                recipients += [a for _, a in getaddresses(original.get_all("To", []))]
                original_verp = parseaddr(str(original.get("Return-Path", "")))[1] or None
    addresses = tuple(dict.fromkeys(a for a in recipients if "@" in a))
    return Report(Kind.COMPLAINT, addresses, verp or original_verp, f"feedback type {feedback}")


def _fields(part: Message) -> list[tuple[str, str]]:
    """The ``Name: value`` lines of a feedback-report part, names in lower case."""
    payload = part.get_payload()
    blocks = payload if isinstance(payload, list) else [email.message_from_string(str(payload))]
    return [
        (name.lower(), str(value).strip())
        for block in blocks
        if isinstance(block, Message)
        for name, value in block.items()
    ]


def _embedded(part: Message) -> Message | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    if isinstance(payload, str):
        return email.message_from_string(payload)
    return None


def apply_report(
    store: Store, settings: Settings, tokens: Tokens, report: Report, now: datetime
) -> list[Outcome]:
    """Record the report against each subscription it names; what became of each."""
    outcomes = []
    verp = tokens.read_verp(report.verp) if report.verp else None
    targets: list[tuple[str, Subscriber | None, str | None]] = []
    if verp is not None:
        sub = store.get_subscriber(verp[0])
        if sub is not None:
            targets.append((sub.address, sub, _edition(store, sub.address, verp[1])))
    if not targets:
        for address in report.addresses:
            sub = store.find_subscriber(address)
            targets.append((address, sub, _edition(store, address, None)))
    for address, sub, edition_id in targets:
        outcomes.append(_record(store, settings, report, address, sub, edition_id, now))
    return outcomes


def _edition(store: Store, address: str, tag: str | None) -> str | None:
    """The edition the report is about: the one the VERP tag names, else the newest sent."""
    sent = [d for d in store.deliveries(address) if d.state == "sent"]
    if tag is not None:
        named = [d.edition_id for d in sent if edition_tag(d.edition_id) == tag]
        if named:
            return named[0]
    newest = max(sent, key=lambda d: (d.updated is not None, d.updated), default=None)
    return newest.edition_id if newest else None


def _record(
    store: Store,
    settings: Settings,
    report: Report,
    address: str,
    sub: Subscriber | None,
    edition_id: str | None,
    now: datetime,
) -> Outcome:
    if sub is None:  # a static recipient of feeds.yaml, or an address we no longer hold
        if report.kind is Kind.SOFT:
            return Outcome(address, report.kind, "ignored", edition_id)
        store.suppress(rules.address_hash(address), report.kind.value, now)
        return Outcome(address, report.kind, "suppressed", edition_id)
    if report.kind is Kind.COMPLAINT:
        change = rules.after_complaint(sub, now, edition_id, report.detail)
    else:
        history = store.subscriber_events(sub.id)
        change = rules.after_bounce(
            sub,
            history,
            now,
            permanent=report.kind is Kind.HARD,
            edition_id=edition_id,
            detail=report.detail,
            soft_limit=settings.subscribers.soft_bounce_limit,
            soft_days=settings.subscribers.soft_bounce_days,
        )
    stored = apply(store, change, now)
    return Outcome(address, report.kind, stored.status.value, edition_id)


def process_inbox(
    store: Store, settings: Settings, tokens: Tokens, inbox: Inbox, now: datetime
) -> list[Outcome]:
    """Read every message of the bounce mailbox once: reports are applied, then deleted;
    anything else is left where it is."""
    outcomes: list[Outcome] = []
    for key, raw in inbox.messages():
        report = classify(raw, settings.subscribers.bounce_address)
        if report is None:
            inbox.skip(key)
            continue
        outcomes += apply_report(store, settings, tokens, report, now)
        inbox.done(key)
    return outcomes

"""Sending an edition: the ledger's claims, one message per recipient, test copies.

**At most once per recipient.**  Each address is claimed in the ledger (PENDING/FAILED ->
SENDING) before the SMTP conversation; a crash or a lost connection mid-send leaves it SENDING
and it is never retried blindly: the message may have arrived, and a second copy is worse than
a hand-made resend.  Such addresses are *unconfirmed*: every report of the edition (the send
that stopped, the next one, ``digest list``) names them so that staff can check and resend by
hand.  A server refusal is recorded as FAILED and retried by the next run, once: an edition
closes when every recipient is sent, unconfirmed, or refused twice.  A test copy goes to one
address and leaves the ledger untouched.

The edition is recorded only if the ledger did not move since it was read
(``Store.open_edition``): a preview that raced this send cannot have created a second window
over the same posts, and a send that lost such a race prepares the edition once more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.config import EditionSettings, Settings
from aggregator.errors import DeliveryError
from aggregator.models import EditionRecord, RecipientState
from aggregator.newsletter.audience import Recipient, audience
from aggregator.newsletter.bulk import MessageBatch, Outgoing
from aggregator.newsletter.mail import Sender, SenderFactory, SendResult
from aggregator.newsletter.prepare import Prepared, message_for, prepare
from aggregator.store.protocol import Store
from aggregator.subscribers.tokens import Tokens


@dataclass(frozen=True, slots=True)
class SendReport:
    """What a send did; refusals are listed, not raised, so one bad address stops nothing."""

    edition: EditionRecord | None
    sent: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (address, the server's reply)
    skipped: tuple[str, ...] = ()  # already sent, or claimed and never confirmed
    test: bool = False
    empty: bool = False  # nothing new in the window and skip_empty: nothing sent or recorded
    complete: bool = False  # the edition is now marked sent
    error: str | None = None  # the SMTP session failed; unsent recipients stay pending
    unconfirmed: tuple[str, ...] = ()  # SENDING: in flight when a send stopped; never resent
    unsent: tuple[str, ...] = ()  # still waiting (PENDING or FAILED): the next send tries them
    lost: tuple[str, ...] = ()  # this run lost the session mid-message: now unconfirmed

    def __str__(self) -> str:
        """One line for logs and the CLI."""
        if self.empty:
            return "nothing new since the last edition: nothing sent"
        name = self.edition.id if self.edition else "edition"
        parts = [f"{len(self.sent)} sent", f"{len(self.failed)} refused"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} already done or in flight")
        line = f"{'[TEST] ' if self.test else ''}{name}: {', '.join(parts)}"
        line += "; ".join(["", *(f"{a}: {e}" for a, e in self.failed)])
        if self.error:
            line += f"; stopped: {self.error}"
            if self.unsent:
                line += f"; not sent yet (the next send tries them): {', '.join(self.unsent)}"
        if self.unconfirmed:
            line += (
                f"; unconfirmed, not resent (in flight when a send stopped; "
                f"check and resend by hand): {', '.join(self.unconfirmed)}"
            )
        if self.complete:
            line += "; edition complete"
        return line


def send_test(
    store: Store,
    settings: Settings,
    edition: EditionSettings,
    now: datetime,
    to: str,
    factory: SenderFactory,
) -> SendReport:
    """One "[TEST]" copy of the current edition to ``to``; the ledger is not touched."""
    prepared = prepare(store, settings, edition, now)
    _, _, msg = message_for(settings, prepared, to, now, subject_prefix="[TEST] ")
    try:
        with factory(settings.digest.smtp) as sender:
            result = sender.send(msg)
    except DeliveryError as exc:
        return SendReport(prepared.record, test=True, error=str(exc))
    if result.ok:
        return SendReport(prepared.record, sent=(to,), test=True)
    return SendReport(prepared.record, failed=((to, result.error or ""),), test=True)


def send_edition(
    store: Store,
    settings: Settings,
    edition: EditionSettings,
    now: datetime,
    factory: SenderFactory,
    tokens: Tokens,
) -> SendReport:
    """Mail the current edition to every recipient still PENDING or FAILED, then maybe close it.

    The recipients are the edition's audience (``newsletter.audience``: feeds.yaml's static
    list and the confirmed subscribers who chose it), decided once per run.
    """
    opened = _opened(store, settings, edition, now, tokens)
    if opened is None:
        return SendReport(None, error=_MOVED.format(name=edition.name))
    prepared, people = opened
    if prepared.empty and edition.skip_empty:
        return SendReport(None, empty=True)
    record = prepared.record
    addresses = [r.address for r in people]
    before = {r.address: r.state for r in store.recipients(record.id)}
    targets = [
        r
        for r in people
        if before.get(r.address) in (RecipientState.PENDING, RecipientState.FAILED)
    ]
    chosen = {r.address for r in targets}
    skipped = tuple(a for a in addresses if a not in chosen)
    sent: list[str] = []
    failed: list[tuple[str, str]] = []
    lost: list[str] = []
    error: str | None = None
    try:
        with factory(settings.digest.smtp) as sender:
            batch = MessageBatch(settings, prepared, now)
            for recipient in targets:
                result = _deliver(store, batch, sender, recipient, record.id, now)
                if result is not None and result.uncertain:
                    lost.append(recipient.address)
                elif result is None:
                    skipped += (recipient.address,)
                elif result.ok:
                    sent.append(recipient.address)
                else:
                    failed.append((recipient.address, result.error or "refused"))
    except DeliveryError as exc:
        error = str(exc)
    complete = error is None and _complete(store, record.id, addresses, before, failed)
    if complete:
        record = replace(record, sent=True)
        store.save_edition(record, addresses)
    after = {r.address: r.state for r in store.recipients(record.id)}
    return SendReport(
        record,
        tuple(sent),
        tuple(failed),
        skipped,
        complete=complete,
        error=error,
        unconfirmed=_in_state(after, addresses, RecipientState.SENDING),
        unsent=_in_state(after, addresses, RecipientState.PENDING, RecipientState.FAILED),
        lost=tuple(lost),
    )


_MOVED = (
    "the ledger of {name} changed twice while this send prepared it (another preview or send "
    "recorded an edition): nothing was sent; run the send again"
)


def _opened(
    store: Store, settings: Settings, edition: EditionSettings, now: datetime, tokens: Tokens
) -> tuple[Prepared, list[Recipient]] | None:
    """The edition prepared and recorded in one consistent reading of the ledger, with its
    audience.

    A preview that recorded the next edition between our reading and our write makes the write
    refuse; reading once more then finds that edition and sends it (what was reviewed).
    """
    for _ in range(2):
        prepared = prepare(store, settings, edition, now)
        if prepared.empty and edition.skip_empty:
            return prepared, []
        record = prepared.record
        people = audience(store, settings, edition, record.id, record.window_end, tokens)
        if store.open_edition(record, [r.address for r in people], prepared.based_on):
            return prepared, people
    return None


def _in_state(
    states: Mapping[str, RecipientState], addresses: Sequence[str], *wanted: RecipientState
) -> tuple[str, ...]:
    return tuple(a for a in dict.fromkeys(addresses) if states.get(a) in wanted)


def unconfirmed(store: Store, edition_id: str) -> tuple[str, ...]:
    """Addresses of an edition claimed for sending and never confirmed (a crash or a lost
    connection mid-message): they may or may not have the edition, and are never resent
    automatically.  ``digest list`` and the console show them for a resend by hand."""
    return tuple(
        r.address for r in store.recipients(edition_id) if r.state is RecipientState.SENDING
    )


def _deliver(
    store: Store,
    batch: MessageBatch,
    sender: Sender,
    recipient: Recipient,
    edition_id: str,
    now: datetime,
) -> SendResult | None:
    """Claim, send, record one recipient; None when someone else holds or finished it.

    The claim comes first: if the process dies between the server's "250" and the mark, the
    address stays SENDING and is never mailed twice; so does an address whose session died
    while its message was being transmitted (``SendResult.uncertain``).  A session that
    cannot be reopened raises (DeliveryError).
    """
    address = recipient.address
    copy: Outgoing | None = None
    refusal: SendResult | None = None
    try:
        copy = batch.copy_for(recipient)
    except DeliveryError as exc:
        refusal = SendResult(address, False, error=str(exc))
    if not store.claim_recipient(edition_id, address, now):
        return None
    if copy is not None:
        result = sender.send_raw(copy.sender, copy.to, copy.data, copy.message_id)
    else:
        assert refusal is not None
        result = refusal
    if result.uncertain:
        return result
    if result.ok:
        store.mark_recipient(
            edition_id, address, RecipientState.SENT, now, message_id=result.message_id
        )
    else:
        store.mark_recipient(edition_id, address, RecipientState.FAILED, now, error=result.error)
    return result


def _complete(
    store: Store,
    edition_id: str,
    recipients: Sequence[str],
    before: Mapping[str, RecipientState],
    failed_now: Sequence[tuple[str, str]],
) -> bool:
    """Every recipient is done: sent, never confirmed (SENDING), or refused on a retry too.

    An address gets its first attempt and one retry per edition; refusing to close an edition
    until a dead address accepts mail would hold back every later edition for everyone.
    """
    states = {r.address: r.state for r in store.recipients(edition_id)}
    refused_again = {a for a, _ in failed_now if before.get(a) is RecipientState.FAILED}
    for address in recipients:
        state = states.get(address)
        if state in (RecipientState.SENT, RecipientState.SENDING):
            continue
        if state is RecipientState.FAILED and address in refused_again:
            continue
        return False
    return True

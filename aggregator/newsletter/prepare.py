"""The edition in hand: the one a preview shows and a send mails, and each recipient's copy.

While the last edition of a name is unsent, it *is* the current edition: previewing again or
resending gives the same window and the same id (rendered again from the store, so a corrected
title shows), and a send after a preview mails the window that was reviewed.  Once it is sent,
the next window starts at its ``window_end``.  Staff's curation of the unsent edition (left
out, featured, order, note, subject: ``newsletter.curation``) is applied here, so every path
that prepares it mails the same draft.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from aggregator.config import EditionSettings, Settings
from aggregator.models import EditionRecord
from aggregator.newsletter.audience import Recipient
from aggregator.newsletter.curation import issue_key, issue_start, without_excluded
from aggregator.newsletter.editions import edition_id, select_in_window, select_posts
from aggregator.newsletter.look import look_for
from aggregator.newsletter.mail import MailMessage, build_message
from aggregator.newsletter.render import (
    RenderedDigest,
    personalise,
    render_edition,
    unsubscribe_link,
)
from aggregator.store.protocol import Store


@dataclass(frozen=True, slots=True)
class Prepared:
    """An edition's ledger record and its rendering; ``empty``: the window holds no post.

    ``based_on``: the newest edition of the name when the ledger was read (None: none yet);
    the record is only stored if it still is (``Store.open_edition``).
    """

    record: EditionRecord
    rendered: RenderedDigest
    empty: bool
    based_on: str | None = None


def prepare(store: Store, settings: Settings, edition: EditionSettings, now: datetime) -> Prepared:
    """The edition to preview or send: the last one while it is unsent, else a new window."""
    last = store.last_edition(edition.name)
    if last is not None and not last.sent:
        found = store.posts_first_seen(last.window_start, last.window_end)
        selection = select_in_window(last.window_start, last.window_end, found, edition)
    else:
        selection = select_posts(store, edition, last, now)
    # staff's choices for this issue (console), named by the edition and the window's start
    curation = store.get_curation(issue_key(edition.name, issue_start(last)))
    posts = without_excluded(selection.posts, curation)
    rendered = render_edition(
        settings,
        edition,
        posts,
        store.get_sources(),
        date=selection.window_end,
        over_cap=selection.over_cap,
        curation=curation,
        look=look_for(store, settings, selection.posts),
    )
    if last is not None and not last.sent:
        record = replace(last, post_ids=rendered.post_ids, subject=rendered.subject)
        record = replace(record, notes=rendered.notes)
    else:
        record = EditionRecord(
            id=edition_id(edition.name, selection.window_end),
            name=edition.name,
            window_start=selection.window_start,
            window_end=selection.window_end,
            created=now,
            post_ids=rendered.post_ids,
            subject=rendered.subject,
            notes=rendered.notes,
        )
    based_on = last.id if last is not None else None
    return Prepared(record, rendered, empty=not posts, based_on=based_on)


def recipient_links(
    settings: Settings, recipient: Recipient, edition_id: str
) -> tuple[str, str | None, str]:
    """(footer unsubscribe link, List-Unsubscribe URL or None, preference link).

    A subscriber's links carry a signed token; a static recipient of feeds.yaml keeps the
    configured ``unsubscribe_url`` or a mailto, and the signup page for preferences.
    """
    if recipient.unsubscribe_url and recipient.preferences_url:
        return recipient.unsubscribe_url, recipient.unsubscribe_url, recipient.preferences_url
    link, https_url = unsubscribe_link(settings, recipient.address, edition_id)
    return link, https_url, f"{settings.site.base_url}subscribe"


def message_for(
    settings: Settings,
    prepared: Prepared,
    to: str | Recipient,
    now: datetime,
    *,
    subject_prefix: str = "",
) -> tuple[str, str, MailMessage]:
    """The message for one recipient, and the personalised (html, text) it carries."""
    recipient = to if isinstance(to, Recipient) else Recipient(to)
    link, https_url, preferences = recipient_links(settings, recipient, prepared.record.id)
    html, text = personalise(prepared.rendered, link, preferences)
    smtp = settings.digest.smtp
    mailto = f"mailto:{smtp.reply_to}?subject=unsubscribe" if smtp.reply_to else None
    msg = build_message(
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        reply_to=smtp.reply_to,
        to=recipient.address,
        subject=subject_prefix + prepared.rendered.subject,
        text=text,
        html=html,
        date=now,
        unsubscribe_url=https_url,
        unsubscribe_mailto=mailto if https_url else link,
    )
    return html, text, msg

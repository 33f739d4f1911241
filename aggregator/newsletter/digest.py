"""The two things an operator does with an edition: preview it, then send it.

The CLI (``digest preview``, ``digest send``), the scheduler's job and the demo call these two.
The work is done in the modules beside this one: ``editions`` picks the posts of the window,
``render`` builds and inlines the email once, ``prepare`` keeps a send faithful to its preview,
``delivery`` mails each recipient at most once through the ledger.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from aggregator.config import Settings
from aggregator.files import write_atomic
from aggregator.models import EditionRecord
from aggregator.newsletter.delivery import SendReport, send_edition, send_test
from aggregator.newsletter.mail import SenderFactory, SmtpSender
from aggregator.newsletter.ondisk import images_from_disk
from aggregator.newsletter.prepare import message_for, prepare
from aggregator.secret import load_secret
from aggregator.store.protocol import Store
from aggregator.subscribers.tokens import Tokens

PREVIEW_ADDRESS = "subscriber@example.invalid"  # RFC 2606: can never be delivered
_EMPTY_NOTE = "nothing new since the last edition: a send would skip it (not recorded)"
_MOVED_NOTE = (
    "a send recorded or finished an edition while this preview was made: this preview is not "
    "recorded and may not be what goes out; preview again"
)


@dataclass(frozen=True, slots=True)
class PreviewFiles:
    html_path: Path
    text_path: Path
    eml_path: Path
    edition: EditionRecord
    saved: bool = True  # False: nothing recorded (an empty window a send skips, or a race lost)


def preview(store: Store, settings: Settings, edition_name: str, now: datetime) -> PreviewFiles:
    """Write the edition's .html, .txt and .eml (a full message to a placeholder) for review.

    The .eml is the message as mailed (absolute image URLs); the .html shows the images from
    the published copies on disk, so that it opens from ``file://`` (``ondisk``).

    The edition is recorded so that the send that follows mails exactly what was reviewed;
    previewing again while it is unsent gives the same edition.  An empty window of a
    ``skip_empty`` edition is written out but not recorded, since a send would skip it.

    A preview never creates or reopens an edition a send is working on: if the ledger moved
    since it was read (a send recorded or finished an edition meanwhile), the files are
    written but nothing is recorded, and a note says to preview again.
    """
    edition = settings.edition(edition_name)
    prepared = prepare(store, settings, edition, now)
    html, text, msg = message_for(settings, prepared, PREVIEW_ADDRESS, now)
    out = settings.digest_dir
    out.mkdir(parents=True, exist_ok=True)
    stem = prepared.record.id.replace(":", "")
    paths = (out / f"{stem}.html", out / f"{stem}.txt", out / f"{stem}.eml")
    on_disk = images_from_disk(html, settings.site.base_url, settings.output_dir, out)
    write_atomic(paths[0], on_disk.encode("utf-8"))
    write_atomic(paths[1], text.encode("utf-8"))
    write_atomic(paths[2], msg.as_bytes())
    record = replace(
        prepared.record, html_path=str(paths[0]), text_path=str(paths[1]), eml_path=str(paths[2])
    )
    if prepared.empty and edition.skip_empty:
        record = replace(record, notes=(*record.notes, _EMPTY_NOTE))
        return PreviewFiles(paths[0], paths[1], paths[2], record, saved=False)
    if not store.open_edition(record, edition.recipients, prepared.based_on):
        record = replace(record, notes=(*record.notes, _MOVED_NOTE))
        return PreviewFiles(paths[0], paths[1], paths[2], record, saved=False)
    return PreviewFiles(paths[0], paths[1], paths[2], record)


def send(
    store: Store,
    settings: Settings,
    edition_name: str,
    now: datetime,
    *,
    to: str | None = None,
    smtp_factory: SenderFactory = SmtpSender,
    tokens: Tokens | None = None,
) -> SendReport:
    """Send the current edition: one message per recipient, each claimed before SMTP.

    Recipients: the edition's static list and the confirmed subscribers who chose it
    (``newsletter.audience``), each subscriber with links signed by ``tokens`` (default: from
    the site secret).  With ``to``, one test copy ("[TEST]" in the subject) goes to that
    address and the ledger is not touched.  Otherwise the last edition is resent while unsent
    (only recipients still PENDING or FAILED get it), or a new window starts after its
    ``window_end``.

    Callers hold the store lock ``digest:<edition>`` around it (``cycle.held_lock``, as the CLI
    and the scheduler's job do): the claims make a concurrent run safe, the lock makes it quiet.
    """
    edition = settings.edition(edition_name)
    if to is not None:
        return send_test(store, settings, edition, now, to, smtp_factory)
    if tokens is None:
        tokens = Tokens(load_secret(settings.base_dir, os.environ), lambda: now)
    return send_edition(store, settings, edition, now, smtp_factory, tokens)

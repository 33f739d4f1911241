"""The one shape of every mail to a member: a greeting, what it is about, the news, and why
they receive it, as plain text and the same paragraphs in HTML, from the digest's sender.

Outcome mails (``outcomes``: a proposed feed accepted or not) and owner notices (``notify``:
a feed failing, gone, moved or quiet) say different things in the same frame; building the
frame once keeps the two alike (the same sender headers, the same escaping).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime

from aggregator.config import Settings
from aggregator.newsletter.mail import MailMessage, build_message


def member_letter(
    settings: Settings,
    *,
    to: str,
    subject: str,
    lines: Sequence[str],
    now: datetime,
    language: str | None = None,
) -> MailMessage:
    """``lines``: the greeting, what the mail is about, its paragraphs, and why the member
    receives it.  The text part has one paragraph each; the HTML part joins the greeting and
    the first line in one paragraph, escaped.  ``language`` tags the HTML when given."""
    hello, about, *rest = lines
    text = "\n\n".join(lines) + "\n"
    markup = "".join(f"<p>{html.escape(p)}</p>" for p in [f"{hello} {about}", *rest])
    tag = f' lang="{html.escape(language)}"' if language is not None else ""
    smtp = settings.digest.smtp
    return build_message(
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        reply_to=smtp.reply_to,
        to=to,
        subject=subject,
        text=text,
        html=f"<!DOCTYPE html><html{tag}><body>{markup}</body></html>",
        date=now,
    )

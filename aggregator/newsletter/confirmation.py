"""The double opt-in mail: one message with the link to the confirmation page.

The link opens a page with a button; nothing is confirmed until the button is pressed, since
mail security scanners open every link of a message (PITFALLS.md).  The mail is in the
language the person chose on the form, and carries no List-Unsubscribe: nobody is subscribed
yet, and ignoring it is how one declines.
"""

from __future__ import annotations

from datetime import datetime

from aggregator.config import Settings
from aggregator.errors import DeliveryError
from aggregator.i18n import render, translator
from aggregator.newsletter.mail import (
    MailMessage,
    SenderFactory,
    SendResult,
    SmtpSender,
    build_message,
    one_line,
)
from aggregator.store.subscribers import Subscriber

__all__ = ["confirmation_message", "send_confirmation"]


def confirmation_message(
    settings: Settings, sub: Subscriber, url: str, now: datetime
) -> MailMessage:
    t = translator(sub.language)
    site = one_line(settings.site.title)
    context = {
        "site_title": site,
        "site_url": settings.site.base_url,
        "confirm_url": url,
        "hours": settings.subscribers.confirm_hours,
    }
    smtp = settings.digest.smtp
    return build_message(
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        reply_to=smtp.reply_to,
        to=sub.address,
        # Translators: the subject of the mail asking a new subscriber to confirm.
        subject=t.gettext("Confirm your subscription to %(site)s", site=site),
        text=render("subscribers/confirm_mail.txt", sub.language, **context),
        html=render("subscribers/confirm_mail.html", sub.language, **context),
        date=now,
    )


def send_confirmation(
    settings: Settings,
    sub: Subscriber,
    url: str,
    now: datetime,
    factory: SenderFactory = SmtpSender,
) -> SendResult:
    """Mail the confirmation link; a refusal or a broken session comes back as a value."""
    try:
        msg = confirmation_message(settings, sub, url, now)
        with factory(settings.digest.smtp) as sender:
            return sender.send(msg)
    except DeliveryError as exc:
        return SendResult(sub.address, False, error=str(exc))

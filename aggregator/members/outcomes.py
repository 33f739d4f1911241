"""Tell a member whether their feed was accepted: one e-mail per decision, in their language.

A member who proposed a feed on ``/submit`` wants to hear back, and in the language they read
the form in (``Submission.form_language``; older submissions fall back to the feed's
language).  An approval says the feed is now part of the network and when its posts will
appear; a rejection gives the moderator's reason word for word.

``outcome_message`` is pure; ``deliver`` is the I/O edge and never raises for a mail
problem: the decision stands, and the caller shows the moderator that the mail did not go.
"""

from __future__ import annotations

from datetime import datetime

from aggregator.config import Settings
from aggregator.errors import DeliveryError
from aggregator.i18n import translator
from aggregator.members.letters import member_letter
from aggregator.newsletter.mail import MailMessage, SenderFactory, SmtpSender
from aggregator.store.submissions import Submission

__all__ = ["deliver", "outcome_message"]


def outcome_message(
    sub: Submission, *, approved: bool, reason: str, settings: Settings, now: datetime
) -> MailMessage:
    """The e-mail telling the member the outcome, in the language of the form they used."""
    t = translator(sub.form_language or sub.language)
    site = settings.site.title
    hello = t.gettext("Hello,")
    about = t.gettext(
        "You proposed the feed %(url)s for %(site)s on behalf of %(organisation)s.",
        url=sub.feed_url,
        site=site,
        organisation=sub.organisation,
    )
    if approved:
        subject = t.gettext("Your feed was accepted: %(site)s", site=site)
        body = [
            t.gettext("It has been accepted."),
            t.gettext(
                "Its posts will appear on %(url)s after the next fetch, within a few hours.",
                url=settings.site.base_url,
            ),
        ]
    else:
        subject = t.gettext("Your feed was not accepted: %(site)s", site=site)
        body = [t.gettext("It was not accepted, for this reason:"), reason]
    closing = t.gettext("You receive this because you gave this address on the form.")
    return member_letter(
        settings,
        to=sub.contact,
        subject=subject,
        lines=[hello, about, *body, closing],
        now=now,
        language=t.language,
    )


def deliver(
    msg: MailMessage, settings: Settings, factory: SenderFactory = SmtpSender
) -> str | None:
    """Send one outcome mail; None when the server accepted it, else why not."""
    try:
        with factory(settings.digest.smtp) as sender:
            result = sender.send(msg)
    except DeliveryError as exc:
        return str(exc)
    return None if result.ok else (result.error or "refused")

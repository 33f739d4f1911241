"""The mails the console sends for staff: a password-reset link, in the account's language.

(The member's outcome mail is ``members.outcomes``; digests go through ``newsletter``.)
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from aiohttp import web

from aggregator.accounts import tokens
from aggregator.i18n import translator
from aggregator.members.outcomes import deliver
from aggregator.newsletter.mail import build_message
from aggregator.store.staff import Account
from aggregator.web.console.state import CONSOLE_KEY
from aggregator.web.state import MEMBERS_KEY

__all__ = ["send_reset_link"]

log = logging.getLogger(__name__)


def send_reset_link(app: web.Application, account: Account, now: datetime) -> str | None:
    """Mail ``account`` a link to set a new password; None once the server took it."""
    members, console = app[MEMBERS_KEY], app[CONSOLE_KEY]
    settings = members.settings
    token = tokens.make_reset_token(console.secret(), account.id, account.password_hash, now)
    link = f"{settings.site.base_url}console/reset/{token}"
    words = translator(account.language)
    site = settings.site.title
    lines = [
        words.gettext("Hello,"),
        words.gettext(
            "Someone asked to set a new password for your account on %(site)s.", site=site
        ),
        words.gettext("Open this link within an hour to choose one:"),
        link,
        words.gettext("If it was not you, ignore this message: your password stays as it is."),
    ]
    markup = "".join(
        f'<p><a href="{html.escape(p)}">{html.escape(p)}</a></p>'
        if p == link
        else f"<p>{html.escape(p)}</p>"
        for p in lines
    )
    smtp = settings.digest.smtp
    msg = build_message(
        from_address=smtp.from_address,
        from_name=smtp.from_name,
        reply_to=smtp.reply_to,
        to=account.email,
        subject=words.gettext("A new password for %(site)s", site=site),
        text="\n\n".join(lines) + "\n",
        html=f"<!DOCTYPE html><html><body>{markup}</body></html>",
        date=now,
    )
    error = deliver(msg, settings, console.sender)
    if error:
        log.warning("password reset link for account %s not sent: %s", account.id, error)
    return error

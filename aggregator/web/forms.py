"""Reading and checking what a member posts: body and field limits, then the field rules.

A public form makes the server fetch URLs, so input is bounded before anything else happens:
a body over 16 KiB or any field over its limit refuses the whole form (413), and fields the
pages do not know are dropped.  The rules a member can fix (a missing organisation, a malformed
e-mail address, a language the site does not publish) come back as sentences for the page, in
the member's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from aggregator.i18n import Translator, autonym
from aggregator.ingest.language import normalise_tag
from aggregator.members.moderation import REASON_LIMIT

__all__ = [
    "LIMITS",
    "MAX_BODY_BYTES",
    "POSTED",
    "Posted",
    "field_errors",
    "is_email",
    "read_form",
]

MAX_BODY_BYTES = 16 * 1024
LIMITS: Mapping[str, int] = {
    "url": 2048,
    "organisation": 200,
    "contact": 254,
    "language": 35,
    "reason": REASON_LIMIT,
    "draft": 64,
    "csrf": 128,
    # the subscription pages (web.subscribe, web.preferences)
    "address": 254,
    "consent": 8,
    "t": 512,
    "action": 16,
    "List-Unsubscribe": 16,  # RFC 8058: the one-click POST's only field
}
PREFIX_LIMITS: Mapping[str, int] = {"edition-": 8}  # one checkbox per digest edition
_EMAIL_RE = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")


async def read_form(
    request: web.Request,
    limits: Mapping[str, int] = LIMITS,
    max_body: int = MAX_BODY_BYTES,
) -> dict[str, str] | None:
    """The posted fields named in ``limits``, or None when the body is too large or a field
    too long (the staff console passes its own fields and limits)."""
    if request.content_length is None or request.content_length > max_body:
        return None
    data = await request.post()
    form: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            return None
        limit = limits.get(key) or (_prefix_limit(key) if limits is LIMITS else None)
        if limit is None:
            continue
        if len(value) > limit:
            return None
        form[key] = value.strip()
    return form


def _prefix_limit(key: str) -> int | None:
    for prefix, limit in PREFIX_LIMITS.items():
        if key.startswith(prefix) and len(key) <= len(prefix) + 63:
            return limit
    return None


def is_email(value: str) -> bool:
    """An address a mail server will take: one @, a dotted domain, no spaces or separators."""
    return bool(_EMAIL_RE.match(value))


def _has_controls(text: str) -> bool:
    return any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def field_errors(form: Mapping[str, str], languages: list[str], t: Translator) -> list[str]:
    """What the member must fix before anything is fetched, in ``t``'s language; empty when
    the form is usable."""
    errors = []
    if any(_has_controls(value) for value in form.values()):
        errors.append(
            t.gettext("Remove the control characters (line breaks, tabs…) from the fields.")
        )
    if not form.get("url"):
        errors.append(t.gettext("Give the address of your feed or of your site."))
    if not form.get("organisation"):
        errors.append(t.gettext("Give your organisation's name."))
    if not is_email(form.get("contact", "")):
        errors.append(t.gettext("Give a contact e-mail address, such as web@city.example."))
    if normalise_tag(form.get("language")) not in languages:
        errors.append(
            t.gettext(
                "Choose one of the languages: %(languages)s.",
                languages=", ".join(autonym(language) for language in languages),
            )
        )
    return errors


@dataclass(frozen=True, slots=True)
class Posted:
    """A POST that passed the size limits and carried its session's CSRF token; every POST
    handler reads it from ``request[POSTED]`` (the route wiring puts it there, and only
    after both checks)."""

    form: Mapping[str, str]
    token: str  # the session's CSRF token: the pages put it back in their forms


POSTED = web.RequestKey("posted", Posted)

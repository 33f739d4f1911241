"""``/subscribe`` and ``/subscribe/confirm``: signing up for the digest, with double opt-in.

The form asks for an address, a language, the editions wanted and explicit consent to the
form's text (its version is recorded with the consent).  Whatever the address's past, the
answer is the same page ("check your mailbox"), so the form tells nobody who is subscribed.
A confirmation mail goes out only for a new or pending signup, at most once per
``subscribers.resend_minutes`` per address, and the form itself is rate limited per client
(the real one behind a trusted proxy: ``web.clients``).

The mail's link opens a page with a button; a GET changes nothing (mail scanners open every
link), the button's POST confirms.  A tampered, expired or stale token gets a page saying so,
in the visitor's language, and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aiohttp import web

from aggregator import config
from aggregator.i18n import Translator, autonym, base_language
from aggregator.newsletter.confirmation import send_confirmation
from aggregator.newsletter.mail import SenderFactory
from aggregator.secret import load_secret
from aggregator.store.subscribers import Subscriber
from aggregator.subscribers import rules
from aggregator.subscribers.service import apply, confirm_url, resolve, signup
from aggregator.subscribers.tokens import Purpose, TokenError, TokenFault, Tokens
from aggregator.web.clients import client_address
from aggregator.web.forms import POSTED, is_email
from aggregator.web.language import offered_languages
from aggregator.web.pages import language_of, message, page, words
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = [
    "SUBSCRIBERS_KEY",
    "SubscriberState",
    "edition_choices",
    "get_confirm",
    "get_subscribe",
    "post_confirm",
    "post_subscribe",
    "resolved_token",
    "token_refused",
]

log = logging.getLogger(__name__)
EDITION_FIELD = "edition-"


@dataclass
class SubscriberState:
    """The subscription pages' own state beside ``MemberState``: the signup limiter, the
    mail sender, and the token maker (keyed from the site secret on first use)."""

    limiter: TokenBucket
    sender: SenderFactory
    tokens_value: Tokens | None = None

    def tokens(self, request: web.Request) -> Tokens:
        if self.tokens_value is None:
            members = request.app[MEMBERS_KEY]
            secret = load_secret(members.settings.base_dir, members.environ)
            self.tokens_value = Tokens(secret, members.now)
        return self.tokens_value


SUBSCRIBERS_KEY = web.AppKey("subscribers", SubscriberState)


@dataclass(frozen=True, slots=True)
class EditionChoice:
    name: str
    language: str | None  # its autonym, or None for every language
    checked: bool


def edition_choices(
    settings: config.Settings, language: str, chosen: Sequence[str] | None
) -> list[EditionChoice]:
    """The editions a reader of ``language`` can choose: those in that language or in every
    language.  With nothing chosen yet, every one of them is ticked."""
    found = []
    for edition in settings.digest.editions:
        own = base_language(edition.language) if edition.language else None
        if own is not None and own != language:
            continue
        checked = chosen is None or edition.name in chosen
        found.append(EditionChoice(edition.name, autonym(own) if own else None, checked))
    return found


def chosen_editions(form: Mapping[str, str], settings: config.Settings) -> list[str]:
    names = {e.name for e in settings.digest.editions}
    picked = [k.removeprefix(EDITION_FIELD) for k in form if k.startswith(EDITION_FIELD)]
    return [n for n in picked if n in names]


def _form(
    request: web.Request,
    token: str,
    *,
    values: Mapping[str, str] | None = None,
    chosen: Sequence[str] | None = None,
    errors: Sequence[str] = (),
    status: int = 200,
) -> web.Response:
    settings = request.app[MEMBERS_KEY].settings
    language = (values or {}).get("language") or language_of(request)
    return page(
        request,
        "subscribe.html",
        status=status,
        csrf=token,
        languages=[(code, autonym(code)) for code in offered_languages(settings)],
        editions=edition_choices(settings, language, chosen),
        values=dict(values or {}),
        errors=list(errors),
        version=settings.subscribers.consent_version,
    )


async def get_subscribe(request: web.Request) -> web.Response:
    return _form(request, await csrf_token(request))


def signup_errors(
    form: Mapping[str, str], editions: Sequence[str], offered: Sequence[str], t: Translator
) -> list[str]:
    """What the visitor must fix, in their language; empty when the form is usable."""
    errors = []
    if not is_email(form.get("address", "")):
        errors.append(t.gettext("Give your e-mail address, such as name@city.example."))
    if form.get("language") not in offered:
        errors.append(t.gettext("Choose the language you want to read the digest in."))
    if not editions:
        errors.append(t.gettext("Choose at least one edition."))
    if form.get("consent") != "yes":
        errors.append(t.gettext("Tick the box to agree to receive the digest."))
    return errors


async def post_subscribe(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    state = request.app[SUBSCRIBERS_KEY]
    posted = request[POSTED]
    form, settings = posted.form, members.settings
    editions = chosen_editions(form, settings)
    errors = signup_errors(form, editions, offered_languages(settings), words(request))
    if errors:
        return _form(request, posted.token, values=form, chosen=editions, errors=errors, status=422)
    client = client_address(request)
    if not state.limiter.take(client):
        text = words(request).gettext("Too many signups from your address; please try again later.")
        wait = str(state.limiter.retry_after(client))
        return message(request, 429, text, headers={"Retry-After": wait})
    store = await asyncio.to_thread(members.store)
    sub = await asyncio.to_thread(
        signup, store, settings, form["address"], form["language"], editions, members.now()
    )
    if sub is not None:
        await _mail_confirmation(request, sub)
    return page(request, "subscribe_sent.html", hours=settings.subscribers.confirm_hours)


async def _mail_confirmation(request: web.Request, sub: Subscriber) -> None:
    """Mail the link; a failure is logged for the operator, and the visitor's page does not
    change (it would tell a stranger whether the address is known)."""
    members = request.app[MEMBERS_KEY]
    state = request.app[SUBSCRIBERS_KEY]
    url = confirm_url(members.settings, state.tokens(request), sub)
    result = await asyncio.to_thread(
        send_confirmation, members.settings, sub, url, members.now(), state.sender
    )
    if not result.ok:
        log.warning("confirmation mail for subscriber %s not sent: %s", sub.id, result.error)


def token_refused(request: web.Request, fault: TokenFault) -> web.Response:
    """The page for a link that cannot be used: why, and what to do instead."""
    t = words(request)
    if fault is TokenFault.EXPIRED:
        text = t.gettext("This link has expired. Sign up again, or use the link of a newer digest.")
        return page(request, "link_refused.html", status=410, message=text)
    if fault is TokenFault.STALE:
        text = t.gettext(
            "This link is no longer valid: the subscription it was made for has changed."
        )
        return page(request, "link_refused.html", status=410, message=text)
    text = t.gettext("This link is not valid. Check that it was copied whole from the message.")
    return page(request, "link_refused.html", status=400, message=text)


async def resolved_token(
    request: web.Request, purpose: Purpose, token: str
) -> Subscriber | TokenFault:
    """The subscriber a link's token names, or why it cannot be used."""
    members = request.app[MEMBERS_KEY]
    tokens = request.app[SUBSCRIBERS_KEY].tokens(request)
    store = await asyncio.to_thread(members.store)
    try:
        return await asyncio.to_thread(resolve, store, members.settings, tokens, purpose, token)
    except TokenError as exc:
        return exc.fault


async def get_confirm(request: web.Request) -> web.Response:
    """The confirmation page: a button, nothing else happens here."""
    token = request.query.get("t", "")
    found = await resolved_token(request, Purpose.CONFIRM, token)
    if isinstance(found, TokenFault):
        return token_refused(request, found)
    return page(request, "confirm.html", csrf=await csrf_token(request), token=token)


async def post_confirm(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    token = request[POSTED].form.get("t", "")
    found = await resolved_token(request, Purpose.CONFIRM, token)
    if isinstance(found, TokenFault):
        return token_refused(request, found)
    decision = rules.confirm(found, members.now())
    if isinstance(decision, rules.Refusal):
        return token_refused(request, TokenFault.STALE)
    store = await asyncio.to_thread(members.store)
    await asyncio.to_thread(apply, store, decision, members.now())
    return page(request, "confirmed.html", site_url=members.settings.site.base_url)

"""``/preferences`` and ``/unsubscribe``: what a digest's links open, one subscription each.

Every digest carries the recipient's own signed token (``subscribers.tokens``, purpose
``manage``) in two links: the preference page (language, editions, or leave) and the
unsubscribe page.  The token names one subscription and nothing else, so a forwarded digest
lets its reader change that subscription only, never the address, never another one; the page
shows the address masked.

``/unsubscribe`` is also the ``List-Unsubscribe`` URL.  A POST carrying
``List-Unsubscribe=One-Click`` (RFC 8058, sent by the mailbox provider, without cookies or
CSRF token) unsubscribes at once and answers a short text; a GET shows a page whose button
(a CSRF-checked POST) does it, since mail scanners open every link.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from aggregator.i18n import autonym
from aggregator.store.subscribers import Status, Subscriber
from aggregator.subscribers import rules
from aggregator.subscribers.service import apply, leave
from aggregator.subscribers.tokens import Purpose, TokenFault
from aggregator.web.forms import POSTED
from aggregator.web.language import LANGUAGE, offered_languages
from aggregator.web.pages import forbidden, page
from aggregator.web.session import csrf_token, keep_language, posted_token
from aggregator.web.state import MEMBERS_KEY
from aggregator.web.subscribe import chosen_editions, edition_choices, resolved_token, token_refused

__all__ = [
    "get_preferences",
    "get_unsubscribe",
    "mask",
    "post_preferences",
    "post_unsubscribe",
]

ONE_CLICK = "One-Click"


def mask(address: str) -> str:
    """``a•••@city.example``: enough for the owner to recognise, little for a stranger."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def _preferences_page(
    request: web.Request,
    sub: Subscriber,
    token: str,
    csrf: str,
    *,
    saved: bool = False,
    status: int = 200,
) -> web.Response:
    settings = request.app[MEMBERS_KEY].settings
    return page(
        request,
        "preferences.html",
        status=status,
        csrf=csrf,
        token=token,
        address=mask(sub.address),
        active=sub.status in (Status.CONFIRMED, Status.PENDING),
        current=sub.language,
        languages=[(code, autonym(code)) for code in offered_languages(settings)],
        editions=edition_choices(settings, sub.language, sub.editions),
        saved=saved,
    )


async def get_preferences(request: web.Request) -> web.Response:
    token = request.query.get("t", "")
    found = await resolved_token(request, Purpose.MANAGE, token)
    if isinstance(found, TokenFault):
        return token_refused(request, found)
    return _preferences_page(request, found, token, await csrf_token(request))


async def post_preferences(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    posted = request[POSTED]
    token = posted.form.get("t", "")
    found = await resolved_token(request, Purpose.MANAGE, token)
    if isinstance(found, TokenFault):
        return token_refused(request, found)
    settings = members.settings
    language = posted.form.get("language", "")
    if language not in offered_languages(settings):
        language = found.language
    editions = chosen_editions(posted.form, settings)
    if not editions:  # no edition left ticked: that is leaving
        return await _leave(request, found, "preferences")
    decision = rules.change_preferences(found, language, editions, members.now())
    if isinstance(decision, rules.Refusal):
        return _preferences_page(request, found, token, posted.token, status=409)
    store = await asyncio.to_thread(members.store)
    sub = await asyncio.to_thread(apply, store, decision, members.now())
    request[LANGUAGE] = sub.language  # the answer in the language just chosen
    await keep_language(request, sub.language)
    return _preferences_page(request, sub, token, posted.token, saved=True)


async def get_unsubscribe(request: web.Request) -> web.Response:
    token = request.query.get("t", "")
    found = await resolved_token(request, Purpose.MANAGE, token)
    if isinstance(found, TokenFault):
        return token_refused(request, found)
    csrf = await csrf_token(request)
    return page(request, "unsubscribe.html", csrf=csrf, token=token, address=mask(found.address))


async def post_unsubscribe(request: web.Request) -> web.StreamResponse:
    """The page's button (CSRF-checked), or RFC 8058's one-click POST (token only)."""
    posted = request[POSTED]
    token = request.query.get("t") or posted.form.get("t", "")
    one_click = posted.form.get("List-Unsubscribe") == ONE_CLICK
    if not one_click and await posted_token(request, posted.form) is None:
        return forbidden(request)
    found = await resolved_token(request, Purpose.MANAGE, token)
    if isinstance(found, TokenFault):
        if one_click:
            return web.Response(
                status=400 if found is TokenFault.TAMPERED else 410, text=found.value
            )
        return token_refused(request, found)
    if one_click:
        members = request.app[MEMBERS_KEY]
        store = await asyncio.to_thread(members.store)
        await asyncio.to_thread(leave, store, found, members.now(), "one-click")
        return web.Response(text="unsubscribed\n", headers={"Cache-Control": "no-store"})
    return await _leave(request, found, "page")


async def _leave(request: web.Request, sub: Subscriber, how: str) -> web.Response:
    members = request.app[MEMBERS_KEY]
    store = await asyncio.to_thread(members.store)
    await asyncio.to_thread(leave, store, sub, members.now(), how)
    return page(request, "left.html", site_url=members.settings.site.base_url)

"""Rendering console pages: the layout's navigation (only what the account may use), the
language switch, and the one-sentence notices.

Every page is in ``request[LANGUAGE]``: the signed-in account's language, else the visitor's
(the gate settles it).  Pages are never cached and carry the site's script-free CSP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from aggregator.accounts.roles import Permission, can
from aggregator.i18n import Translator, autonym, render, translator
from aggregator.web.console.state import ACCOUNT, CSRF
from aggregator.web.language import LANGUAGE, language_switch, offered_languages
from aggregator.web.state import MEMBERS_KEY

__all__ = ["NavItem", "console_page", "language", "notice", "role_names", "see_other", "t"]

CSS = "/console/console.css"


@dataclass(frozen=True, slots=True)
class NavItem:
    href: str
    label: str
    current: bool


def N_(message: str) -> str:
    """Marks a msgid for ``pybabel extract``; it is translated where it is shown."""
    return message


# (path, permission, label): the label is a msgid, translated when the layout is rendered
_NAV: tuple[tuple[str, Permission | None, str], ...] = (
    ("/console", Permission.DASHBOARD, N_("Dashboard")),
    ("/console/editions", Permission.CURATE, N_("Editions")),
    ("/console/posts", Permission.TAKEDOWN, N_("Posts")),
    ("/console/sources", Permission.SOURCES, N_("Sources")),
    ("/console/moderation", Permission.MODERATE, N_("Moderation")),
    ("/console/subscribers", Permission.SUBSCRIBERS, N_("Subscribers")),
    ("/console/users", Permission.ACCOUNTS, N_("Accounts")),
    ("/console/log", Permission.DASHBOARD, N_("Log")),
    ("/console/account", None, N_("My account")),
)


def role_names(words: Translator) -> dict[str, str]:
    """Each role's name in the page's language."""
    return {
        "admin": words.gettext("administrator"),
        "editor": words.gettext("editor"),
        "moderator": words.gettext("moderator"),
    }


def language(request: web.Request) -> str:
    if LANGUAGE in request:
        return request[LANGUAGE]
    return offered_languages(request.app[MEMBERS_KEY].settings)[0]


def t(request: web.Request) -> Translator:
    """The translator of the page's language, for words a handler writes itself."""
    return translator(language(request))


def _nav(request: web.Request, words: Translator) -> tuple[NavItem, ...]:
    account = request.get(ACCOUNT)
    if account is None:
        return ()
    items = []
    for href, permission, label in _NAV:
        if permission is not None and not can(account.role, permission):
            continue
        here = request.path == href or (href != "/console" and request.path.startswith(href + "/"))
        items.append(NavItem(href, words.gettext(label), here))
    return tuple(items)


def console_page(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> web.Response:
    lang = language(request)
    words = translator(lang)
    settings = request.app[MEMBERS_KEY].settings
    offered = offered_languages(settings)
    account = request.get(ACCOUNT)
    layout = {
        "site_title": settings.site.title,
        "css": CSS,
        "nav": _nav(request, words),
        "account": account,
        # signed in: buttons that save the account's language; signed out: plain links
        "ui_languages": [(code, autonym(code), code == lang) for code in offered],
        "switch": () if account else language_switch(offered, lang, request.path),
        "role_names": role_names(words),
        "back": request.path_qs if request.method == "GET" else "/console",
    }
    if account is not None and "csrf" not in context:
        context["csrf"] = request.get(CSRF, "")
    body = render(f"console/{template}", lang, **layout, **context)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Content-Language": lang, **(headers or {})},
    )


def notice(
    request: web.Request, status: int, text: str, *, headers: Mapping[str, str] | None = None
) -> web.Response:
    """A one-sentence page (``text`` already in the page's language)."""
    return console_page(request, "message.html", status=status, headers=headers, message=text)


def see_other(location: str) -> web.HTTPSeeOther:
    """The answer to a form that worked: back to a page (POST, redirect, GET)."""
    return web.HTTPSeeOther(location=location)

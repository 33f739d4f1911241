"""Rendering the member pages: one template per page, in the visitor's language, never cached,
and the short notices (form too large, form forged or expired) that several pages answer with.

Every page is rendered in ``request[LANGUAGE]``, which the route gate sets before any handler
runs (``web.members``, ``web.language``); the words a handler adds itself come from
``words(request)``, the translator of that same language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from aggregator.i18n import Translator, render, translator
from aggregator.publish.pages import site_logo
from aggregator.web.language import LANGUAGE, language_switch, offered_languages, switch_target
from aggregator.web.state import MEMBERS_KEY

__all__ = ["forbidden", "language_of", "message", "page", "too_large", "words"]


def language_of(request: web.Request) -> str:
    """The visitor's language (the gate sets it; the site's first language otherwise)."""
    if LANGUAGE in request:
        return request[LANGUAGE]
    return offered_languages(request.app[MEMBERS_KEY].settings)[0]


def words(request: web.Request) -> Translator:
    """The translator of the visitor's language, for the words a handler writes itself."""
    return translator(language_of(request))


def _layout(request: web.Request, language: str) -> dict[str, Any]:
    """What the layout around every member page needs."""
    settings = request.app[MEMBERS_KEY].settings
    return {
        "site_title": settings.site.title_in(language),
        "css": "/static/site.css",
        "logo": site_logo(settings.site.logo, settings.site.base_url, "/"),
        "switch": language_switch(offered_languages(settings), language, switch_target(request)),
    }


def page(
    request: web.Request,
    template: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> web.Response:
    language = language_of(request)
    body = render(f"members/{template}", language, **_layout(request, language), **context)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Content-Language": language, **(headers or {})},
    )


def message(
    request: web.Request,
    status: int,
    text: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A one-sentence notice page (``text`` already in the visitor's language) with a link
    back to the form."""
    return page(request, "message.html", status=status, headers=headers, message=text)


def too_large(request: web.Request) -> web.Response:
    return message(request, 413, words(request).gettext("The form is too large."))


def forbidden(request: web.Request) -> web.Response:
    """The answer to a POST without its session's CSRF token."""
    text = words(request).gettext(
        "This form has expired or was not sent from this site. Reload the page and try again."
    )
    return message(request, 403, text)

"""Rendering the member pages: one template per page, never cached, and the short notices
(form too large, form forged or expired) that several pages answer with."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from aggregator import config
from aggregator.i18n.templating import render

__all__ = ["forbidden", "message", "page", "site_context", "too_large"]


def site_context(settings: config.Settings) -> dict[str, Any]:
    """What the layout around every member page needs."""
    return {"site_title": settings.site.title, "css": "/static/site.css"}


def page(
    template: str, *, status: int = 200, headers: Mapping[str, str] | None = None, **context: Any
) -> web.Response:
    body = render(f"members/{template}", **context)
    return web.Response(
        text=body,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def message(
    settings: config.Settings,
    status: int,
    text: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """A one-sentence notice page with a link back to the form."""
    return page(
        "message.html", status=status, headers=headers, message=text, **site_context(settings)
    )


def too_large(settings: config.Settings) -> web.Response:
    return message(settings, 413, "The form is too large.")


def forbidden(settings: config.Settings) -> web.Response:
    """The answer to a POST without its session's CSRF token."""
    return message(
        settings,
        403,
        "This form has expired or was not sent from this site. Reload the page and try again.",
    )

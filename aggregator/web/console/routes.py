"""The console's routes and the gate each passes: session, language, sign-in, role, form.

In order, for every console request:

1. **Session** (the member pages' encrypted cookie, ``web.session``).
2. **Language**: the signed-in account's, else the visitor's (``web.language``).
3. **Sign-in**: pages other than sign-in and reset need a signed-in account, else they answer
   with a redirect to the sign-in page that comes back here afterwards.
4. **Role**: the page's permission (``accounts.roles``); without it, a 403 page that says so.
   The navigation only shows what the role may use, and the gate enforces it.
5. **Every POST**: the body and fields within the console's limits (else 413), then the
   session's CSRF token (else the 403 refusal page).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from aggregator.accounts.passwords import Hasher
from aggregator.accounts.roles import Permission, can
from aggregator.i18n.templating import TEMPLATES_DIR
from aggregator.newsletter.mail import SenderFactory, SmtpSender
from aggregator.web.console import (
    auth,
    dashboard,
    editions,
    moderation,
    posts,
    sources,
    subscribers,
    users,
)
from aggregator.web.console.pages import notice, t
from aggregator.web.console.state import ACCOUNT, CONSOLE_KEY, CSRF, ConsoleState
from aggregator.web.forms import POSTED, Posted, read_form
from aggregator.web.language import LANGUAGE, offered_languages, visitor_language
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.session import csrf_token, load_secret, posted_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["FIELD_LIMITS", "add_console_routes"]

MAX_BODY_BYTES = 64 * 1024
FIELD_LIMITS: Mapping[str, int] = {
    "csrf": 128,
    "email": 254,
    "password": 256,
    "password2": 256,
    "current": 256,
    "next": 500,
    "back": 1000,
    "role": 20,
    "language": 35,
    "reason": 500,
    "post": 500,
    "note": 4000,
    "subject": 1000,  # editions.SUBJECT_LIMIT (300) is checked with its own message
    "to": 254,
    "send_at": 20,
    "editions": 500,
}
PUBLIC = None  # a page anyone may open (sign-in, reset)
SIGNED_IN = "signed-in"  # a page every signed-in account may open


@dataclass(frozen=True, slots=True)
class Page:
    method: str
    path: str
    handler: Handler
    needs: Permission | str | None


_EDIT = r"{action:exclude|include|feature|unfeature|up|down|note|subject|test}"
PAGES = (
    Page(hdrs.METH_GET, "/console/login", auth.get_login, PUBLIC),
    Page(hdrs.METH_POST, "/console/login", auth.post_login, PUBLIC),
    Page(hdrs.METH_POST, "/console/logout", auth.post_logout, PUBLIC),
    Page(hdrs.METH_GET, "/console/reset", auth.get_reset, PUBLIC),
    Page(hdrs.METH_POST, "/console/reset", auth.post_reset, PUBLIC),
    Page(hdrs.METH_GET, "/console/reset/{token}", auth.get_reset_token, PUBLIC),
    Page(hdrs.METH_POST, "/console/reset/{token}", auth.post_reset_token, PUBLIC),
    Page(hdrs.METH_GET, "/console", dashboard.get_dashboard, Permission.DASHBOARD),
    Page(hdrs.METH_GET, "/console/log", dashboard.get_log, Permission.DASHBOARD),
    Page(hdrs.METH_GET, "/console/sources", sources.get_sources, Permission.SOURCES),
    Page(
        hdrs.METH_POST,
        r"/console/sources/{source}/{action:disable|enable|remove|restore}",
        sources.post_source,
        Permission.SOURCES,
    ),
    Page(hdrs.METH_GET, "/console/posts", posts.get_posts, Permission.TAKEDOWN),
    Page(
        hdrs.METH_POST,
        r"/console/posts/{action:hide|unhide}",
        posts.post_visibility,
        Permission.TAKEDOWN,
    ),
    Page(hdrs.METH_GET, "/console/editions", editions.get_editions, Permission.CURATE),
    Page(hdrs.METH_GET, "/console/editions/{name}", editions.get_edition, Permission.CURATE),
    Page(
        hdrs.METH_GET, "/console/editions/{name}/draft", editions.get_draft_html, Permission.CURATE
    ),
    Page(
        hdrs.METH_POST,
        f"/console/editions/{{name}}/{_EDIT}",
        editions.post_edition,
        Permission.CURATE,
    ),
    Page(
        hdrs.METH_POST,
        r"/console/editions/{name}/{action:send|schedule|unschedule}",
        editions.post_edition,
        Permission.SEND,
    ),
    Page(hdrs.METH_GET, "/console/moderation", moderation.get_moderation, Permission.MODERATE),
    Page(
        hdrs.METH_POST,
        r"/console/moderation/{action:approve|reject}/{ident:\d{1,12}}",
        moderation.post_decision,
        Permission.MODERATE,
    ),
    Page(
        hdrs.METH_GET, "/console/subscribers", subscribers.get_subscribers, Permission.SUBSCRIBERS
    ),
    Page(
        hdrs.METH_GET,
        "/console/subscribers/export.csv",
        subscribers.get_export,
        Permission.SUBSCRIBERS,
    ),
    Page(hdrs.METH_POST, "/console/subscribers/add", subscribers.post_add, Permission.SUBSCRIBERS),
    Page(
        hdrs.METH_POST,
        "/console/subscribers/remove",
        subscribers.post_remove,
        Permission.SUBSCRIBERS,
    ),
    Page(hdrs.METH_GET, "/console/users", users.get_users, Permission.ACCOUNTS),
    Page(hdrs.METH_POST, "/console/users", users.post_users, Permission.ACCOUNTS),
    Page(
        hdrs.METH_POST,
        r"/console/users/{ident:\d{1,12}}/{action:role|reset|remove}",
        users.post_user,
        Permission.ACCOUNTS,
    ),
    Page(hdrs.METH_GET, "/console/account", users.get_account, SIGNED_IN),
    Page(hdrs.METH_POST, "/console/account", users.post_account, SIGNED_IN),
    Page(hdrs.METH_POST, "/console/language", users.post_language, SIGNED_IN),
)


async def _checks(page: Page, request: web.Request) -> web.StreamResponse:
    members = request.app[MEMBERS_KEY]
    offered = offered_languages(members.settings)
    account = await auth.signed_in(request)
    if account is not None:
        request[ACCOUNT] = account
        request[CSRF] = await csrf_token(request)
    own = account.language if account is not None and account.language in offered else None
    request[LANGUAGE] = own or await visitor_language(request, offered)
    if page.needs is not PUBLIC:
        if account is None:
            if request.method != hdrs.METH_GET:
                return _forbidden(request)
            raise web.HTTPSeeOther(
                location="/console/login?" + urlencode({"next": request.path_qs})
            )
        if isinstance(page.needs, Permission) and not can(account.role, page.needs):
            text = t(request).gettext("Your role does not give access to this page.")
            return notice(request, 403, text)
    if request.method == hdrs.METH_POST:
        form = await read_form(request, FIELD_LIMITS, MAX_BODY_BYTES)
        if form is None:
            return notice(request, 413, t(request).gettext("The form is too large."))
        token = await posted_token(request, form)
        if token is None:
            return _forbidden(request)
        request[POSTED] = Posted(form, token)
    return await page.handler(request)


def _forbidden(request: web.Request) -> web.Response:
    """A POST without its session's CSRF token (or from a session that ended)."""
    text = t(request).gettext(
        "This form has expired or was not sent from this site. Reload the page and try again."
    )
    return notice(request, 403, text)


def _gate(page: Page) -> Handler:
    async def gated(request: web.Request) -> web.StreamResponse:
        sessions = request.app[MEMBERS_KEY].sessions()
        return await sessions(request, partial(_checks, page))

    return gated


async def _stylesheet(request: web.Request) -> web.StreamResponse:
    """The console's own stylesheet, served by the product (no CDN, no third party)."""
    return web.FileResponse(
        Path(TEMPLATES_DIR) / "console" / "console.css",
        headers={"Cache-Control": "public, max-age=300", "Content-Type": "text/css; charset=utf-8"},
    )


async def _home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPMovedPermanently(location="/console")


async def _admin_moved(request: web.Request) -> web.StreamResponse:
    """``/admin`` (HTTP Basic) is retired: moderation lives in the console."""
    raise web.HTTPMovedPermanently(location="/console/moderation")


def add_console_routes(
    app: web.Application,
    *,
    hasher: Hasher | None = None,
    sender: SenderFactory = SmtpSender,
    monotonic: Callable[[], float] = time.monotonic,
    logins_per_hour: int = 50,
    resets_per_hour: int = 5,
) -> None:
    """Put ``/console`` on ``app`` (after ``add_member_routes``, before any catch-all)."""
    members = app[MEMBERS_KEY]

    def secret() -> bytes:
        return load_secret(members.settings.base_dir, members.environ)

    app[CONSOLE_KEY] = ConsoleState(
        hasher=hasher or Hasher(),
        sender=sender,
        login_limiter=TokenBucket(logins_per_hour, 3600.0, clock=monotonic),
        reset_limiter=TokenBucket(resets_per_hour, 3600.0, clock=monotonic),
        secret=secret,
    )
    app.router.add_get("/console/console.css", _stylesheet)
    app.router.add_get("/admin", _admin_moved)
    app.router.add_get("/console/", _home)
    for page in PAGES:
        if page.method == hdrs.METH_GET:
            app.router.add_get(page.path, _gate(page))
        else:
            app.router.add_route(page.method, page.path, _gate(page))

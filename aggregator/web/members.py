"""The member pages' routes, and the one gate every one of them passes.

``add_member_routes`` puts ``/submit`` (``web.submit``), ``/sources`` (``web.sources``) and
the subscription pages (``web.subscribe``: ``/subscribe``, ``/subscribe/confirm``;
``web.preferences``: ``/preferences``, ``/unsubscribe``) on the ``serve`` application;
moderation lives in the staff console (``web.console``).  Each handler is wrapped by ``_gate``,
which is where the defences against abuse of a public form live, in this order:

1. **Sessions** (``web.session``): aiohttp-session's encrypted cookie, HttpOnly,
   SameSite=Strict, Secure over https.  Static files never go through it.  The visitor's
   language is settled here too (``web.language``: ``?lang=``, the session, the browser), so
   every answer below, refusals included, is in it.
2. **Every POST**: the body and each field within their limits (``web.forms``, else 413), and
   the session's CSRF token in the form (else the 403 refusal page); the one route marked
   ``csrf=False``, RFC 8058's one-click unsubscribe, checks the token of its form's button
   itself and otherwise acts on its signed link only.  Only then does the
   handler run, reading the checked form from ``request[POSTED]``.

Templates are autoescaped and every member page carries the static site's security headers
(no scripts at all).  Previews are rate limited per client (``web.ratelimit``).

Test-only hook: ``add_member_routes(..., discoverer=...)`` replaces the discovery function.  It
is a Python argument and nothing else: no setting, environment variable or request can reach it.
The browser test uses it to let a submission reach a feed served on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from aggregator import config
from aggregator.newsletter.mail import SenderFactory, SmtpSender
from aggregator.store import open_store
from aggregator.store.protocol import Store
from aggregator.web import clients, preferences, search, sources, submit, subscribe
from aggregator.web.drafts import Drafts
from aggregator.web.forms import POSTED, Posted, read_form
from aggregator.web.language import LANGUAGE, offered_languages, visitor_language
from aggregator.web.pages import forbidden, too_large
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.security import SECURITY_HEADERS
from aggregator.web.session import posted_token
from aggregator.web.state import MEMBERS_KEY, Discoverer, MemberState

__all__ = ["add_member_routes"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    csrf: bool = True  # False: the handler checks the POST itself (RFC 8058 one-click)


ROUTES = (
    Route(hdrs.METH_GET, "/submit", submit.get_submit),
    Route(hdrs.METH_POST, "/submit", submit.post_submit),
    Route(hdrs.METH_POST, "/submit/confirm", submit.post_confirm),
    Route(hdrs.METH_GET, "/sources", sources.get_sources),
    Route(hdrs.METH_GET, "/subscribe", subscribe.get_subscribe),
    Route(hdrs.METH_POST, "/subscribe", subscribe.post_subscribe),
    Route(hdrs.METH_GET, "/subscribe/confirm", subscribe.get_confirm),
    Route(hdrs.METH_POST, "/subscribe/confirm", subscribe.post_confirm),
    Route(hdrs.METH_GET, "/preferences", preferences.get_preferences),
    Route(hdrs.METH_POST, "/preferences", preferences.post_preferences),
    Route(hdrs.METH_GET, "/unsubscribe", preferences.get_unsubscribe),
    Route(hdrs.METH_POST, "/unsubscribe", preferences.post_unsubscribe, csrf=False),
    Route(hdrs.METH_GET, "/search", search.get_search),
    Route(hdrs.METH_GET, "/search.atom", search.get_search_atom),
)


async def _checks(route: Route, request: web.Request) -> web.StreamResponse:
    """The visitor's language, step 2 of the module docstring, then the handler."""
    members = request.app[MEMBERS_KEY]
    offered = offered_languages(members.settings)
    request[LANGUAGE] = await visitor_language(request, offered)
    if request.method == hdrs.METH_POST:
        form = await read_form(request)
        if form is None:
            return too_large(request)
        token = await posted_token(request, form) if route.csrf else ""
        if token is None:
            return forbidden(request)
        request[POSTED] = Posted(form, token)
    return await route.handler(request)


def _gate(route: Route) -> Handler:
    async def gated(request: web.Request) -> web.StreamResponse:
        sessions = request.app[MEMBERS_KEY].sessions()
        return await sessions(request, partial(_checks, route))

    return gated


def _open_store(settings: config.Settings) -> Callable[[], Store]:
    def opener() -> Store:
        return open_store(settings.storage_url)

    return opener


def add_member_routes(
    app: web.Application,
    settings: config.Settings,
    *,
    discoverer: Discoverer = submit.member_discover,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    store_factory: Callable[[], Store] | None = None,
    env: Mapping[str, str] | None = None,
    submissions_per_hour: int = 5,
    sender: SenderFactory = SmtpSender,
    preview_process: bool | None = None,
) -> None:
    """Add ``/submit`` and ``/sources`` to ``app`` (before its catch-all route).

    ``discoverer`` exists for tests only (see the module docstring); every other argument is
    an injection point for clocks, the store and the environment.  Previews run in a process
    of their own (``web.state``) unless ``preview_process`` is False; by default only the
    production discoverer does, since a test's discoverer records its calls in this process.
    """
    if preview_process is None:
        preview_process = discoverer is submit.member_discover
    environ = os.environ if env is None else env
    app[MEMBERS_KEY] = MemberState(
        settings=settings,
        discoverer=discoverer,
        limiter=TokenBucket(submissions_per_hour, 3600.0, clock=monotonic),
        now=clock,
        drafts=Drafts(monotonic),
        store_factory=store_factory or _open_store(settings),
        owns_store=store_factory is None,
        environ=environ,
        preview_process=preview_process,
    )
    app[subscribe.SUBSCRIBERS_KEY] = subscribe.SubscriberState(
        TokenBucket(settings.subscribers.signups_per_hour, 3600.0, clock=monotonic), sender
    )
    clients.install(app, settings.web.proxy_networks())
    app.on_cleanup.append(_close_store)
    app.on_response_prepare.append(_security_headers)
    for route in ROUTES:
        if route.method == hdrs.METH_GET:
            app.router.add_get(route.path, _gate(route))  # and HEAD, as aiohttp does
        else:
            app.router.add_route(route.method, route.path, _gate(route))


async def _close_store(app: web.Application) -> None:
    members = app[MEMBERS_KEY]
    members.close_work()
    if members.store_value is not None and members.owns_store:
        await asyncio.to_thread(members.store_value.close)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The static site's headers (CSP without scripts, nosniff, no framing) on member pages
    too, even when the app was not built by ``web.make_app``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)

"""``serve``: the published output directory over HTTP, the way feed readers like it.

Enters: the settings (``site.output_dir``) and requests.  Leaves: the published files, through
``web.static`` (aiohttp's ``FileResponse``: strong ETags, Last-Modified, 304s, ranges, and the
gzip twins publish writes for clients that accept gzip), plus the member pages
(``web.members``) and the staff console (``web.console``).

Feed readers poll.  What keeps that cheap for both sides is a validator on every answer and a
304 when nothing changed; since ``publish`` only rewrites files whose bytes changed, an
unchanged feed keeps its validators across cycles.  Only files are served: no listings, no
dotfiles, only known types, nothing outside the output directory (``web.static``).  Every
response carries a strict Content-Security-Policy and ``nosniff``: pages never run scripts, and
feed text must never be sniffed into HTML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from aggregator.clock import Clock, utc_now
from aggregator.config import Settings
from aggregator.i18n.templating import TEMPLATES_DIR
from aggregator.publish.publisher import brand_css
from aggregator.web.access import AccessLogger, access_logger
from aggregator.web.console import add_console_routes
from aggregator.web.health import add_health_routes
from aggregator.web.limits import LIMITS_KEY, MAX_BODY_BYTES, Limits, guard, serve_forever
from aggregator.web.logs import quiet_bad_requests
from aggregator.web.members import add_member_routes
from aggregator.web.security import CSP, DIGEST_CSP, SECURITY_HEADERS
from aggregator.web.state import MEMBERS_KEY
from aggregator.web.static import find_file, send_file

OUTPUT_KEY = web.AppKey("output_root", Path)
STATIC_PREFIX = "static/"
SHIPPED_STATIC = (TEMPLATES_DIR / "static").resolve()  # what publish copies to static/


async def _serve_file(request: web.Request) -> web.StreamResponse:
    tail = request.match_info.get("tail", "")
    try:
        path = find_file(request.app[OUTPUT_KEY], tail)
    except web.HTTPNotFound:
        if not tail.startswith(STATIC_PREFIX):
            raise
        return _shipped(request, tail.removeprefix(STATIC_PREFIX))
    return send_file(path, {"Cache-Control": _cache_control(request.path)})


def _shipped(request: web.Request, name: str) -> web.StreamResponse:
    """A page's stylesheet or logo before the first publish has copied it to the output
    directory: the member pages and the console are served from the start, and looked broken
    (no logo, no colours) until a cycle had published."""
    if name == "brand.css":
        css = brand_css(request.app[MEMBERS_KEY].settings)
        return web.Response(
            text=css, content_type="text/css", headers={"Cache-Control": "no-cache"}
        )
    return send_file(find_file(SHIPPED_STATIC, name), {"Cache-Control": "no-cache"})


def _cache_control(path: str) -> str:
    """Archive pages never change once written; everything else is revalidated often."""
    if path.startswith("/archive/"):
        return "public, max-age=86400"
    return "public, max-age=300"


async def _security_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/digest/") and response.headers["Content-Security-Policy"] == CSP:
        response.headers["Content-Security-Policy"] = DIGEST_CSP


def make_app(
    settings: Settings, *, clock: Clock = utc_now, **member_options: Any
) -> web.Application:
    """The site as an aiohttp application; other routes (member pages) may be added to it.

    ``clock`` is what the member pages and ``/healthz`` call "now" (tests pass a fixed one);
    ``member_options`` go to ``add_member_routes`` (a load bench's discoverer, for one)."""
    quiet_bad_requests()
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    web_settings = settings.web
    guard(
        app,
        Limits(
            head_deadline_s=web_settings.head_deadline_s,
            body_deadline_s=web_settings.body_deadline_s,
            max_connections=web_settings.max_connections,
        ),
    )
    root = settings.output_dir
    root.mkdir(parents=True, exist_ok=True)
    app[OUTPUT_KEY] = root.resolve()
    app.on_response_prepare.append(_security_headers)
    # before the catch-all below, which would shadow them
    add_member_routes(app, settings, clock=clock, **member_options)
    add_console_routes(app)
    add_health_routes(app, clock)
    app.router.add_get("/{tail:.*}", _serve_file, name="static")
    return app


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until interrupted (the CLI's ``serve``), with the deadlines and the connection
    cap of ``web.limits`` and the access log of ``web.access``."""
    app = make_app(settings)
    serve_forever(
        app,
        host,
        port,
        app[LIMITS_KEY],
        access_log=access_logger(),
        access_log_class=AccessLogger,
    )


__all__ = ["CSP", "make_app", "run_server"]

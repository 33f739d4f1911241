"""Member pages on the ``serve`` site: submit a feed, a moderation page, and source health.

A member organisation pastes its feed or site address on ``/submit``; the page runs exactly the
checks of ``feeds add`` with ``member=True`` (so the operator's ``allow_private`` list never
applies: a public form must not make the server fetch from the local network), shows the same
preview, and a confirm step puts the submission in the store's moderation queue.  An operator
approves or rejects it on ``/admin`` or with ``feeds approve ID`` / ``feeds reject ID``.

Defences, each for a concrete abuse of a public form that makes the server fetch URLs:

* **CSRF**: a random session id in an HttpOnly, SameSite=Strict cookie, and in every form an
  HMAC of it under a server secret (``AGGREGATOR_SECRET``, else a random one stored beside
  ``feeds.yaml``).  A forged cross-site POST has neither.
* **Rate limit**: a token bucket per client IP (5 previews an hour by default) with an injected
  clock.  The IP is the TCP peer: behind a reverse proxy every client shares the proxy's bucket,
  which errs on the side of fewer fetches.
* **Size limits** on the request body and on every field; templates are autoescaped; the same
  Content-Security-Policy as the static site (no scripts at all).
* **Admin**: HTTP Basic against ``AGGREGATOR_ADMIN_PASSWORD`` compared in constant time, failed
  attempts rate limited; with the variable unset the admin pages do not exist (404).

Test-only hook: ``add_member_routes(..., discoverer=...)`` replaces the discovery function.  It
is a Python argument and nothing else: no setting, environment variable or request can reach it.
The browser test uses it to let a submission reach a feed served on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.i18n.templating import render
from aggregator.ingest.language import normalise_tag
from aggregator.members import discover, moderation
from aggregator.members.moderation import REASON_LIMIT
from aggregator.store import open_store
from aggregator.store.protocol import Store
from aggregator.store.submissions import PENDING, NewSubmission
from aggregator.web.security import SECURITY_HEADERS

__all__ = [
    "ADMIN_ENV",
    "SECRET_ENV",
    "Discoverer",
    "TokenBucket",
    "add_member_routes",
]

SECRET_ENV = "AGGREGATOR_SECRET"  # noqa: S105 - the variable's name, not a secret
ADMIN_ENV = "AGGREGATOR_ADMIN_PASSWORD"
SECRET_FILE = ".aggregator-secret"  # noqa: S105 - a file name
SESSION_COOKIE = "aggregator_session"
MAX_BODY_BYTES = 16 * 1024
LIMITS: Mapping[str, int] = {
    "url": 2048,
    "organisation": 200,
    "contact": 254,
    "language": 35,
    "reason": REASON_LIMIT,
    "draft": 64,
    "csrf": 128,
}
DRAFT_TTL_S = 3600.0
MAX_DRAFTS = 1000
_EMAIL_RE = re.compile(r"^[^@\s<>,;\"']{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")

Discoverer = Callable[
    [str, config.Settings, datetime], Awaitable[discover.Candidate | discover.Refusal]
]


async def member_discover(
    url: str, settings: config.Settings, now: datetime
) -> discover.Candidate | discover.Refusal:
    """The production discoverer: ``feeds add``'s checks with the member address policy."""
    return await discover.discover_async(url, settings, member=True, now=now)


# --------------------------------------------------------------------------------------------
# Rate limiting


class TokenBucket:
    """``capacity`` tokens per key, refilled continuously over ``period_s``; ``clock`` injected.

    Keys idle long enough to be full again are forgotten, so memory stays bounded by the
    clients of the last period (and by ``max_keys``, oldest first).
    """

    def __init__(
        self,
        capacity: int = 5,
        period_s: float = 3600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / period_s
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, *, spend: bool = True) -> bool:
        """Spend one token of ``key``; False when it has none left.  ``spend=False`` only
        looks (a login is refused while the bucket is empty, but only failures spend)."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed and spend:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` has a token again (for the Retry-After header)."""
        with self._lock:
            tokens, _ = self._buckets.get(key, (self.capacity, 0.0))
        return max(1, int((1.0 - tokens) / self.rate) + 1)


# --------------------------------------------------------------------------------------------
# Application state


@dataclass
class _Draft:
    """A previewed submission waiting for the member's confirmation (kept in memory)."""

    session: str
    submission: NewSubmission
    created: float


@dataclass
class _Members:
    settings: config.Settings
    discoverer: Discoverer
    limiter: TokenBucket
    login_limiter: TokenBucket
    now: Callable[[], datetime]
    monotonic: Callable[[], float]
    store_factory: Callable[[], Store]
    admin_password: str | None
    secret_value: bytes | None = None
    store_value: Store | None = None
    owns_store: bool = True
    drafts: OrderedDict[str, _Draft] = field(default_factory=OrderedDict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> Store:
        """Opened on first use, so serving static files never needs the database."""
        with self.lock:
            if self.store_value is None:
                self.store_value = self.store_factory()
            return self.store_value

    def secret(self) -> bytes:
        with self.lock:
            if self.secret_value is None:
                self.secret_value = load_secret(self.settings.base_dir, os.environ)
            return self.secret_value

    def current_settings(self) -> config.Settings:
        """feeds.yaml as it is now (an approval may have added sources since start-up)."""
        try:
            return config.load(self.settings.path)
        except ConfigError:
            return self.settings

    def put_draft(self, draft: _Draft) -> str:
        key = secrets.token_urlsafe(24)
        with self.lock:
            self._expire_drafts()
            self.drafts[key] = draft
            while len(self.drafts) > MAX_DRAFTS:
                self.drafts.popitem(last=False)
        return key

    def take_draft(self, key: str, session: str) -> _Draft | None:
        with self.lock:
            self._expire_drafts()
            draft = self.drafts.get(key)
            if draft is None or not hmac.compare_digest(draft.session, session):
                return None
            del self.drafts[key]
            return draft

    def _expire_drafts(self) -> None:
        limit = self.monotonic() - DRAFT_TTL_S
        for key in [k for k, d in self.drafts.items() if d.created < limit]:
            del self.drafts[key]


MEMBERS_KEY = web.AppKey("members", _Members)


def load_secret(base_dir: Path, env: Mapping[str, str]) -> bytes:
    """``AGGREGATOR_SECRET``, else a random secret kept in ``.aggregator-secret`` (mode 600)."""
    value = env.get(SECRET_ENV, "").strip()
    if value:
        return value.encode("utf-8")
    path = base_dir / SECRET_FILE
    try:
        stored = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        stored = ""
    if len(stored) >= 32:
        return stored.encode("ascii")
    fresh = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(fresh + "\n")
    return fresh.encode("ascii")


# --------------------------------------------------------------------------------------------
# Sessions and CSRF


def _csrf_for(secret: bytes, session: str) -> str:
    return hmac.new(secret, f"csrf:{session}".encode(), hashlib.sha256).hexdigest()


def _session(request: web.Request) -> str | None:
    value = request.cookies.get(SESSION_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.isascii() else None


def _with_session(request: web.Request) -> tuple[str, bool]:
    """The request's session id, or a new one (True: the response must set the cookie)."""
    found = _session(request)
    return (found, False) if found else (secrets.token_urlsafe(32), True)


def _set_cookie(response: web.Response, request: web.Request, session: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
        path="/",
    )


def _csrf_ok(members: _Members, request: web.Request, form: Mapping[str, str]) -> str | None:
    """The session id when the form's token matches it; None for a forged or stale form."""
    session = _session(request)
    token = form.get("csrf", "")
    if session is None or not token:
        return None
    if not hmac.compare_digest(_csrf_for(members.secret(), session), token):
        return None
    return session


# --------------------------------------------------------------------------------------------
# Pages


def _page(
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


def _base(members: _Members) -> dict[str, Any]:
    return {"site_title": members.settings.site.title, "css": "/static/site.css"}


async def _read_form(request: web.Request) -> dict[str, str] | None:
    """The posted fields, or None when the body is too large or a field too long."""
    if request.content_length is None or request.content_length > MAX_BODY_BYTES:
        return None
    data = await request.post()
    form: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            return None
        limit = LIMITS.get(key)
        if limit is None:
            continue
        if len(value) > limit:
            return None
        form[key] = value.strip()
    return form


def _submit_form(
    members: _Members,
    session: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: list[str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> web.Response:
    return _page(
        "submit.html",
        status=status,
        csrf=_csrf_for(members.secret(), session),
        languages=members.settings.site.languages,
        values=dict(values or {}),
        errors=errors or [],
        refusal=refusal,
        limits=LIMITS,
        **_base(members),
    )


async def get_submit(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    session, fresh = _with_session(request)
    response = _submit_form(members, session)
    if fresh:
        _set_cookie(response, request, session)
    return response


def _has_controls(text: str) -> bool:
    return any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def _field_errors(form: Mapping[str, str], languages: list[str]) -> list[str]:
    errors = []
    if any(_has_controls(value) for value in form.values()):
        errors.append("Remove the control characters (line breaks, tabs…) from the fields.")
    if not form.get("url"):
        errors.append("Give the address of your feed or of your site.")
    if not form.get("organisation"):
        errors.append("Give your organisation's name.")
    if not _EMAIL_RE.match(form.get("contact", "")):
        errors.append("Give a contact e-mail address, such as web@city.example.")
    if normalise_tag(form.get("language")) not in languages:
        errors.append(f"Choose one of the languages: {', '.join(languages)}.")
    return errors


def _preview_json(found: discover.Candidate) -> str:
    return json.dumps(
        {
            "format": found.format,
            "title": found.title,
            "homepage": found.homepage,
            "language": found.language,
            "entry_count": found.entry_count,
            "found_by": found.found_by,
            "latest": [
                {
                    "title": e.title,
                    "link": e.link,
                    "published": e.published.isoformat(),
                    "excerpt": e.excerpt,
                }
                for e in found.latest
            ],
        },
        ensure_ascii=False,
    )


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def post_submit(request: web.Request) -> web.Response:
    """Check the form, run discovery and show the preview with a confirm button."""
    members = request.app[MEMBERS_KEY]
    form = await _read_form(request)
    if form is None:
        return _page("message.html", status=413, message="The form is too large.", **_base(members))
    session = _csrf_ok(members, request, form)
    if session is None:
        return _forbidden(members)
    languages = members.settings.site.languages
    errors = _field_errors(form, languages)
    if errors:
        return _submit_form(members, session, values=form, errors=errors, status=422)
    client = _client(request)
    if not members.limiter.take(client):
        wait = members.limiter.retry_after(client)
        return _page(
            "message.html",
            status=429,
            headers={"Retry-After": str(wait)},
            message="Too many submissions from your address; please try again later.",
            **_base(members),
        )
    settings = await asyncio.to_thread(members.current_settings)
    found = await members.discoverer(form["url"], settings, members.now())
    if isinstance(found, discover.Refusal):
        return _submit_form(members, session, values=form, refusal=found.message, status=422)
    store = await asyncio.to_thread(members.store)
    waiting = await asyncio.to_thread(store.pending_with_feed, found.url)
    if waiting is not None:
        message = f"{found.url} was already submitted and is waiting for review."
        return _submit_form(members, session, values=form, refusal=message, status=422)
    new = NewSubmission(
        url=form["url"],
        feed_url=found.url,
        organisation=" ".join(form["organisation"].split()),
        contact=form["contact"],
        language=normalise_tag(form["language"]) or languages[0],
        preview_json=_preview_json(found),
    )
    draft = members.put_draft(_Draft(session, new, members.monotonic()))
    return _page(
        "preview.html",
        csrf=_csrf_for(members.secret(), session),
        draft=draft,
        found=found,
        submission=new,
        **_base(members),
    )


def _forbidden(members: _Members) -> web.Response:
    return _page(
        "message.html",
        status=403,
        message="This form has expired or was not sent from this site. Reload the page and try "
        "again.",
        **_base(members),
    )


async def post_confirm(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    form = await _read_form(request)
    if form is None:
        return _page("message.html", status=413, message="The form is too large.", **_base(members))
    session = _csrf_ok(members, request, form)
    if session is None:
        return _forbidden(members)
    draft = members.take_draft(form.get("draft", ""), session)
    if draft is None:
        return _page(
            "message.html",
            status=410,
            message="This preview has expired; please submit the address again.",
            **_base(members),
        )
    store = await asyncio.to_thread(members.store)
    ident = await asyncio.to_thread(store.add_submission, draft.submission, members.now())
    return _page("queued.html", submission=draft.submission, ident=ident, **_base(members))


# --------------------------------------------------------------------------------------------
# Source health


@dataclass(frozen=True, slots=True)
class HealthRow:
    id: str
    name: str
    organisation: str
    state: str  # ok, failing, gone, never fetched
    last_success: datetime | None
    last_error: str | None
    posts_30d: int


def health_rows(store: Store, now: datetime) -> list[HealthRow]:
    sources = store.get_sources()
    states = store.get_states()
    activity = store.source_activity(now - timedelta(days=30))
    rows = []
    for sid, source in sorted(sources.items(), key=lambda i: i[1].name.casefold()):
        act = activity.get(sid)
        if not source.enabled or act is None or not act.configured:
            continue
        st = states.get(sid)
        if st is None or (st.last_fetch is None and st.last_success is None):
            label = "never fetched"
        elif st.gone:
            label = "gone"
        elif st.consecutive_failures:
            label = "failing"
        else:
            label = "ok"
        rows.append(
            HealthRow(
                sid,
                source.name,
                source.organisation,
                label,
                st.last_success if st else None,
                st.last_error if st and st.consecutive_failures else None,
                act.posts_since,
            )
        )
    return rows


async def get_sources(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    store = await asyncio.to_thread(members.store)
    rows = await asyncio.to_thread(health_rows, store, members.now())
    return _page("sources.html", rows=rows, **_base(members))


# --------------------------------------------------------------------------------------------
# Admin


def _basic_password(header: str | None) -> str | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def _admin_denied(members: _Members, request: web.Request) -> web.Response | None:
    """None when the request carries the admin password; else the answer to send."""
    expected = members.admin_password
    if not expected:
        raise web.HTTPNotFound()
    given = _basic_password(request.headers.get("Authorization"))
    if given is not None:
        client = _client(request)
        if not members.login_limiter.take(client, spend=False):
            return _page("message.html", status=429, message="Too many attempts.", **_base(members))
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        members.login_limiter.take(client)  # only a wrong password spends a token
    return _page(
        "message.html",
        status=401,
        headers={"WWW-Authenticate": 'Basic realm="aggregator admin", charset="UTF-8"'},
        message="The moderation page needs the administrator password.",
        **_base(members),
    )


async def get_admin(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    denied = _admin_denied(members, request)
    if denied is not None:
        return denied
    session, fresh = _with_session(request)
    store = await asyncio.to_thread(members.store)
    pending = await asyncio.to_thread(store.list_submissions, PENDING)
    items = [(s, json.loads(s.preview_json or "{}")) for s in pending]
    response = _page(
        "admin.html",
        items=items,
        csrf=_csrf_for(members.secret(), session),
        notice=request.query.get("done", "")[:200],
        **_base(members),
    )
    if fresh:
        _set_cookie(response, request, session)
    return response


async def post_decision(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    denied = _admin_denied(members, request)
    if denied is not None:
        return denied
    form = await _read_form(request)
    if form is None:
        return _page("message.html", status=413, message="The form is too large.", **_base(members))
    if _csrf_ok(members, request, form) is None:
        return _forbidden(members)
    try:
        ident = int(request.match_info["ident"])
    except ValueError:
        raise web.HTTPNotFound() from None
    store = await asyncio.to_thread(members.store)
    now = members.now()
    try:
        if request.match_info["action"] == "approve":
            new = await asyncio.to_thread(
                moderation.approve, store, members.settings.path, ident, now
            )
            done = f"Submission {ident} approved as source {new.id}."
        else:
            await asyncio.to_thread(moderation.reject, store, ident, form.get("reason", ""), now)
            done = f"Submission {ident} rejected."
    except moderation.ApprovalError as exc:
        return _page("message.html", status=409, message=str(exc), **_base(members))
    raise web.HTTPSeeOther(location=f"/admin?done={_quote(done)}")


def _quote(text: str) -> str:
    return quote(text, safe="")


# --------------------------------------------------------------------------------------------
# Wiring


def _open_store(settings: config.Settings) -> Callable[[], Store]:
    def opener() -> Store:
        return open_store(settings.storage_url)

    return opener


def add_member_routes(
    app: web.Application,
    settings: config.Settings,
    *,
    discoverer: Discoverer = member_discover,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    monotonic: Callable[[], float] = time.monotonic,
    store_factory: Callable[[], Store] | None = None,
    env: Mapping[str, str] | None = None,
    submissions_per_hour: int = 5,
) -> None:
    """Add ``/submit``, ``/sources`` and ``/admin`` to ``app`` (before its catch-all route).

    ``discoverer`` exists for tests only (see the module docstring); every other argument is
    an injection point for clocks, the store and the environment.
    """
    environ = os.environ if env is None else env
    members = _Members(
        settings=settings,
        discoverer=discoverer,
        limiter=TokenBucket(submissions_per_hour, 3600.0, clock=monotonic),
        login_limiter=TokenBucket(10, 3600.0, clock=monotonic),
        now=clock,
        monotonic=monotonic,
        store_factory=store_factory or _open_store(settings),
        admin_password=environ.get(ADMIN_ENV) or None,
        owns_store=store_factory is None,
    )
    if environ.get(SECRET_ENV, "").strip():
        members.secret_value = environ[SECRET_ENV].strip().encode("utf-8")
    app[MEMBERS_KEY] = members
    app.on_cleanup.append(_close_store)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/submit", get_submit)
    app.router.add_post("/submit", post_submit)
    app.router.add_post("/submit/confirm", post_confirm)
    app.router.add_get("/sources", get_sources)
    app.router.add_get("/admin", get_admin)
    app.router.add_post(r"/admin/{action:approve|reject}/{ident:\d{1,12}}", post_decision)


async def _close_store(app: web.Application) -> None:
    members = app[MEMBERS_KEY]
    if members.store_value is not None and members.owns_store:
        await asyncio.to_thread(members.store_value.close)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The static site's headers (CSP without scripts, nosniff, no framing) on member pages
    too, even when the app was not built by ``web.make_app``."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)

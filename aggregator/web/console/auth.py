"""Signing in and out, and the password-reset link, on top of the member pages' session.

The session (aiohttp-session's encrypted cookie, ``web.session``) holds the account's id, a
fingerprint of its password hash and when it was last used.  A session whose fingerprint no
longer matches (the password changed, by reset or by an admin) or that was idle longer than
``session_hours`` is signed out.  Signing in starts a fresh session (no fixation) with a new
CSRF token.

Wrong passwords are counted twice: per account (``accounts.lockout``: growing delays, so one
account's attacker never locks out another), and per real client across accounts
(``login_limiter``, keyed by ``web.clients.client_address``, so spraying many accounts from one
place is slow too).  The answer for an unknown address is the same as for a wrong password,
lockout included (``ConsoleState.strangers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from aggregator.accounts import lockout, passwords, tokens
from aggregator.store.staff import Account
from aggregator.web.clients import client_address
from aggregator.web.console.mails import send_reset_link
from aggregator.web.console.pages import console_page, language, notice, see_other, t
from aggregator.web.console.state import CONSOLE_KEY
from aggregator.web.forms import POSTED
from aggregator.web.language import LANGUAGE, offered_languages
from aggregator.web.session import csrf_token, end_session, fresh_session, session_of
from aggregator.web.state import MEMBERS_KEY

__all__ = [
    "get_login",
    "get_reset",
    "get_reset_token",
    "password_problem",
    "post_login",
    "post_logout",
    "post_reset",
    "post_reset_token",
    "signed_in",
]

_ID, _FP, _SEEN = "staff_id", "staff_fp", "staff_seen"


async def signed_in(request: web.Request) -> Account | None:
    """The account this session is signed in as, if the sign-in still holds."""
    session = await session_of(request)
    ident, fp, seen = session.get(_ID), session.get(_FP), session.get(_SEEN)
    if not isinstance(ident, int) or not isinstance(fp, str) or not isinstance(seen, str):
        return None
    members = request.app[MEMBERS_KEY]
    now = members.now()
    hours = request.app[CONSOLE_KEY].session_hours
    if now - datetime.fromisoformat(seen) > timedelta(hours=hours):
        session.invalidate()
        return None
    store = await asyncio.to_thread(members.store)
    account = await asyncio.to_thread(store.find_account, ident=ident)
    if account is None or tokens.fingerprint(account.password_hash) != fp:
        session.invalidate()
        return None
    session[_SEEN] = now.isoformat()
    return account


def _next(value: str) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console"


async def get_login(request: web.Request) -> web.Response:
    if await signed_in(request) is not None:
        raise see_other(_next(request.query.get("next", "")))
    return _login_form(request, await csrf_token(request))


def _login_form(
    request: web.Request, csrf: str, *, error: str | None = None, status: int = 200, email: str = ""
) -> web.Response:
    return console_page(
        request,
        "login.html",
        status=status,
        csrf=csrf,
        error=error,
        email=email,
        next=_next(request.query.get("next", "")),
        done=request.query.get("done", "")[:20],
    )


def _wait_words(request: web.Request, seconds: int) -> str:
    words = t(request)
    if seconds < 120:
        return words.ngettext("%(num)s second", "%(num)s seconds", seconds)
    minutes = (seconds + 59) // 60
    return words.ngettext("%(num)s minute", "%(num)s minutes", minutes)


async def post_login(request: web.Request) -> web.Response:
    """Check the password; count a wrong one against the account and the client."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    posted = request[POSTED]
    email, password = posted.form.get("email", "").strip().lower(), posted.form.get("password", "")
    client = client_address(request)
    words = t(request)
    if not console.login_limiter.take(client, spend=False):
        wait = console.login_limiter.retry_after(client)
        text = words.gettext("Too many attempts; please try again later.")
        return notice(request, 429, text, headers={"Retry-After": str(wait)})
    store = await asyncio.to_thread(members.store)
    account = await asyncio.to_thread(store.find_account, email=email) if email else None
    now = members.now()
    locked_until = (
        account.locked_until if account is not None else console.strangers.locked_until(email)
    )
    wait = lockout.wait_left(locked_until, now)
    if wait:
        return _locked(request, posted.token, email, wait)
    stored = account.password_hash if account is not None else None
    ok = await asyncio.to_thread(console.hasher.verify, stored, password)
    if account is None or not ok:
        console.login_limiter.take(client)
        if account is not None:
            failure = lockout.record_failure(account.failures, now)
            await asyncio.to_thread(
                store.record_login_failure, account.id, account.failures, failure.locked_until
            )
        else:  # counted alike, so that a lockout never tells which addresses have accounts
            failure = console.strangers.record(email, now)
        if failure.locked_until is not None:
            return _locked(
                request, posted.token, email, lockout.wait_left(failure.locked_until, now)
            )
        text = words.gettext("Wrong e-mail address or password.")
        return _login_form(request, posted.token, error=text, status=401, email=email)
    rehash = console.hasher.hash(password) if console.hasher.needs_rehash(stored or "") else None
    await asyncio.to_thread(store.record_login, account.id, now, rehash)
    session = await fresh_session(request)
    session[_ID] = account.id
    session[_FP] = tokens.fingerprint(rehash or account.password_hash)
    session[_SEEN] = now.isoformat()
    raise see_other(_next(posted.form.get("next", "")))


def _locked(request: web.Request, csrf: str, email: str, wait: int) -> web.Response:
    text = t(request).gettext(
        "Too many wrong passwords for this account: try again in %(wait)s.",
        wait=_wait_words(request, wait),
    )
    return console_page(
        request,
        "login.html",
        status=429,
        headers={"Retry-After": str(wait)},
        csrf=csrf,
        error=text,
        email=email,
        next="/console",
        done="",
    )


async def post_logout(request: web.Request) -> web.Response:
    await end_session(request)
    raise see_other("/console/login?" + urlencode({"done": "out", "lang": language(request)}))


# --- password reset ------------------------------------------------------------------------


async def get_reset(request: web.Request) -> web.Response:
    return console_page(request, "reset_ask.html", csrf=await csrf_token(request), sent=False)


async def post_reset(request: web.Request) -> web.Response:
    """Mail a reset link if the address has an account; the answer is the same either way."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    posted = request[POSTED]
    client = client_address(request)
    if not console.reset_limiter.take(client):
        text = t(request).gettext("Too many attempts; please try again later.")
        wait = console.reset_limiter.retry_after(client)
        return notice(request, 429, text, headers={"Retry-After": str(wait)})
    email = posted.form.get("email", "").strip().lower()
    store = await asyncio.to_thread(members.store)
    account = await asyncio.to_thread(store.find_account, email=email) if email else None
    if account is not None:
        await asyncio.to_thread(send_reset_link, request.app, account, members.now())
    return console_page(request, "reset_ask.html", csrf=posted.token, sent=True)


async def _claimed(request: web.Request) -> Account | None:
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    claim = tokens.read_reset_token(console.secret(), request.match_info["token"], members.now())
    if claim is None:
        return None
    store = await asyncio.to_thread(members.store)
    account = await asyncio.to_thread(store.find_account, ident=claim[0])
    if account is None or not tokens.still_valid(claim, account.password_hash):
        return None
    if account.language in offered_languages(members.settings):
        request[LANGUAGE] = account.language  # the link's page speaks the account's language
    return account


def _dead_link(request: web.Request) -> web.Response:
    text = t(request).gettext(
        "This link has expired or was already used. Ask for a new one on the sign-in page."
    )
    return notice(request, 410, text)


async def get_reset_token(request: web.Request) -> web.Response:
    account = await _claimed(request)
    if account is None:
        return _dead_link(request)
    return console_page(
        request, "reset_set.html", csrf=await csrf_token(request), email=account.email, error=None
    )


async def post_reset_token(request: web.Request) -> web.Response:
    """Set the new password: the link dies with the old hash, the lockout is cleared."""
    account = await _claimed(request)
    if account is None:
        return _dead_link(request)
    posted = request[POSTED]
    problem = password_problem(request, posted.form, account.email)
    if problem is not None:
        return console_page(
            request,
            "reset_set.html",
            status=422,
            csrf=posted.token,
            email=account.email,
            error=problem,
        )
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    new_hash = await asyncio.to_thread(console.hasher.hash, posted.form["password"])
    store = await asyncio.to_thread(members.store)
    await asyncio.to_thread(store.update_account, account.id, None, password_hash=new_hash)
    raise see_other("/console/login?" + urlencode({"done": "reset", "lang": account.language}))


def password_problem(request: web.Request, form: Mapping[str, str], email: str) -> str | None:
    """Why the two password fields cannot be saved, in the page's language; None when they can."""
    words = t(request)
    password, again = form.get("password", ""), form.get("password2", "")
    if password != again:
        return words.gettext("The two passwords differ.")
    match passwords.problem(password, email):
        case passwords.PasswordProblem.TOO_SHORT:
            return words.gettext(
                "The password needs at least %(num)s characters.", num=passwords.MIN_LENGTH
            )
        case passwords.PasswordProblem.TOO_LONG:
            return words.gettext(
                "The password may have at most %(num)s characters.", num=passwords.MAX_LENGTH
            )
        case passwords.PasswordProblem.SAME_AS_EMAIL:
            return words.gettext("The password may not be your e-mail address.")
    return None

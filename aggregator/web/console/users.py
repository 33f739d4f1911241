"""Accounts (admins only) and one's own account (everybody signed in).

An admin adds an account by e-mail address, role and language; the new person gets a link to
choose their own password (the reset link), so no password is ever typed by someone else or
sent by mail.  An admin changes roles and removes accounts, never their own (the console
always keeps one admin able to sign in).  Everyone sets their own language and password.
"""

from __future__ import annotations

import secrets

from aiohttp import web

from aggregator.accounts.roles import Role, parse_role
from aggregator.i18n import autonym
from aggregator.web.console.auth import password_problem
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.mails import send_reset_link
from aggregator.web.console.pages import console_page, notice, see_other, t
from aggregator.web.console.state import ACCOUNT, CONSOLE_KEY
from aggregator.web.forms import POSTED, is_email
from aggregator.web.language import offered_languages
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["get_account", "get_users", "post_account", "post_language", "post_user", "post_users"]


def _languages(request: web.Request) -> list[tuple[str, str]]:
    return [(c, autonym(c)) for c in offered_languages(request.app[MEMBERS_KEY].settings)]


async def get_users(request: web.Request) -> web.Response:
    store = await store_of(request)
    return console_page(
        request,
        "users.html",
        accounts=await in_thread(store.list_accounts),
        roles=[r.value for r in Role],
        languages=_languages(request),
        csrf=await csrf_token(request),
        done=request.query.get("done", "")[:10],
        me=request[ACCOUNT].id,
    )


async def post_users(request: web.Request) -> web.Response:
    """Add an account; its owner is mailed a link to choose a password."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    form = request[POSTED].form
    email = form.get("email", "").strip().lower()
    role = parse_role(form.get("role", ""))
    lang = form.get("language", "")
    words = t(request)
    if not is_email(email):
        return notice(request, 422, words.gettext("Give a valid e-mail address."))
    if role is None or lang not in dict(_languages(request)):
        return notice(request, 422, words.gettext("Choose a role and a language."))
    store = await store_of(request)
    unusable = await in_thread(console.hasher.hash, secrets.token_urlsafe(32))
    ident = await in_thread(store.add_account, email, role.value, unusable, lang, members.now())
    if ident is None:
        return notice(request, 409, words.gettext("That address has an account already."))
    await in_thread(
        store.audit, audit_entry(request, "account.add", f"account:{email}", role.value)
    )
    account = await in_thread(store.find_account, ident=ident)
    assert account is not None
    error = await in_thread(send_reset_link, request.app, account, members.now())
    raise see_other(f"/console/users?done={'added' if error is None else 'nomail'}")


async def post_user(request: web.Request) -> web.Response:
    """Change one account's role, send it a new password link, or remove it."""
    members = request.app[MEMBERS_KEY]
    ident, action = int(request.match_info["ident"]), request.match_info["action"]
    store = await store_of(request)
    account = await in_thread(store.find_account, ident=ident)
    words = t(request)
    if account is None:
        return notice(request, 404, words.gettext("There is no such account."))
    if ident == request[ACCOUNT].id and action in ("role", "remove"):
        return notice(
            request, 409, words.gettext("You cannot change or remove your own account here.")
        )
    target = f"account:{account.email}"
    if action == "role":
        role = parse_role(request[POSTED].form.get("role", ""))
        if role is None:
            return notice(request, 422, words.gettext("Choose a role and a language."))
        entry = audit_entry(request, "account.role", target, role.value)
        await in_thread(store.update_account, ident, entry, role=role.value)
    elif action == "reset":
        await in_thread(send_reset_link, request.app, account, members.now())
        await in_thread(store.audit, audit_entry(request, "account.reset", target))
    else:
        await in_thread(store.remove_account, ident, audit_entry(request, "account.remove", target))
    raise see_other(f"/console/users?done={action}")


async def get_account(request: web.Request) -> web.Response:
    return console_page(
        request,
        "account.html",
        languages=_languages(request),
        csrf=await csrf_token(request),
        error=None,
        done=request.query.get("done", "")[:10],
    )


async def post_account(request: web.Request) -> web.Response:
    """Change one's own password: the current one first, then the new one twice."""
    console = request.app[CONSOLE_KEY]
    posted, account = request[POSTED], request[ACCOUNT]
    ok = await in_thread(
        console.hasher.verify, account.password_hash, posted.form.get("current", "")
    )
    error = None if ok else t(request).gettext("The current password is wrong.")
    error = error or password_problem(request, posted.form, account.email)
    if error is not None:
        return console_page(
            request,
            "account.html",
            status=422,
            languages=_languages(request),
            csrf=posted.token,
            error=error,
            done="",
        )
    new_hash = await in_thread(console.hasher.hash, posted.form["password"])
    store = await store_of(request)
    entry = audit_entry(request, "account.password", f"account:{account.email}")
    await in_thread(store.update_account, account.id, entry, password_hash=new_hash)
    raise see_other("/console/login?done=changed")


async def post_language(request: web.Request) -> web.Response:
    """The signed-in account's language, from the layout's language buttons."""
    form = request[POSTED].form
    lang = form.get("language", "")
    if lang in dict(_languages(request)):
        store = await store_of(request)
        await in_thread(store.update_account, request[ACCOUNT].id, None, language=lang)
    back = form.get("back", "")
    raise see_other(
        back if back.startswith("/console") and not back.startswith("//") else "/console"
    )

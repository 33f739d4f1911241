"""``/admin``: the moderation queue behind HTTP Basic (approve or reject a submission).

The page exists only when ``AGGREGATOR_ADMIN_PASSWORD`` is set (else 404).  The password is
compared in constant time; wrong ones spend a per-client token (ten an hour), and while a
client has none even the right password waits (429), so guessing online is slow.  What an
approval or rejection does is ``members.moderation``'s business, shared with the CLI.  HTTP
Basic is a stopgap until staff accounts exist; serve the page over https.
"""

from __future__ import annotations

import asyncio
import hmac
import json
from urllib.parse import urlencode

from aiohttp import BasicAuth, hdrs, web

from aggregator.members import moderation
from aggregator.store.submissions import PENDING
from aggregator.web.clients import client_address
from aggregator.web.forms import POSTED
from aggregator.web.pages import language_of, message, page, words
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY, MemberState

__all__ = ["ADMIN_ENV", "admin_denied", "get_admin", "post_decision"]

ADMIN_ENV = "AGGREGATOR_ADMIN_PASSWORD"
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="aggregator admin", charset="UTF-8"'}


def basic_password(header: str | None) -> str | None:
    """The password of an ``Authorization: Basic`` header (UTF-8), or None when absent or
    malformed."""
    if not header:
        return None
    try:
        credentials = BasicAuth.decode(header, encoding="utf-8")
    except ValueError:  # also UnicodeError: not base64 of UTF-8 text
        return None
    password: str = credentials.password
    return password


def admin_denied(members: MemberState, request: web.Request) -> web.Response | None:
    """None when the request carries the admin password; else the answer to send."""
    expected = members.admin_password
    if not expected:
        raise web.HTTPNotFound()
    given = basic_password(request.headers.get(hdrs.AUTHORIZATION))
    if given is not None:
        client = client_address(request)
        if not members.login_limiter.take(client, spend=False):
            return message(
                request, 429, words(request).gettext("Too many attempts; please try again later.")
            )
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        members.login_limiter.take(client)  # only a wrong password spends a token
    text = words(request).gettext("The moderation page needs the administrator password.")
    return message(request, 401, text, headers=_CHALLENGE)


async def get_admin(request: web.Request) -> web.Response:
    """The pending submissions, each with its preview and approve / reject forms."""
    members = request.app[MEMBERS_KEY]
    store = await asyncio.to_thread(members.store)
    pending = await asyncio.to_thread(store.list_submissions, PENDING)
    items = [(s, json.loads(s.preview_json or "{}")) for s in pending]
    return page(
        request,
        "admin.html",
        items=items,
        csrf=await csrf_token(request),
        notice=_done(request),
    )


def _done(request: web.Request) -> str | None:
    """What the last decision did, from the redirect's query (``done``, ``submission`` and,
    for an approval, ``source``), in the moderator's language."""
    query = request.query
    ident, source = query.get("submission", "")[:12], query.get("source", "")[:200]
    if not ident.isdigit():
        return None
    t = words(request)
    if query.get("done") == "approved" and source:
        return t.gettext("Submission %(ident)s approved as source %(id)s.", ident=ident, id=source)
    if query.get("done") == "rejected":
        return t.gettext("Submission %(ident)s rejected.", ident=ident)
    return None


async def post_decision(request: web.Request) -> web.Response:
    """Approve or reject one submission, then back to the queue with what was done."""
    members = request.app[MEMBERS_KEY]
    form = request[POSTED].form
    try:
        ident = int(request.match_info["ident"])
    except ValueError:
        raise web.HTTPNotFound() from None
    store = await asyncio.to_thread(members.store)
    now = members.now()
    done = {"submission": str(ident)}
    try:
        if request.match_info["action"] == "approve":
            new = await asyncio.to_thread(
                moderation.approve, store, members.settings.path, ident, now
            )
            done.update(done="approved", source=new.id)
        else:
            await asyncio.to_thread(moderation.reject, store, ident, form.get("reason", ""), now)
            done.update(done="rejected")
    except moderation.ApprovalError as exc:
        return message(request, 409, moderation.problem_text(exc, language_of(request)))
    raise web.HTTPSeeOther(location=f"/admin?{urlencode(done)}")

"""Moderation: the member submissions waiting for review; approve, or reject with a reason.

What a decision does to feeds.yaml and the store is ``members.moderation``'s business (shared
with the CLI, and safe against two moderators at once).  The console adds what the member
sees: an e-mail with the outcome, in the language of the form they used, the reason word for
word when rejected (``members.outcomes``); and the audit log's line.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from aiohttp import web

from aggregator.members import moderation
from aggregator.members.outcomes import deliver, outcome_message
from aggregator.store.submissions import PENDING
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.pages import console_page, language, notice, see_other, t
from aggregator.web.console.state import CONSOLE_KEY
from aggregator.web.forms import POSTED
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["get_moderation", "post_decision"]


async def get_moderation(request: web.Request) -> web.Response:
    store = await store_of(request)
    pending = await in_thread(store.list_submissions, PENDING)
    items = [(s, json.loads(s.preview_json or "{}")) for s in pending]
    return console_page(
        request,
        "moderation.html",
        items=items,
        csrf=await csrf_token(request),
        done=_done(request),
    )


def _done(request: web.Request) -> tuple[str, bool] | None:
    """(what the last decision did, whether the member's mail went), from the redirect."""
    query = request.query
    ident, source = query.get("submission", "")[:12], query.get("source", "")[:200]
    if not ident.isdigit():
        return None
    words = t(request)
    mailed = query.get("mail") == "sent"
    if query.get("done") == "approved" and source:
        text = words.gettext(
            "Submission %(ident)s approved as source %(id)s.", ident=ident, id=source
        )
    elif query.get("done") == "rejected":
        text = words.gettext("Submission %(ident)s rejected.", ident=ident)
    else:
        return None
    if mailed:
        text += " " + words.gettext("The member was told by e-mail.")
    else:
        text += " " + words.gettext("The e-mail to the member could not be sent.")
    return text, mailed


async def post_decision(request: web.Request) -> web.Response:
    """Approve or reject one submission, mail the member, log it, back to the queue."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    form = request[POSTED].form
    ident = int(request.match_info["ident"])
    store = await store_of(request)
    now = members.now()
    approving = request.match_info["action"] == "approve"
    reason = " ".join(form.get("reason", "").split())
    try:
        if approving:
            new = await in_thread(moderation.approve, store, members.settings.path, ident, now)
        else:
            await in_thread(moderation.reject, store, ident, reason, now)
    except moderation.ApprovalError as exc:
        return notice(request, 409, moderation.problem_text(exc, language(request)))
    sub = await in_thread(store.get_submission, ident)
    assert sub is not None  # it was just decided
    settings = await in_thread(members.current_settings)
    msg = outcome_message(
        sub, approved=approving, reason=sub.reason or "", settings=settings, now=now
    )
    error = await in_thread(deliver, msg, settings, console.sender)
    action = "submission.approve" if approving else "submission.reject"
    await in_thread(store.audit, audit_entry(request, action, f"submission:{ident}", reason))
    done = {"submission": str(ident), "mail": "failed" if error else "sent"}
    if approving:
        done.update(done="approved", source=new.id)
    else:
        done.update(done="rejected")
    raise see_other(f"/console/moderation?{urlencode(done)}")

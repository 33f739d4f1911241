"""Posts: find one (title, source, language, topic, dates), take it down or bring it back.

A hidden post stays in the store; every output leaves it out from the next publish on (the
combined feed, editions, pages, archives) and the next digest does not carry it
(``store.takedowns``).  Hiding needs a reason; who hid it, when and why are shown beside the
post and written to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time
from urllib.parse import urlencode

from aiohttp import web

from aggregator.store.takedowns import PostQuery
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.pages import console_page, notice, see_other, t
from aggregator.web.forms import POSTED
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["get_posts", "post_visibility"]

PAGE = 50
_FIELDS = ("q", "source", "language", "topic", "since", "until", "hidden")


def _day(value: str) -> datetime | None:
    """A ``YYYY-MM-DD`` from a date field as midnight UTC; None when empty or malformed."""
    try:
        return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(), UTC)
    except ValueError:
        return None


def query_of(args: dict[str, str]) -> PostQuery:
    """The search the form's fields describe (bad dates are ignored, not an error page)."""
    until = _day(args.get("until", ""))
    offset = args.get("page", "1")
    page = int(offset) if offset.isdigit() and 0 < int(offset) < 10_000 else 1
    return PostQuery(
        text=args.get("q", "").strip()[:200],
        source_id=args.get("source") or None,
        language=args.get("language") or None,
        topic=args.get("topic") or None,
        since=_day(args.get("since", "")),
        until=until.replace(hour=23, minute=59, second=59) if until else None,
        hidden_only=args.get("hidden") == "1",
        limit=PAGE + 1,  # one more tells whether there is a next page
        offset=(page - 1) * PAGE,
    )


async def get_posts(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    args = {k: v[:200] for k, v in request.query.items()}
    query = query_of(args)
    store = await store_of(request)
    found = await in_thread(store.find_posts, query)
    hidden = await in_thread(store.hidden_posts)
    sources = await in_thread(store.get_sources)
    page = query.offset // PAGE + 1
    kept = {k: args[k] for k in _FIELDS if args.get(k)}
    return console_page(
        request,
        "posts.html",
        posts=found[:PAGE],
        hidden=hidden,
        sources=sorted(sources.values(), key=lambda s: s.name.casefold()),
        languages=members.settings.site.languages,
        topics=sorted(members.settings.topics),
        args=args,
        here="/console/posts?" + urlencode({**kept, "page": str(page)}),
        previous="/console/posts?" + urlencode({**kept, "page": str(page - 1)})
        if page > 1
        else None,
        following="/console/posts?" + urlencode({**kept, "page": str(page + 1)})
        if len(found) > PAGE
        else None,
        csrf=await csrf_token(request),
        done=request.query.get("done", "")[:10],
    )


def _back(form: Mapping[str, str], done: str) -> str:
    back = form.get("back", "")
    if not back.startswith("/console/posts"):
        back = "/console/posts"
    return f"{back}{'&' if '?' in back else '?'}done={done}"


async def post_visibility(request: web.Request) -> web.Response:
    """Hide (with a reason) or show again one post; the answer names what changed."""
    form = request[POSTED].form
    post_id, reason = form.get("post", ""), " ".join(form.get("reason", "").split())
    store = await store_of(request)
    if request.match_info["action"] == "hide":
        if not reason:
            return notice(request, 422, t(request).gettext("Say why the post is hidden."))
        entry = audit_entry(request, "post.hide", f"post:{post_id}", reason)
        changed = await in_thread(store.hide_post, post_id, entry)
        done = "hidden"
    else:
        entry = audit_entry(request, "post.unhide", f"post:{post_id}", reason)
        changed = await in_thread(store.unhide_post, post_id, entry)
        done = "shown"
    if not changed:
        text = t(request).gettext("Nothing changed: the post was not found or was already so.")
        return notice(request, 409, text)
    raise see_other(_back(form, done))

"""``/submit``: a member proposes a feed (form, discovery and preview, confirm into the queue).

The page runs exactly the checks of ``feeds add`` with ``member=True``, so the operator's
``allow_private`` list never applies: a public form must not make the server fetch from the
local network.  Each preview costs one client token (5 an hour by default), spent only once
the fields are valid.  A confirmed submission waits in the store's moderation queue for
the console's moderation page or ``feeds approve``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from aiohttp import web

from aggregator import config
from aggregator.i18n import autonym
from aggregator.ingest.language import normalise_tag
from aggregator.members import discover
from aggregator.members.preview import preview_warning
from aggregator.members.refusals import refusal_reason
from aggregator.store.submissions import NewSubmission
from aggregator.web.clients import client_address
from aggregator.web.forms import LIMITS, POSTED, field_errors
from aggregator.web.pages import language_of, message, page, words
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY, MemberState

__all__ = ["get_submit", "member_discover", "post_confirm", "post_submit"]


async def member_discover(
    url: str, settings: config.Settings, now: datetime
) -> discover.Candidate | discover.Refusal:
    """The production discoverer: ``feeds add``'s checks with the member address policy."""
    return await discover.discover_async(url, settings, member=True, now=now)


def _submit_form(
    request: web.Request,
    token: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: list[str] | None = None,
    refusal: str | None = None,
    status: int = 200,
) -> web.Response:
    """The form; ``errors`` and ``refusal`` are already in the visitor's language."""
    languages = request.app[MEMBERS_KEY].settings.site.languages
    return page(
        request,
        "submit.html",
        status=status,
        csrf=token,
        languages=[(code, autonym(code)) for code in languages],
        values=dict(values or {}),
        errors=errors or [],
        refusal=refusal,
        limits=LIMITS,
    )


async def get_submit(request: web.Request) -> web.Response:
    request.app[MEMBERS_KEY].warm_previews()
    return _submit_form(request, await csrf_token(request))


def preview_json(found: discover.Candidate) -> str:
    """What the moderator sees of the feed, frozen at submission time."""
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


def _throttled(request: web.Request, members: MemberState, client: str) -> web.Response:
    wait = members.limiter.retry_after(client)
    return message(
        request,
        429,
        words(request).gettext("Too many submissions from your address; please try again later."),
        headers={"Retry-After": str(wait)},
    )


async def post_submit(request: web.Request) -> web.Response:
    """Check the form, run discovery and show the preview with a confirm button."""
    members = request.app[MEMBERS_KEY]
    posted = request[POSTED]
    form, token = posted.form, posted.token
    languages = members.settings.site.languages
    errors = field_errors(form, languages, words(request))
    if errors:
        return _submit_form(request, token, values=form, errors=errors, status=422)
    client = client_address(request)
    if not members.limiter.take(client):
        return _throttled(request, members, client)
    settings = await members.offload(members.current_settings)
    found = await members.discover(form["url"], settings)
    if isinstance(found, discover.Refusal):
        refusal = refusal_reason(found, language_of(request))
        return _submit_form(request, token, values=form, refusal=refusal, status=422)
    store = await members.offload(members.store)
    waiting = await members.offload(store.pending_with_feed, found.url)
    if waiting is not None:
        refusal = words(request).gettext(
            "the feed %(url)s was already submitted and is waiting for review", url=found.url
        )
        return _submit_form(request, token, values=form, refusal=refusal, status=422)
    new = NewSubmission(
        url=form["url"],
        feed_url=found.url,
        organisation=" ".join(form["organisation"].split()),
        contact=form["contact"],
        language=normalise_tag(form["language"]) or languages[0],
        preview_json=preview_json(found),
        form_language=language_of(request),
    )
    draft = members.drafts.put(token, new)
    language = language_of(request)
    return page(
        request,
        "preview.html",
        csrf=token,
        draft=draft,
        found=found,
        warnings=[preview_warning(w, language) for w in found.warnings],
        submission=new,
    )


async def post_confirm(request: web.Request) -> web.Response:
    """Queue the previewed submission: only the session that previewed it can, and once."""
    members = request.app[MEMBERS_KEY]
    posted = request[POSTED]
    draft = members.drafts.take(posted.form.get("draft", ""), posted.token)
    if draft is None:
        text = words(request).gettext("This preview has expired; please submit the address again.")
        return message(request, 410, text)
    store = await members.offload(members.store)
    ident = await members.offload(store.add_submission, draft.submission, members.now())
    return page(request, "queued.html", submission=draft.submission, ident=ident)

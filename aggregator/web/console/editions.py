"""Editions: the draft of each edition's next issue, curated and sent from the browser.

The draft is ``newsletter.prepare.prepare`` itself, the function ``digest preview`` and
``digest send`` use, so what the page shows (in a sandboxed iframe, the exact HTML a
subscriber gets) is what will be mailed.  Looking does not record the issue: its window keeps
growing until a preview or a send records it.  Staff's choices (exclude, feature, up/down,
note, subject, schedule) are stored for the issue (``store.curation``) and applied by
``prepare``, so the CLI and the scheduler send the same curated draft.  Every choice is a plain
form with a button: reordering works without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from aggregator.accounts.roles import Permission, can
from aggregator.config import EditionSettings, Settings
from aggregator.cycle import held_lock
from aggregator.errors import ConfigError, LockedError
from aggregator.models import EditionRecord, Post, RecipientStatus
from aggregator.newsletter import curation as curated
from aggregator.newsletter.audience import audience
from aggregator.newsletter.digest import PREVIEW_ADDRESS, send
from aggregator.newsletter.prepare import Prepared, message_for, prepare
from aggregator.store.curation import Curation
from aggregator.store.protocol import Store
from aggregator.subscribers.tokens import Tokens
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.pages import console_page, notice, see_other, t
from aggregator.web.console.state import ACCOUNT, CONSOLE_KEY
from aggregator.web.forms import POSTED, is_email
from aggregator.web.security import CSP
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["Draft", "draft_of", "get_draft_html", "get_edition", "get_editions", "post_edition"]

SUBJECT_LIMIT = 300
# The draft is e-mail HTML (inline styles, remote post images); it may only be framed by the
# console itself, and the iframe is sandboxed: no scripts, no forms, no same-origin access.
DRAFT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
EDITION_CSP = CSP + "; frame-src 'self'"


@dataclass(frozen=True, slots=True)
class Draft:
    """The next issue of one edition as it stands, with staff's choices for it."""

    edition: EditionSettings
    prepared: Prepared
    last: EditionRecord | None
    curation: Curation
    posts: tuple[Post, ...]  # in the e-mail's order
    excluded: tuple[Post, ...]
    next_send: datetime | None


def draft_of(store: Store, settings: Settings, name: str, now: datetime) -> Draft:
    """Prepare the edition's next issue without recording it (blocking: run in a thread)."""
    edition = settings.edition(name)
    last = store.last_edition(name)
    key = curated.issue_key(name, curated.issue_start(last))
    curation = store.get_curation(key) or Curation(issue=key, edition=name)
    prepared = prepare(store, settings, edition, now)
    shown = prepared.rendered.shown
    by_id = {p.id: p for p in store.posts_by_ids([*shown, *curation.excluded])}
    posts = tuple(by_id[i] for i in shown if i in by_id)
    excluded = tuple(by_id[i] for i in curation.excluded if i in by_id)
    when = curation.send_at or edition.next_send(now)
    return Draft(edition, prepared, last, curation, posts, excluded, when)


async def get_editions(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    store = await store_of(request)
    settings = members.settings
    drafts = [
        await in_thread(draft_of, store, settings, e.name, members.now())
        for e in settings.digest.editions
    ]
    return console_page(request, "editions.html", drafts=drafts)


async def _edition_or_404(request: web.Request) -> str:
    name = request.match_info["name"]
    try:
        request.app[MEMBERS_KEY].settings.edition(name)
    except ConfigError:
        raise web.HTTPNotFound() from None
    return name


async def get_edition(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    name = await _edition_or_404(request)
    store = await store_of(request)
    draft = await in_thread(draft_of, store, members.settings, name, members.now())
    sent = await in_thread(_last_sent, store, name)
    recipients: list[RecipientStatus] = []
    bounced: dict[str, str] = {}
    if sent is not None:
        recipients = await in_thread(store.recipients, sent.id)
        found = await in_thread(store.bounces, sent.id, 100_000)
        bounced = {b.address.lower(): b.kind for b in found}
    audience = await in_thread(_audience, request, store, draft)
    return console_page(
        request,
        "edition.html",
        headers={"Content-Security-Policy": EDITION_CSP},
        draft=draft,
        sent=sent,
        recipients=recipients,
        bounced=bounced,
        audience=audience,
        csrf=await csrf_token(request),
        done=_done(request),
        tz=draft.edition.timezone,
        local=lambda d: d.astimezone(ZoneInfo(draft.edition.timezone)),
        note_limit=curated.NOTE_LIMIT,
        may_send=can(request[ACCOUNT].role, Permission.SEND),
        subject_limit=SUBJECT_LIMIT,
    )


def _audience(request: web.Request, store: Store, draft: Draft) -> int:
    """How many people a send now would mail: static recipients and the subscriber list."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    record = draft.prepared.record
    tokens = Tokens(console.secret(), members.now)
    people = audience(store, members.settings, draft.edition, record.id, record.window_end, tokens)
    return len(people)


def _last_sent(store: Store, name: str) -> EditionRecord | None:
    return next((e for e in store.list_editions(200) if e.name == name and e.sent), None)


def _done(request: web.Request) -> str | None:
    """What the last action did, from the redirect's query, in the page's language."""
    words, query = t(request), request.query
    done = query.get("done", "")
    texts = {
        "saved": words.gettext("Saved. The draft below shows the change."),
        "scheduled": words.gettext("The issue is scheduled."),
        "unscheduled": words.gettext("The issue is no longer scheduled."),
        "test": words.gettext("A test copy was sent to %(to)s.", to=query.get("to", "")[:254]),
        "testfail": words.gettext(
            "The test copy to %(to)s was not sent: %(why)s",
            to=query.get("to", "")[:254],
            why=query.get("why", "")[:300],
        ),
        "sent": words.gettext(
            "Sent: %(sent)s delivered, %(failed)s refused.",
            sent=query.get("sent", "0")[:6],
            failed=query.get("failed", "0")[:6],
        ),
        "empty": words.gettext("Nothing to send: the issue has no post."),
    }
    return texts.get(done)


async def get_draft_html(request: web.Request) -> web.Response:
    """The draft as a subscriber's mail client gets it, for the page's sandboxed iframe."""
    members = request.app[MEMBERS_KEY]
    name = await _edition_or_404(request)
    store = await store_of(request)
    now = members.now()
    edition = members.settings.edition(name)
    prepared = await in_thread(prepare, store, members.settings, edition, now)
    html, _, _ = message_for(members.settings, prepared, PREVIEW_ADDRESS, now)
    return web.Response(
        text=html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": DRAFT_CSP,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


# --- the forms -------------------------------------------------------------------------------


def _changed(
    current: Curation, action: str, form: dict[str, str], order: tuple[str, ...]
) -> Curation | None:
    """The curation after one form; None when the form cannot be saved (a subject too long)."""
    post = form.get("post", "")
    if action == "exclude":
        featured = None if current.featured == post else current.featured
        return replace(current, excluded=(*current.excluded, post), featured=featured)
    if action == "include":
        return replace(current, excluded=tuple(p for p in current.excluded if p != post))
    if action == "feature":
        return replace(current, featured=post)
    if action == "unfeature":
        return replace(current, featured=None)
    if action in ("up", "down"):
        rest = tuple(p for p in order if p != current.featured)
        return replace(current, ordering=curated.moved(rest, post, -1 if action == "up" else 1))
    if action == "note":
        return replace(current, note=form.get("note", "").strip())
    subject = " ".join(form.get("subject", "").split())
    if len(subject) > SUBJECT_LIMIT:
        return None
    return replace(current, subject=subject or None)


async def post_edition(request: web.Request) -> web.Response:
    """One curation form, a test copy, a schedule, or the send itself."""
    name = await _edition_or_404(request)
    action = request.match_info["action"]
    if action == "test":
        return await _test(request, name)
    if action == "send":
        return await _send(request, name)
    if action in ("schedule", "unschedule"):
        return await _schedule(request, name, action)
    return await _curate(request, name, action)


async def _curate(request: web.Request, name: str, action: str) -> web.Response:
    members = request.app[MEMBERS_KEY]
    form = dict(request[POSTED].form)
    store = await store_of(request)
    draft = await in_thread(draft_of, store, members.settings, name, members.now())
    shown = draft.prepared.rendered.shown
    if action in ("exclude", "feature", "up", "down") and form.get("post") not in shown:
        return notice(request, 409, t(request).gettext("That post is no longer in the draft."))
    new = _changed(draft.curation, action, form, shown)
    if new is None:
        return notice(request, 422, t(request).gettext("The subject is too long."))
    entry = audit_entry(
        request, f"edition.{action}", f"edition:{draft.curation.issue}", form.get("post", "")
    )
    new = replace(new, updated=entry.at, actor=entry.actor)
    await in_thread(store.save_curation, new, entry)
    anchor = f"#item-{form['post']}" if action in ("up", "down") and form.get("post") else ""
    raise see_other(f"/console/editions/{name}?done=saved{anchor}")


async def _test(request: web.Request, name: str) -> web.Response:
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    to = request[POSTED].form.get("to", "").strip()
    if not is_email(to):
        return notice(
            request, 422, t(request).gettext("Give one e-mail address for the test copy.")
        )
    store = await store_of(request)
    report = await in_thread(
        send, store, members.settings, name, members.now(), to=to, smtp_factory=console.sender
    )
    await in_thread(store.audit, audit_entry(request, "edition.test", f"edition:{name}", to))
    if report.sent:
        raise see_other(f"/console/editions/{name}?" + urlencode({"done": "test", "to": to}))
    why = report.error or "; ".join(e for _, e in report.failed) or "?"
    raise see_other(
        f"/console/editions/{name}?" + urlencode({"done": "testfail", "to": to, "why": why})
    )


async def _send(request: web.Request, name: str) -> web.Response:
    """Send now, under the edition's lock (the scheduler and the CLI take the same one)."""
    members, console = request.app[MEMBERS_KEY], request.app[CONSOLE_KEY]
    store = await store_of(request)

    def run() -> object:
        with held_lock(store, f"digest:{name}", clock=members.now):
            return send(store, members.settings, name, members.now(), smtp_factory=console.sender)

    try:
        report = await in_thread(run)
    except LockedError:
        return notice(request, 409, t(request).gettext("Another send of this edition is running."))
    await in_thread(
        store.audit, audit_entry(request, "edition.send", f"edition:{name}", str(report))
    )
    if getattr(report, "empty", False):
        raise see_other(f"/console/editions/{name}?done=empty")
    sent, failed = len(getattr(report, "sent", ())), len(getattr(report, "failed", ()))
    query = urlencode({"done": "sent", "sent": sent, "failed": failed})
    raise see_other(f"/console/editions/{name}?{query}")


async def _schedule(request: web.Request, name: str, action: str) -> web.Response:
    members = request.app[MEMBERS_KEY]
    store = await store_of(request)
    draft = await in_thread(draft_of, store, members.settings, name, members.now())
    when: datetime | None = None
    if action == "schedule":
        try:
            local = datetime.strptime(request[POSTED].form.get("send_at", ""), "%Y-%m-%dT%H:%M")
        except ValueError:
            return notice(request, 422, t(request).gettext("Give a date and a time for the send."))
        when = local.replace(tzinfo=ZoneInfo(draft.edition.timezone))
        if when <= members.now():
            return notice(request, 422, t(request).gettext("The send time must be in the future."))
    entry = audit_entry(
        request,
        f"edition.{action}",
        f"edition:{draft.curation.issue}",
        when.isoformat() if when else "",
    )
    new = replace(draft.curation, send_at=when, updated=entry.at, actor=entry.actor)
    await in_thread(store.save_curation, new, entry)
    raise see_other(f"/console/editions/{name}?done={action}d")

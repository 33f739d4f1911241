"""Subscribers: the digest's list for staff: counts, search, add, remove, export.

Every action goes through ``subscribers.staff`` (the functions the CLI calls), so consent is
recorded on each addition, the suppression list is honoured (someone who left, bounced,
complained or was forgotten is never added back), and a removal keeps the person suppressed.
An export is a CSV with the consent columns; it is logged, since it carries personal data.
"""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlencode

from aiohttp import web

from aggregator.store.subscribers import Status
from aggregator.subscribers import rules, staff
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.pages import console_page, notice, see_other, t
from aggregator.web.forms import POSTED, is_email
from aggregator.web.language import offered_languages
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["get_export", "get_subscribers", "post_add", "post_remove"]

PAGE = 50


def _statuses(value: str) -> tuple[Status, ...]:
    try:
        return (Status(value),) if value else ()
    except ValueError:
        return ()


async def get_subscribers(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    query = request.query
    text = query.get("q", "").strip()[:200]
    statuses = _statuses(query.get("status", ""))
    number = query.get("page", "1")
    page = int(number) if number.isdigit() and 0 < int(number) < 10_000 else 1
    store = await store_of(request)
    found = await in_thread(
        staff.search,
        store,
        statuses=statuses,
        text=text or None,
        limit=PAGE + 1,
        offset=(page - 1) * PAGE,
    )
    counts = await in_thread(store.count_subscribers)
    kept = {k: v for k, v in (("q", text), ("status", query.get("status", ""))) if v}
    return console_page(
        request,
        "subscribers.html",
        subscribers=found[:PAGE],
        counts=counts,
        statuses=[s.value for s in Status],
        args={"q": text, "status": statuses[0].value if statuses else ""},
        editions=[e.name for e in members.settings.digest.editions],
        languages=offered_languages(members.settings),
        previous="/console/subscribers?" + urlencode({**kept, "page": page - 1})
        if page > 1
        else None,
        following="/console/subscribers?" + urlencode({**kept, "page": page + 1})
        if len(found) > PAGE
        else None,
        export="/console/subscribers/export.csv?" + urlencode(kept),
        csrf=await csrf_token(request),
        done=_done(request),
    )


def _done(request: web.Request) -> str | None:
    words, query = t(request), request.query
    address = query.get("address", "")[:254]
    return {
        "added": words.gettext("%(address)s is on the list.", address=address),
        "removed": words.gettext(
            "%(address)s is off the list and will not be added back.", address=address
        ),
    }.get(query.get("done", ""))


async def post_add(request: web.Request) -> web.Response:
    """Add one confirmed subscriber on the staff's word, with a note saying where they agreed."""
    members = request.app[MEMBERS_KEY]
    form = request[POSTED].form
    words = t(request)
    address, note = form.get("email", "").strip(), " ".join(form.get("reason", "").split())
    language = form.get("language", "")
    if not is_email(address):
        return notice(request, 422, words.gettext("Give a valid e-mail address."))
    if not note:
        return notice(request, 422, words.gettext("Say where and when this person agreed."))
    if language not in offered_languages(members.settings):
        return notice(request, 422, words.gettext("Choose a role and a language."))
    editions = tuple(e for e in form.get("editions", "").split(",") if e)
    store = await store_of(request)
    added = await in_thread(
        staff.add,
        store,
        members.settings,
        address,
        members.now(),
        language=language,
        editions=editions,
        note=note,
    )
    if isinstance(added, rules.Refusal):
        text = {
            rules.Refusal.EXISTS: words.gettext("This address is on the list already."),
        }.get(
            added,
            words.gettext(
                "This address left the list, bounced or was forgotten: it is not added back."
            ),
        )
        return notice(request, 409, text)
    await in_thread(store.audit, audit_entry(request, "subscriber.add", "subscriber", note))
    raise see_other("/console/subscribers?" + urlencode({"done": "added", "address": address}))


async def post_remove(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    form = request[POSTED].form
    address = form.get("email", "").strip()
    store = await store_of(request)
    removed = await in_thread(
        staff.remove, store, address, members.now(), form.get("reason") or None
    )
    if not removed:
        return notice(request, 404, t(request).gettext("That address is not on the list."))
    await in_thread(store.audit, audit_entry(request, "subscriber.remove", "subscriber"))
    raise see_other("/console/subscribers?" + urlencode({"done": "removed", "address": address}))


async def get_export(request: web.Request) -> web.StreamResponse:
    """The list (or the part the filters show) as CSV, consent columns included."""
    members = request.app[MEMBERS_KEY]
    statuses = _statuses(request.query.get("status", ""))
    text = request.query.get("q", "").strip()[:200] or None
    store = await store_of(request)
    found = await in_thread(staff.search, store, statuses=statuses, text=text)
    body = staff.export_csv(found)
    await in_thread(
        store.audit, audit_entry(request, "subscriber.export", "subscribers", f"{len(found)} rows")
    )
    stamp = members.now().astimezone(UTC).strftime("%Y%m%d-%H%M")
    return web.Response(
        text=body,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="subscribers-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )

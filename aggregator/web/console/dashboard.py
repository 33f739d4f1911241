"""The dashboard: what staff check first, on one page.

The last cycle (when it finished, how long it took, sources fetched and failed, posts new and
updated: the record ``ops.cycles`` writes beside the outputs), the sources' state now (working,
failing, not fetched yet, posts new in the last day), the sources failing now with their error
in the reader's language, member submissions waiting, the next issue of each edition with its
item count and send time, the last refused deliveries and bounces, and the latest staff
actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from aggregator.accounts.roles import Permission, can
from aggregator.i18n import describe_error
from aggregator.models import RecipientState, SourceState
from aggregator.ops.cycles import read_record
from aggregator.store.protocol import Store
from aggregator.store.submissions import PENDING
from aggregator.web.console.common import in_thread, store_of
from aggregator.web.console.editions import Draft, draft_of
from aggregator.web.console.pages import console_page, language
from aggregator.web.console.state import ACCOUNT
from aggregator.web.state import MEMBERS_KEY

__all__ = ["KINDS", "Fetches", "fetches", "get_dashboard", "get_log"]

KINDS = ("post", "source", "edition", "submission", "account", "subscriber")


@dataclass(frozen=True, slots=True)
class Fetches:
    """The sources' latest fetches, summed up."""

    last: datetime | None  # the most recent fetch of any source
    ok: int
    failing: int
    never: int  # configured, never fetched yet
    new_posts: int  # first seen in the last 24 hours


def fetches(states: dict[str, SourceState], configured: set[str], new_posts: int) -> Fetches:
    mine = [states[s] for s in configured if s in states]
    times = [s.last_fetch for s in mine if s.last_fetch is not None]
    failing = sum(
        1 for s in mine if s.last_fetch is not None and (s.consecutive_failures or s.gone)
    )
    never = len(configured) - len(times)
    return Fetches(max(times, default=None), len(times) - failing, failing, never, new_posts)


@dataclass(frozen=True, slots=True)
class Failing:
    source_id: str
    name: str
    since: datetime | None
    error: str


def _failing(store: Store, configured: dict[str, str], lang: str) -> list[Failing]:
    out = []
    for sid, state in sorted(store.get_states().items()):
        if sid in configured and (state.consecutive_failures or state.gone):
            error = describe_error(
                state.last_error_kind, state.last_error_params, lang, state.last_error
            )
            out.append(Failing(sid, configured[sid], state.failing_since, error))
    return out


def _refusals(store: Store) -> list[tuple[str, str, str]]:
    """(edition id, address, the server's reply) of the latest refused deliveries."""
    out: list[tuple[str, str, str]] = []
    for edition in store.list_editions(5):
        for r in store.recipients(edition.id):
            if r.state is RecipientState.FAILED:
                out.append((edition.id, r.address, r.error or ""))
    return out[:10]


async def get_dashboard(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    account = request[ACCOUNT]
    store = await store_of(request)
    now = members.now()
    settings = members.current_settings()
    configured = {s.id: s.name for s in settings.sources}
    states = await in_thread(store.get_states)
    activity = await in_thread(store.source_activity, now - timedelta(days=1))
    new_posts = sum(a.posts_since for a in activity.values())
    drafts: list[Draft] = []
    if can(account.role, Permission.CURATE):
        for edition in settings.digest.editions:
            drafts.append(await in_thread(draft_of, store, settings, edition.name, now))
    return console_page(
        request,
        "dashboard.html",
        fetches=fetches(states, set(configured), new_posts),
        cycle=await in_thread(read_record, settings.output_dir),
        failing=await in_thread(_failing, store, configured, language(request)),
        pending=len(await in_thread(store.list_submissions, PENDING)),
        drafts=drafts,
        refusals=await in_thread(_refusals, store),
        bounces=await in_thread(store.bounces, None, 10),
        actions=await in_thread(store.audit_entries, None, 10),
        may=lambda permission: can(account.role, Permission(permission)),
    )


async def get_log(request: web.Request) -> web.Response:
    """The audit log: who did what, to what, and why; newest first, by kind of action."""
    kind = request.query.get("kind", "")
    kind = kind if kind in KINDS else ""
    store = await store_of(request)
    entries = await in_thread(store.audit_entries, None, 300, kind or None)
    return console_page(request, "log.html", entries=entries, kinds=KINDS, kind=kind)

"""Sources: the health table with filters; disable, enable, remove and restore a source.

A disabled or removed source is not fetched, and its posts are left out of every output from
the next publish on; they stay in the store, so enabling or restoring brings them back
(``store.takedowns``).  feeds.yaml is not edited: the hold lives in the store, where every
worker and the CLI see it at once.  Removed sources are listed under their own filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from aggregator.models import Source, SourceState
from aggregator.store.takedowns import DISABLED, REMOVED
from aggregator.web.console.common import audit_entry, in_thread, store_of
from aggregator.web.console.pages import console_page, notice, see_other, t
from aggregator.web.session import csrf_token
from aggregator.web.state import MEMBERS_KEY

__all__ = ["Row", "get_sources", "post_source", "rows"]

FILTERS = ("all", "failing", "ok", "disabled", "removed")
_ACTIONS = {"disable": DISABLED, "remove": REMOVED}


@dataclass(frozen=True, slots=True)
class Row:
    source: Source
    state: SourceState | None
    health: str  # ok, failing, gone, never (not fetched yet)
    hold: str | None  # disabled, removed, or None
    posts_30d: int


def _health(state: SourceState | None) -> str:
    if state is None or state.last_fetch is None:
        return "never"
    if state.gone:
        return "gone"
    return "failing" if state.consecutive_failures else "ok"


def rows(
    sources: dict[str, Source],
    states: dict[str, SourceState],
    holds: dict[str, str],
    recent: dict[str, int],
    wanted: str,
) -> list[Row]:
    """The table's rows for one filter, by name: pure, so the filters are tested alone."""
    out = []
    for source in sorted(sources.values(), key=lambda s: s.name.casefold()):
        row = Row(
            source,
            states.get(source.id),
            _health(states.get(source.id)),
            holds.get(source.id),
            recent.get(source.id, 0),
        )
        if _matches(row, wanted):
            out.append(row)
    return out


def _matches(row: Row, wanted: str) -> bool:
    if wanted == "removed":
        return row.hold == REMOVED
    if row.hold == REMOVED:
        return False  # out of sight until someone looks for removed sources
    if wanted == "disabled":
        return row.hold == DISABLED
    if wanted == "failing":
        return row.health in ("failing", "gone")
    if wanted == "ok":
        return row.health == "ok"
    return True


async def get_sources(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    wanted = request.query.get("show", "all")
    wanted = wanted if wanted in FILTERS else "all"
    store = await store_of(request)
    configured = {s.id: s for s in members.current_settings().source_list()}
    stored = await in_thread(store.get_sources)
    sources = {**{k: v for k, v in stored.items() if k in configured}, **configured}
    states = await in_thread(store.get_states)
    holds = {k: v.state for k, v in (await in_thread(store.source_holds)).items()}
    since: datetime = members.now() - timedelta(days=30)
    activity = await in_thread(store.source_activity, since)
    recent = {k: a.posts_since for k, a in activity.items()}
    return console_page(
        request,
        "sources.html",
        rows=rows(sources, states, holds, recent, wanted),
        filters=FILTERS,
        wanted=wanted,
        csrf=await csrf_token(request),
        done=request.query.get("done", "")[:10],
        source=request.query.get("source", "")[:64],
    )


async def post_source(request: web.Request) -> web.Response:
    """Disable or remove (a hold), enable or restore (the hold released); logged."""
    source_id, action = request.match_info["source"], request.match_info["action"]
    store = await store_of(request)
    known = await in_thread(store.get_sources)
    if source_id not in known:
        return notice(request, 404, t(request).gettext("There is no such source."))
    entry = audit_entry(request, f"source.{action}", f"source:{source_id}")
    if action in _ACTIONS:
        await in_thread(store.hold_source, source_id, _ACTIONS[action], entry)
    else:
        await in_thread(store.release_source, source_id, entry)
    raise see_other(f"/console/sources?done={action}&source={source_id}")

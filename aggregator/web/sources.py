"""``/sources``: every enabled source's health, in public, so members see their own feed's state
(ok, failing, gone, never fetched), its last success and error, and its posts of the last 30
days without asking the operator."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from aggregator.models import SourceState
from aggregator.store.protocol import Store
from aggregator.web.pages import page, site_context
from aggregator.web.state import MEMBERS_KEY

__all__ = ["HealthRow", "get_sources", "health_rows"]


@dataclass(frozen=True, slots=True)
class HealthRow:
    id: str
    name: str
    organisation: str
    state: str  # ok, failing, gone, never fetched
    last_success: datetime | None
    last_error: str | None
    posts_30d: int


def health_label(state: SourceState | None) -> str:
    if state is None or (state.last_fetch is None and state.last_success is None):
        return "never fetched"
    if state.gone:
        return "gone"
    if state.consecutive_failures:
        return "failing"
    return "ok"


def health_rows(store: Store, now: datetime) -> list[HealthRow]:
    """One row per enabled source still in feeds.yaml, by name."""
    sources = store.get_sources()
    states = store.get_states()
    activity = store.source_activity(now - timedelta(days=30))
    rows = []
    for sid, source in sorted(sources.items(), key=lambda i: i[1].name.casefold()):
        act = activity.get(sid)
        if not source.enabled or act is None or not act.configured:
            continue
        st = states.get(sid)
        rows.append(
            HealthRow(
                sid,
                source.name,
                source.organisation,
                health_label(st),
                st.last_success if st else None,
                st.last_error if st and st.consecutive_failures else None,
                act.posts_since,
            )
        )
    return rows


async def get_sources(request: web.Request) -> web.Response:
    members = request.app[MEMBERS_KEY]
    store = await asyncio.to_thread(members.store)
    rows = await asyncio.to_thread(health_rows, store, members.now())
    return page("sources.html", rows=rows, **site_context(members.settings))

"""``/sources``: every enabled source's health, in public, so members see their own feed's state
(ok, failing, gone, never fetched), its last success and error, and its posts of the last 30
days without asking the operator.  The error is worded in the visitor's language from its kind
and parameters (``i18n.describe_error``); one stored before kinds existed shows as stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web

from aggregator.config import Settings
from aggregator.i18n import describe_error
from aggregator.models import SourceState
from aggregator.present.names import Names
from aggregator.store.protocol import Store
from aggregator.web.pages import language_of, page
from aggregator.web.state import MEMBERS_KEY

__all__ = ["HealthRow", "get_sources", "health_rows"]


@dataclass(frozen=True, slots=True)
class HealthRow:
    id: str
    name: str
    organisation: str
    state: str  # ok, failing, gone, never fetched
    last_success: datetime | None
    last_error: str | None  # in the reader's language
    posts_30d: int


def health_label(state: SourceState | None) -> str:
    if state is None or (state.last_fetch is None and state.last_success is None):
        return "never fetched"
    if state.gone:
        return "gone"
    if state.consecutive_failures:
        return "failing"
    return "ok"


def error_text(state: SourceState | None, language: str) -> str | None:
    """The error of a failing source in ``language``; None for a source that works."""
    if state is None or not state.consecutive_failures:
        return None
    return describe_error(
        state.last_error_kind, state.last_error_params, language, state.last_error
    )


def health_rows(
    store: Store, now: datetime, language: str, settings: Settings | None = None
) -> list[HealthRow]:
    """One row per enabled source still in feeds.yaml, by name; errors, and the names
    ``settings`` gives per language, in ``language``."""
    sources = store.get_sources()
    names = Names.of(settings, sources) if settings is not None else Names(sources, {})
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
                names.feed(sid, language) or source.name,
                names.organisation(sid, language) or source.organisation,
                health_label(st),
                st.last_success if st else None,
                error_text(st, language),
                act.posts_since,
            )
        )
    return rows


async def get_sources(request: web.Request) -> web.Response:
    """The health page, rendered at most once a minute per language: a cycle changes it every
    few minutes, and 200 readers at once used to query the store and render it 200 times."""
    members = request.app[MEMBERS_KEY]
    language = language_of(request)

    def rows() -> list[HealthRow]:
        return health_rows(members.store(), members.now(), language, members.settings)

    async def fresh() -> str:
        return page(request, "sources.html", rows=await members.offload(rows)).text or ""

    text = await members.cached(f"sources {language}", fresh)
    return web.Response(
        text=text,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", "Content-Language": language},
    )

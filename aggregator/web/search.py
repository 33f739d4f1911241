"""``/search`` and ``/search.atom``: find any post, in the page's language first.

Enters: a GET with ``q`` and the filters (``language``, ``org``, ``topic``, ``from``, ``to``,
``sort``, ``page``).  Leaves: a results page in the visitor's language (the member pages'
layout: a plain GET form, no script), or the same search as an Atom feed a reader can follow.

Which posts' language is searched: the one named by ``language`` (``all`` for every one);
without it, the page's language, and when that finds nothing, every language, with a line
saying so.  Each post is matched with the query folded and stemmed in its own language
(``aggregator.search``); the matching words are marked with ``<mark>`` in the title and in a
snippet of the text around the first match, every other character escaped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from aggregator.i18n import Translator, autonym, base_language
from aggregator.models import Post, Source
from aggregator.publish.search_feed import search_atom
from aggregator.search import (
    SORTS,
    SearchRequest,
    SearchResults,
    document_text,
    highlight,
    parse_query,
)
from aggregator.web.language import offered_languages
from aggregator.web.pages import language_of, page, words
from aggregator.web.state import MEMBERS_KEY

__all__ = ["SearchForm", "get_search", "get_search_atom", "read_form"]

PER_PAGE = 20
FEED_SIZE = 50
MAX_PAGE = 500
MAX_QUERY = 200
ALL = "all"


@dataclass(frozen=True, slots=True)
class SearchForm:
    """What the visitor asked, checked; ``error`` is a sentence in their language."""

    q: str = ""
    language: str = ""  # "" = the page's language, then all; "all"; or a language code
    org: str = ""
    topic: str = ""
    since: date | None = None
    until: date | None = None
    sort: str = "relevance"
    page: int = 1
    error: str | None = None

    def params(self, **changes: Any) -> dict[str, str]:
        """The query string of this search (``changes`` applied), empty fields left out."""
        form = replace(self, **changes)
        values = {
            "q": form.q,
            "language": form.language,
            "org": form.org,
            "topic": form.topic,
            "from": form.since.isoformat() if form.since else "",
            "to": form.until.isoformat() if form.until else "",
            "sort": "" if form.sort == "relevance" else form.sort,
            "page": "" if form.page == 1 else str(form.page),
        }
        return {key: value for key, value in values.items() if value}


def _date(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def read_form(query: Any, say: Translator) -> SearchForm:
    """The search form from a request's query string; bad fields become ``error``."""
    q = " ".join(str(query.get("q", "")).split())
    form = SearchForm(
        q=q[:MAX_QUERY],
        language=str(query.get("language", "")).strip().lower()[:10],
        org=str(query.get("org", "")).strip()[:200],
        topic=str(query.get("topic", "")).strip()[:100],
        sort=str(query.get("sort", "relevance")),
    )
    if form.sort not in SORTS:
        form = replace(form, sort="relevance")
    if len(q) > MAX_QUERY:
        return replace(form, error=say.gettext("The search is too long."))
    try:
        form = replace(form, since=_date(query.get("from", "")), until=_date(query.get("to", "")))
    except ValueError:
        return replace(form, error=say.gettext("Dates are written YYYY-MM-DD."))
    raw_page = str(query.get("page", "1"))
    if not raw_page.isdigit() or not 1 <= int(raw_page) <= MAX_PAGE:
        return replace(form, error=say.gettext("That page of results does not exist."))
    return replace(form, page=int(raw_page))


def _request(form: SearchForm, languages: tuple[str, ...], limit: int) -> SearchRequest:
    def midnight(day: date | None, plus: int = 0) -> datetime | None:
        if day is None:
            return None
        return datetime.combine(day + timedelta(days=plus), time(), tzinfo=UTC)

    return SearchRequest(
        parse_query(form.q),
        languages=languages,
        organisation=form.org or None,
        topic=form.topic or None,
        since=midnight(form.since),
        until=midnight(form.until, 1),  # the "to" day is included
        sort=form.sort,
        limit=limit,
        offset=(form.page - 1) * limit,
    )


@dataclass(frozen=True, slots=True)
class Found:
    """What a search did: its results, and whether it fell back to every language."""

    results: SearchResults
    fell_back: bool


def run_search(request: web.Request, form: SearchForm, limit: int) -> Found:
    """Search the store (blocking: run in a thread)."""
    store = request.app[MEMBERS_KEY].store()
    if form.language == ALL:
        return Found(store.search_posts(_request(form, (), limit)), False)
    first = (base_language(form.language or language_of(request)),)
    found = store.search_posts(_request(form, first, limit))
    if found.total or form.language or form.page > 1:
        return Found(found, False)
    return Found(store.search_posts(_request(form, (), limit)), True)


# --------------------------------------------------------------------------------------------
# What the page shows


@dataclass(frozen=True, slots=True)
class Result:
    title: Markup
    link: str
    language: str
    snippet: Markup
    source: str
    published: datetime


def _result(post: Post, sources: dict[str, Source], form: SearchForm) -> Result:
    query = parse_query(form.q)
    text = document_text(post.content_html) if post.content_html else post.excerpt
    source = sources.get(post.source_id)
    name = source.organisation or source.name if source else post.source_id
    return Result(
        title=Markup(highlight(post.title, post.language, query)),  # noqa: S704 (escaped)
        link=post.link,
        language=post.language,
        snippet=Markup(highlight(" ".join(text.split()), post.language, query, 280)),  # noqa: S704
        source=name,
        published=post.published,
    )


def _choices(request: web.Request, sources: dict[str, Source]) -> dict[str, Any]:
    settings = request.app[MEMBERS_KEY].settings
    organisations = sorted({s.organisation or s.name for s in sources.values() if s.enabled})
    return {
        "languages": [(code, autonym(code)) for code in offered_languages(settings)],
        "organisations": organisations,
        "topics": sorted(settings.topics),
    }


async def get_search(request: web.Request) -> web.Response:
    say = words(request)
    form = read_form(request.query, say)
    members = request.app[MEMBERS_KEY]
    store = await asyncio.to_thread(members.store)
    sources = await asyncio.to_thread(store.get_sources)
    context: dict[str, Any] = {"form": form, "search_page": True, **_choices(request, sources)}
    feed = {**form.params(page=1), "lang": language_of(request)}  # readers keep no session
    context["feed"] = "/search.atom?" + urlencode(feed) if form.q else None
    found = None
    if form.q and form.error is None:
        found = await asyncio.to_thread(run_search, request, form, PER_PAGE)
        context.update(_page_links(form, found.results.total))
        context["results"] = [_result(p, sources, form) for p in found.results.posts]
    context["found"] = found
    status = 400 if form.error else 200
    return page(request, "search.html", status=status, **context)


def _page_links(form: SearchForm, total: int) -> dict[str, Any]:
    pages = max(1, min(MAX_PAGE, -(-total // PER_PAGE)))
    newer = "/search?" + urlencode(form.params(page=form.page - 1)) if form.page > 1 else None
    older = "/search?" + urlencode(form.params(page=form.page + 1)) if form.page < pages else None
    return {"total": total, "pages": pages, "newer": newer, "older": older}


async def get_search_atom(request: web.Request) -> web.Response:
    say = words(request)
    form = replace(read_form(request.query, say), page=1, sort="date")
    if form.error is not None or not form.q:
        raise web.HTTPBadRequest(text=form.error or say.gettext("Type the words to look for."))
    members = request.app[MEMBERS_KEY]
    found = await asyncio.to_thread(run_search, request, form, FEED_SIZE)
    store = members.store()
    params = urlencode({**form.params(sort="relevance"), "lang": language_of(request)})
    body = await asyncio.to_thread(
        search_atom,
        store,
        members.settings,
        found.results.posts,
        feed_path=f"search.atom?{params}",
        page_path=f"search?{params}",
        title=say.gettext(
            "%(site)s: search for “%(query)s”", site=members.settings.site.title, query=form.q
        ),
        language=language_of(request),
        now=members.now(),
    )
    return web.Response(
        body=body,
        content_type="application/atom+xml",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )

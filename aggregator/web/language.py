"""Which language a visitor reads the member pages in: their own choice, else their browser's.

The order, first match wins:

1. ``?lang=fr`` on any member page (the links of the pages' language switch), when the site
   offers that language; the choice is kept in the session, so the next pages, and the answers
   to forms posted from them, follow it;
2. the choice kept in the session;
3. the browser's ``Accept-Language`` among the offered languages (``i18n.preferred_language``);
4. the site's first language.

The offered languages are the site's (``site.languages`` in feeds.yaml) that have a catalog:
a language without one would show English words under its own name.  No script is involved:
the switch is a list of plain links.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import hdrs, web

from aggregator import config
from aggregator.i18n import DEFAULT_LANGUAGE, autonym, base_language, preferred_language, supported
from aggregator.web.session import chosen_language, keep_language

__all__ = [
    "LANGUAGE",
    "Choice",
    "language_switch",
    "offered_languages",
    "switch_target",
    "visitor_language",
]

LANGUAGE = web.RequestKey("language", str)
QUERY = "lang"


def offered_languages(settings: config.Settings) -> tuple[str, ...]:
    """The site's languages that have a catalog, in the site's order; English when none has."""
    offered: list[str] = []
    for tag in settings.site.languages:
        base = base_language(tag)
        if supported(base) == base and base not in offered:
            offered.append(base)
    return tuple(offered) or (DEFAULT_LANGUAGE,)


async def visitor_language(request: web.Request, offered: Sequence[str]) -> str:
    """The visitor's language among ``offered`` (see the module docstring for the order)."""
    asked = base_language(request.query.get(QUERY))
    if asked in offered:
        await keep_language(request, asked)
        return asked
    kept = await chosen_language(request)
    if kept is not None and kept in offered:
        return kept
    return preferred_language(request.headers.get(hdrs.ACCEPT_LANGUAGE), offered)


@dataclass(frozen=True, slots=True)
class Choice:
    """One link of the language switch: the language's code, its own name, where the link
    goes, and whether the page is in it."""

    code: str
    name: str
    href: str
    current: bool


def switch_target(request: web.Request) -> str:
    """The page a switch link reloads: this one, or for the answer to a form (a POST to
    ``/submit/confirm``) the page that form lives on, since following a link is a GET."""
    if request.method in (hdrs.METH_GET, hdrs.METH_HEAD):
        return request.path
    return "/" + request.path.strip("/").split("/")[0]


def language_switch(offered: Sequence[str], current: str, target: str) -> tuple[Choice, ...]:
    """The switch's links to ``target`` in each offered language; none for a single one."""
    if len(offered) < 2:
        return ()
    return tuple(
        Choice(code, autonym(code), f"{target}?{urlencode({QUERY: code})}", code == current)
        for code in offered
    )

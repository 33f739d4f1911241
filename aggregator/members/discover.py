"""From a URL a member pastes to the feed we would subscribe to, or a reason we will not.

Members rarely know their feed's address: they paste their home page, a blog page or a feed.
``discover`` fetches what they gave; if it is a feed, that is the answer; if it is an HTML page it
follows the feeds the page advertises (``<link rel="alternate">``) and, when it advertises none,
tries the paths common CMSs publish feeds at.  The answer is a ``Candidate`` showing what the
feed will look like on our site (its latest entries, parsed and normalised exactly as a cycle
would: ``ingest.process.read_fetched`` is the cycle's own reading, so a feed the cycle reads,
leniently or not, is a feed discovery accepts, with the same warnings) or a ``Refusal``: its
kind, the error behind it as an ``ErrorKind`` with parameters (which ``members.refusals`` words
in the member's language) and one English sentence for the CLI.

Address policy: a member's submission never benefits from the operator's ``allow_private``
list.  That list exists so staff can point the aggregator at a server on the local network; a
web form open to members must not be a way to make our server fetch from that network.

Everything here is pure apart from the ``Fetcher`` handed in; ``now`` is injected.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from pydantic import ValidationError

from aggregator.config import Settings, SourceSettings
from aggregator.errors import ParseError, RefusedURLError, one_line
from aggregator.ingest.failures import parse_failure
from aggregator.ingest.fetch import Fetcher, user_agent
from aggregator.ingest.language import normalise_tag
from aggregator.ingest.netguard import check_url
from aggregator.ingest.normalise import normalise
from aggregator.ingest.parse import find_feed_links
from aggregator.ingest.process import ParseLimits, read_fetched
from aggregator.ingest.urls import canonicalize, identity_key
from aggregator.members.refusals import (
    Failed,
    Refusal,
    RefusalKind,
    advertised_failed,
    duplicate_refusal,
    fetch_failed,
    refusal_of,
)
from aggregator.members.roster import NewSource, slugify, unique_id
from aggregator.models import (
    ErrorKind,
    FetchRequest,
    FetchResult,
    FetchStatus,
    ParsedFeed,
    Source,
)

__all__ = [
    "COMMON_PATHS",
    "MAX_ADVERTISED",
    "PREVIEW_ENTRIES",
    "Candidate",
    "Choices",
    "PreviewEntry",
    "Refusal",
    "RefusalKind",
    "SourceCheck",
    "check_sources",
    "check_sources_async",
    "discover",
    "discover_async",
    "discover_many",
    "duplicate_of",
    "feed_keys",
    "new_source",
    "self_link_duplicates",
]

COMMON_PATHS = ("/feed", "/rss.xml", "/atom.xml", "/feed.xml", "/index.xml", "/feed/")
PREVIEW_ENTRIES = 3
#: A page may advertise dozens of feeds (comments, tags…); only the first few are tried, so a
#: submitted page cannot make us fetch an unbounded list of URLs.
MAX_ADVERTISED = 5


@dataclass(frozen=True, slots=True)
class PreviewEntry:
    """One entry as subscribers will see it (title, link, date and excerpt after normalising)."""

    title: str
    link: str
    published: datetime
    excerpt: str
    language: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A feed found for a submitted URL, with what it will contribute."""

    submitted: str  # what the member gave
    url: str  # the feed's URL, to configure
    format: str  # rss20, atom10, json11…
    title: str | None
    homepage: str | None  # the feed's own link to its site
    language: str | None  # declared by the feed, else the most common among its entries
    entry_count: int
    latest: tuple[PreviewEntry, ...]
    self_link: str | None = None
    found_by: str = "direct"  # "direct", "advertised" (page <link>) or "common path"
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Found:
    feed: ParsedFeed
    url: str
    found_by: str


# --------------------------------------------------------------------------------------------
# Duplicates


def feed_keys(*urls: str | None) -> frozenset[str]:
    """Comparable keys of feed URLs: scheme, ``www.``, a trailing slash and tracking ignored."""
    keys = set()
    for url in urls:
        canonical = canonicalize(url)
        if canonical:
            keys.add(identity_key(canonical))
    return frozenset(keys)


def duplicate_of(keys: Collection[str], sources: Iterable[Source]) -> Source | None:
    """The first configured source whose feed URL has one of ``keys``."""
    for source in sources:
        if feed_keys(source.url) & set(keys):
            return source
    return None


# --------------------------------------------------------------------------------------------
# Discovery


def _allow(settings: Settings, member: bool) -> tuple[str, ...]:
    return () if member else tuple(settings.fetch.allow_private)


def _new_source(url: str) -> Source:
    """A feed not configured yet is read as ``feeds add`` will configure it: the defaults."""
    return Source(id="candidate", name="", organisation="", url=url)


def _parse(result: FetchResult, settings: Settings, source: Source) -> ParsedFeed:
    return read_fetched(source, result, ParseLimits.of(settings.fetch))


def _parse_failed(exc: ParseError) -> Failed:
    cause, params = parse_failure(exc)
    return Failed(RefusalKind.NOT_A_FEED, _not_feed_message(exc), cause, params)


def _is_page(error: ParseError) -> bool:
    return error.kind == "not_a_feed" and "HTML page" in str(error)


async def _get(fetcher: Fetcher, url: str) -> FetchResult:
    return await fetcher.fetch(FetchRequest(source_id="discover", url=url))


async def _try_feed(
    fetcher: Fetcher, url: str, settings: Settings, found_by: str
) -> _Found | Failed:
    """The feed at ``url``, or what kind of failure it was, why, and its cause.

    The URL to configure is the one asked for, or where a chain of permanent redirects ends:
    a temporary redirect (login walls, A/B tests, CDNs) must not become the configured URL.
    """
    result = await _get(fetcher, url)
    if result.status is not FetchStatus.OK or result.body is None:
        return fetch_failed(result)
    try:
        feed = _parse(result, settings, _new_source(url))
    except ParseError as exc:
        if _is_page(exc) and found_by == "direct":
            return await _from_page(fetcher, result, settings)
        return _parse_failed(exc)
    return _Found(feed, result.permanent_url or url, found_by)


async def _from_page(fetcher: Fetcher, page: FetchResult, settings: Settings) -> _Found | Failed:
    """An HTML page: its advertised feeds first, then the common paths at its site's root."""
    assert page.body is not None
    base = page.final_url or page.request.url
    links = find_feed_links(page.body, base)[:MAX_ADVERTISED]
    failures: list[Failed] = []
    for link in links:
        got = await _try_feed(fetcher, link.href, settings, "advertised")
        if isinstance(got, _Found):
            return got
        failures.append(got)
    if links:
        return advertised_failed(tuple(link.href for link in links), failures)
    parts = urlsplit(base)
    root = f"{parts.scheme}://{parts.netloc}/"
    tries = [urljoin(root, path) for path in COMMON_PATHS]
    results = await asyncio.gather(
        *(_try_feed(fetcher, url, settings, "common path") for url in tries)
    )
    for got in results:
        if isinstance(got, _Found):
            return got
    shown = ", ".join(COMMON_PATHS)
    reason = (
        f"not a feed: {base} is an HTML page that advertises no feed, and none of {shown} "
        "on its site is one"
    )
    params = {"page": "html", "url": base}
    return Failed(RefusalKind.NOT_A_FEED, reason, ErrorKind.NOT_A_FEED, params, (), COMMON_PATHS)


def _not_feed_message(exc: ParseError) -> str:
    text = str(exc)
    return text if text.startswith(("not a feed", "not a valid feed")) else f"not a feed: {text}"


def _candidate(
    found: _Found, submitted: str, settings: Settings, now: datetime, allow: tuple[str, ...]
) -> Candidate:
    feed = found.feed
    provisional = Source(
        id="candidate",
        name=feed.title or "",
        organisation=feed.title or "",
        url=found.url,
        homepage=feed.link,
        language=normalise_tag(feed.language) or settings.site.languages[0],
    )
    posts = normalise(
        feed,
        provisional,
        now,
        languages=settings.site.languages,
        topics=settings.topics,
        allow_private=allow,
    )
    newest = sorted(posts, key=lambda p: p.published, reverse=True)[:PREVIEW_ENTRIES]
    languages = [p.language for p in posts]
    common = max(set(languages), key=languages.count) if languages else None
    return Candidate(
        submitted=submitted,
        url=found.url,
        format=feed.format,
        title=feed.title,
        homepage=canonicalize(feed.link) if feed.link else None,
        language=normalise_tag(feed.language) or common,
        entry_count=len(feed.entries),
        latest=tuple(
            PreviewEntry(p.title, p.link, p.published, p.excerpt, p.language) for p in newest
        ),
        self_link=feed.self_link,
        found_by=found.found_by,
        warnings=feed.warnings,
    )


async def discover_with(
    fetcher: Fetcher,
    url: str,
    settings: Settings,
    *,
    member: bool,
    now: datetime,
    sources: Sequence[Source] | None = None,
) -> Candidate | Refusal:
    """``discover`` with a fetcher the caller opened (its allow-list must match ``member``)."""
    known = settings.source_list() if sources is None else sources
    submitted = url.strip()
    try:
        checked = check_url(submitted, _allow(settings, member))
    except RefusedURLError as exc:
        return Refusal(
            submitted,
            RefusalKind.REFUSED,
            f"refused address: {exc}",
            cause=ErrorKind.REFUSED,
            params={"url": submitted},
        )
    same = duplicate_of(feed_keys(checked), known)
    if same is not None:
        return duplicate_refusal(submitted, same, "url")
    found = await _try_feed(fetcher, checked, settings, "direct")
    if not isinstance(found, _Found):
        return refusal_of(submitted, found)
    same = duplicate_of(feed_keys(found.url, found.feed.url), known)
    if same is not None:
        return duplicate_refusal(submitted, same, "url")
    same = duplicate_of(feed_keys(found.feed.self_link), known)
    if same is not None:
        return duplicate_refusal(submitted, same, "self_link")
    return _candidate(found, submitted, settings, now, _allow(settings, member))


def _fetcher(settings: Settings, member: bool) -> Fetcher:
    return Fetcher(settings.fetch, user_agent=user_agent(settings), allow=_allow(settings, member))


async def discover_async(
    url: str, settings: Settings, *, member: bool, now: datetime
) -> Candidate | Refusal:
    """Find the feed behind ``url``; for callers already inside an event loop."""
    async with _fetcher(settings, member) as fetcher:
        return await discover_with(fetcher, url, settings, member=member, now=now)


def discover(url: str, settings: Settings, *, member: bool, now: datetime) -> Candidate | Refusal:
    """Find the feed behind ``url``, or say why it cannot be added.

    ``member=True`` for anything a member submitted (the web form): the operator's
    ``allow_private`` list is then ignored, so loopback and private addresses are refused.
    """
    return asyncio.run(discover_async(url, settings, member=member, now=now))


def discover_many(
    urls: Sequence[str], settings: Settings, *, member: bool, now: datetime
) -> list[Candidate | Refusal]:
    """``discover`` for several URLs at once, concurrently, in the order given."""

    async def run() -> list[Candidate | Refusal]:
        async with _fetcher(settings, member) as fetcher:
            jobs = (discover_with(fetcher, u, settings, member=member, now=now) for u in urls)
            return list(await asyncio.gather(*jobs))

    return asyncio.run(run())


# --------------------------------------------------------------------------------------------
# From a candidate to the feeds.yaml entry


@dataclass(frozen=True, slots=True)
class Choices:
    """What the operator or member chose (None: take it from the feed)."""

    id: str | None = None
    name: str | None = None
    organisation: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    homepage: str | None = None


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "source"
    return f"{where}: {str(err['msg']).removeprefix('Value error, ')}"


def new_source(
    found: Candidate, choices: Choices, settings: Settings, taken: Collection[str]
) -> NewSource | str:
    """The ``feeds.yaml`` entry for a discovered feed, or one line saying why it is invalid.

    Defaults: the name is the feed's title (else its host), the organisation the name, the id a
    slug of the organisation not in ``taken``, the language what the feed declares.
    """
    name = one_line(choices.name or found.title or "", 200) or _host(found.url)
    organisation = one_line(choices.organisation or "", 200) or name
    language = normalise_tag(choices.language) if choices.language else None
    language = language or choices.language or found.language or settings.site.languages[0]
    ident = choices.id or unique_id(slugify(organisation), taken)
    if ident in taken:
        return f"id {ident!r} is already used by another source"
    entry: dict[str, object] = {
        "id": ident,
        "name": name,
        "organisation": organisation,
        "url": found.url,
        "language": language,
        "tags": list(choices.tags),
    }
    homepage = choices.homepage or found.homepage
    if homepage:
        entry["homepage"] = homepage
    try:
        checked = SourceSettings.model_validate(entry)
    except ValidationError as exc:
        return f"invalid source: {_first_error(exc)}"
    return NewSource(
        id=checked.id,
        name=checked.name,
        organisation=checked.organisation,
        url=checked.url,
        homepage=checked.homepage,
        language=checked.language,
        tags=tuple(checked.tags),
    )


# --------------------------------------------------------------------------------------------
# Checking configured sources (feeds check / feeds validate)


@dataclass(frozen=True, slots=True)
class SourceCheck:
    """A configured source fetched and parsed now: ``error`` is None when it is a usable feed."""

    source_id: str
    url: str
    entry_count: int = 0
    error: str | None = None
    self_link: str | None = None
    final_url: str | None = None
    title: str | None = None
    warnings: tuple[str, ...] = ()  # what the parse noted: dropped entries, bad bytes…
    undated: int = 0  # entries whose date could not be read: dated when first seen


async def _check_one(
    fetcher: Fetcher, source: Source, settings: Settings, now: datetime
) -> SourceCheck:
    result = await fetcher.fetch(FetchRequest(source.id, source.url))
    if result.status is not FetchStatus.OK or result.body is None:
        refused = result.error_kind is ErrorKind.REFUSED
        kind = "refused address" if refused else "not reachable"
        error = result.error or f"HTTP {result.http_status}"
        return SourceCheck(source.id, source.url, error=f"{kind}: {error}")
    final = result.final_url or source.url
    try:
        feed = _parse(result, settings, source)
    except ParseError as exc:
        return SourceCheck(source.id, source.url, error=_not_feed_message(exc), final_url=final)
    posts = normalise(
        feed,
        source,
        now,
        languages=settings.site.languages,
        topics=settings.topics,
        allow_private=_allow(settings, member=False),
    )
    return SourceCheck(
        source.id,
        source.url,
        entry_count=len(feed.entries),
        self_link=feed.self_link,
        final_url=final,
        title=feed.title,
        warnings=feed.warnings,
        undated=sum(post.undated for post in posts),
    )


async def check_sources_async(
    sources: Sequence[Source], settings: Settings, now: datetime
) -> list[SourceCheck]:
    """Fetch, parse and normalise every source now (operator mode: the allow-list applies)."""
    async with _fetcher(settings, member=False) as fetcher:
        checks = (_check_one(fetcher, s, settings, now) for s in sources)
        return list(await asyncio.gather(*checks))


def check_sources(
    sources: Sequence[Source], settings: Settings, now: datetime
) -> list[SourceCheck]:
    return asyncio.run(check_sources_async(sources, settings, now))


def self_link_duplicates(
    checks: Sequence[SourceCheck], sources: Sequence[Source]
) -> Mapping[str, Source]:
    """Source id -> the earlier source it duplicates: configured URLs, final URLs after
    redirects and the feeds' self links are compared, so two spellings of one feed are caught."""
    by_id = {c.source_id: c for c in checks}
    keys: list[frozenset[str]] = []
    for source in sources:
        check = by_id.get(source.id)
        extra = (check.self_link, check.final_url) if check is not None else ()
        keys.append(feed_keys(source.url, *extra))
    found: dict[str, Source] = {}
    for i, source in enumerate(sources):
        for j in range(i):
            if keys[i] & keys[j]:
                found[source.id] = sources[j]
                break
    return found

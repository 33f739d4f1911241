"""The records that cross module boundaries.

Every stage of the cycle hands the next one a frozen dataclass from this module, never a
third-party object (no ``feedparser.FeedParserDict``, no ``aiohttp`` response, no SQLAlchemy row).
That keeps each dependency inside the one module that owns it and makes every stage testable
with plain values.

The flow, one source at a time::

    Source + SourceState --fetch--> FetchResult --parse--> ParsedFeed --normalise--> [Post]
    --plan_update--> SourceUpdate --store.apply_update--> UpdateOutcome

All datetimes are timezone-aware UTC.  Collections are tuples so that records stay hashable and
immutable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, TypeVar

# --------------------------------------------------------------------------------------------
# Errors a source can have, as keys (the words are chosen when a reader sees them)


class ErrorKind(enum.StrEnum):
    """Why a source could not be read, as a key: ``i18n.describe_error`` words it in the
    reader's language, with the ``ErrorParams`` stored beside it.  The values are stored in the
    database: add new kinds, never rename one (an unknown stored kind reads as its sentence)."""

    # reaching the server
    REFUSED = "refused"  # the address policy said no (private network, bad scheme, …)
    DNS = "dns"  # the host name does not resolve
    CONNECTION = "connection"  # refused, reset or cut off
    TIMEOUT = "timeout"
    TLS = "tls"  # certificate or handshake
    PROTOCOL = "protocol"  # not a valid HTTP response
    # what it answered
    HTTP_STATUS = "http_status"  # an error status other than 410 (params: status)
    GONE = "gone"  # 410: removed for good
    BAD_REDIRECT = "bad_redirect"  # a redirect without a Location (params: status)
    REDIRECT_LOOP = "redirect_loop"  # (params: url)
    TOO_MANY_REDIRECTS = "too_many_redirects"  # (params: limit)
    TOO_LARGE = "too_large"  # over the body limit (params: limit, in bytes)
    ENCODING = "encoding"  # a Content-Encoding we cannot or will not decode
    NO_VALIDATORS_304 = "no_validators_304"  # 304 to a request without validators
    # what the document is
    EMPTY = "empty"
    NOT_A_FEED = "not_a_feed"  # (params: page/feeds for an HTML page, selector for a listing)
    INVALID = "invalid"  # a feed we cannot read
    HOSTILE = "hostile"  # built to hurt a reader (entity tricks, absurd nesting)
    # ours
    INTERNAL = "internal"


#: The parameters of an error kind: a few JSON-able values (an HTTP status, a size limit, a
#: host, a short tuple of URLs), stored as JSON next to the kind.
ErrorParam = str | int | float | tuple[str, ...]
ErrorParams = Mapping[str, ErrorParam]

# --------------------------------------------------------------------------------------------
# Sources and their state


@dataclass(frozen=True, slots=True)
class ScrapeRules:
    """CSS selectors for a source of type ``html`` (a listing page without a feed)."""

    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    date_format: str = "%d/%m/%Y"
    tags: str | None = None
    excerpt: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    """A member's feed as the operator configured it in ``feeds.yaml``."""

    id: str
    name: str
    organisation: str
    url: str
    homepage: str | None = None
    language: str = "en"
    tags: tuple[str, ...] = ()
    enabled: bool = True
    kind: str = "feed"  # "feed" or "html"
    scrape: ScrapeRules | None = None
    day_first: bool = False
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about a source between cycles (HTTP caching and health)."""

    source_id: str
    url: str  # the URL to fetch now: the configured one, or the target of a stored 301/308
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetch: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None  # one English line, for logs and the command line
    last_error_kind: ErrorKind | None = None  # None: no error, or stored before kinds existed
    last_error_params: ErrorParams = field(default_factory=dict)
    last_error_at: datetime | None = None
    failing_since: datetime | None = None
    consecutive_failures: int = 0
    next_fetch: datetime | None = None
    gone: bool = False
    entries_seen: int = 0
    title: str | None = None  # the feed's own title, from its last good parse
    link: str | None = None  # the feed's own alternate link


# --------------------------------------------------------------------------------------------
# Fetching


class FetchStatus(enum.StrEnum):
    """How one fetch ended, as the update cycle needs to know it."""

    OK = "ok"  # 2xx with a body
    NOT_MODIFIED = "not_modified"  # 304, or a body identical to the last one
    ERROR = "error"  # anything that should back off and be retried
    GONE = "gone"  # 410: stop fetching until re-enabled


@dataclass(frozen=True, slots=True)
class FetchRequest:
    source_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of fetching one source.  Errors are values here, never exceptions."""

    request: FetchRequest
    status: FetchStatus
    http_status: int | None = None
    final_url: str = ""  # after redirects; the base URL for relative links
    permanent_url: str | None = None  # set when a 301/308 chain says the feed moved
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None  # one English line, for logs and the command line
    error_kind: ErrorKind | None = None  # the same as a key, words chosen by each reader
    error_params: ErrorParams = field(default_factory=dict)
    retry_after_s: float | None = None
    elapsed_s: float = 0.0


# --------------------------------------------------------------------------------------------
# Parsing (what a document says, before our rules)


_Record = TypeVar("_Record")


def _pickled_by_fields(cls: type[_Record]) -> type[_Record]:
    """Pickle instances as ``cls(*fields)``.

    Posts cross the process boundary by the thousand in a cycle; the state methods that
    ``dataclass(slots=True, frozen=True)`` generates walk ``fields()`` in Python for every
    object, which made pickling twice as slow as this.
    """
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[type[_Record], tuple[Any, ...]]:
        return cls, values(self)

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Author:
    name: str
    affiliation: str | None = None
    uri: str | None = None
    email: str | None = None


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Link:
    href: str
    rel: str = "alternate"
    type: str | None = None
    hreflang: str | None = None
    length: int | None = None


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One entry as the document states it: raw HTML, raw strings, nothing cleaned yet."""

    guid: str | None = None
    link: str | None = None
    title: str | None = None  # may hold markup and entities
    summary: str | None = None  # HTML
    content: str | None = None  # HTML
    authors: tuple[Author, ...] = ()
    tags: tuple[str, ...] = ()
    published: datetime | None = None
    updated: datetime | None = None
    published_raw: str | None = None  # the text as written; ingest.dates read ``published``
    updated_raw: str | None = None
    language: str | None = None
    base: str | None = None  # xml:base in force for the entry
    links: tuple[Link, ...] = ()  # enclosures, alternates with hreflang, …
    images: tuple[str, ...] = ()  # media:thumbnail / media:content URLs, in document order


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    url: str  # the document's final URL
    format: str  # "rss20", "atom10", "json11", "html", …
    title: str | None = None
    link: str | None = None
    self_link: str | None = None
    language: str | None = None
    authors: tuple[Author, ...] = ()
    entries: tuple[ParsedEntry, ...] = ()
    warnings: tuple[str, ...] = ()  # recoverable problems (feedparser's bozo, cut entries…)


# --------------------------------------------------------------------------------------------
# The blog-post model


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Post:
    """One post in the canonical form every output is spliced from.

    ``id`` is ours and stable across runs; ``guid`` is what the source called it.
    ``content_html`` is already sanitized: it is safe to republish and to mail.
    """

    id: str
    source_id: str
    guid: str | None
    title: str
    link: str
    published: datetime
    updated: datetime
    first_seen: datetime
    language: str
    excerpt: str
    content_html: str
    title_derived: bool = False
    authors: tuple[Author, ...] = ()
    tags: tuple[str, ...] = ()  # the publisher's labels, cleaned
    topics: tuple[str, ...] = ()  # network-wide topic keys the tags map onto
    image: str | None = None
    content_hash: str = ""  # over every normalised field; unchanged hash = nothing to write
    also_from: tuple[str, ...] = ()  # other sources that published the same story
    translations: tuple[Link, ...] = ()
    # No date could be read from the entry, so ``published`` is when it was first seen.  Said
    # by ``feeds check`` only: not part of the content hash, not stored (a stored post reads
    # False), since only the check, which normalises the document it fetched, reports it.
    undated: bool = False


# --------------------------------------------------------------------------------------------
# Updating


@dataclass(frozen=True, slots=True)
class SourceUpdate:
    """What one source's update writes, decided by ``update.plan_update``; applied atomically."""

    source_id: str
    state: SourceState
    posts: tuple[Post, ...] = ()  # new or changed posts only
    merges: tuple[tuple[Post, str], ...] = ()  # (a duplicate of a stored story, its primary id)
    # (primary demoted, primary kept): stored stories a new post showed to be one (dedupe)
    joins: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """One line of a cycle's report.  A failing source is an outcome, never an abort."""

    source_id: str
    status: FetchStatus
    new_posts: int = 0
    updated_posts: int = 0
    error: str | None = None
    http_status: int | None = None
    elapsed_s: float = 0.0
    moved_to: str | None = None


@dataclass(frozen=True, slots=True)
class CycleReport:
    started: datetime
    finished: datetime
    outcomes: tuple[UpdateOutcome, ...]

    def count(self, status: FetchStatus) -> int:
        return sum(1 for o in self.outcomes if o.status is status)

    @property
    def new_posts(self) -> int:
        return sum(o.new_posts for o in self.outcomes)

    @property
    def updated_posts(self) -> int:
        return sum(o.updated_posts for o in self.outcomes)


# --------------------------------------------------------------------------------------------
# Digest editions (the ledger)


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed before SMTP; never retried blindly (at-most-once delivery)
    SENT = "sent"
    FAILED = "failed"  # refused by the server: safe to retry


@dataclass(frozen=True, slots=True)
class EditionRecord:
    """One edition of a digest: its window, its items and where it was rendered."""

    id: str
    name: str
    window_start: datetime | None  # exclusive; None for the first edition
    window_end: datetime  # inclusive: the watermark the next edition starts after
    created: datetime
    post_ids: tuple[str, ...]
    subject: str
    html_path: str | None = None
    text_path: str | None = None
    eml_path: str | None = None
    sent: bool = False  # every recipient reached (or failed for good)
    notes: tuple[str, ...] = ()  # e.g. "7 oldest items moved to a link to the site"


@dataclass(frozen=True, slots=True)
class RecipientStatus:
    edition_id: str
    address: str
    state: RecipientState
    message_id: str | None = None
    error: str | None = None
    updated: datetime | None = None

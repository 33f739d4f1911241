"""The CPU stage of a cycle: a fetched document in, normalised posts out.

Parsing (feedparser) and normalising (sanitizing, language detection) are CPU-bound, so a cycle
runs this stage in a process pool.  Everything that crosses the process boundary is a frozen,
picklable record, and ``process_document`` is a module-level function that never raises: a bad
document becomes ``ProcessedDocument.error`` (English, for logs) with its ``error_kind`` and
``error_params`` (``ingest.failures``), which readers see in their own language.

``read_fetched`` is the one reading of a fetched document: the cycle (through ``document_job``
and ``process_document``), ``feeds add``, ``feeds check`` and the member form's discovery all
parse with it and with the same limits (``ParseLimits.of(settings.fetch)``), so a document one of
them reads, the others read the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from aggregator.dedupe import story_link_keys, title_key
from aggregator.errors import FeedError, ParseError
from aggregator.ingest.dates import load_name_tables
from aggregator.ingest.failures import parse_failure
from aggregator.ingest.normalise import normalise
from aggregator.ingest.parse import MAX_DOCUMENT_BYTES, parse_document
from aggregator.ingest.scrape import scrape_listing
from aggregator.models import ErrorKind, ErrorParams, FetchResult, ParsedFeed, Post, Source
from aggregator.search import post_tokens

if TYPE_CHECKING:  # the cycle's workers never see settings: pydantic stays out of them
    from aggregator.config import FetchSettings, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """How much of one document is read: the newest ``max_entries`` entries of a document of at
    most ``max_bytes`` (the fetcher's own cap, so the parser never refuses what it accepted)."""

    max_entries: int = 200
    max_bytes: int = MAX_DOCUMENT_BYTES

    @classmethod
    def of(cls, fetch: FetchSettings) -> ParseLimits:
        return cls(max_entries=fetch.max_entries, max_bytes=fetch.max_body_bytes)


@dataclass(frozen=True, slots=True)
class DocumentJob:
    source: Source
    body: bytes
    url: str
    headers: Mapping[str, str]
    now: datetime
    languages: tuple[str, ...]
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    limits: ParseLimits = ParseLimits()
    allow_private: tuple[str, ...] = ()  # the operator's fetch.allow_private (images kept)


@dataclass(frozen=True, slots=True)
class ProcessedDocument:
    source_id: str
    posts: tuple[Post, ...] = ()
    title: str | None = None
    link: str | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    error_kind: ErrorKind | None = None
    error_params: ErrorParams = field(default_factory=dict)
    # (link key, title key) of each post, computed here so the cycle's parent process, which
    # also fetches and writes for every source, does not spend its time on them
    story_keys: tuple[tuple[str, str], ...] = ()
    # each post's search index tokens (title, body), for the same reason
    search_tokens: tuple[tuple[str, str], ...] = ()


def process_document(job: DocumentJob) -> ProcessedDocument:
    """Parse and normalise one document; any failure is returned, never raised."""
    source = job.source
    try:
        parsed = _parse(job)
        posts = normalise(
            parsed,
            source,
            job.now,
            languages=job.languages,
            topics=job.topics,
            allow_private=job.allow_private,
        )
    except ParseError as exc:
        kind, params = parse_failure(exc)
        return ProcessedDocument(source.id, error=str(exc), error_kind=kind, error_params=params)
    except FeedError as exc:
        return ProcessedDocument(source.id, error=str(exc), error_kind=ErrorKind.INVALID)
    except Exception as exc:  # a bug or a parser crash must not stop the cycle
        log.exception("unexpected error processing %s", source.id)
        error = f"internal error: {type(exc).__name__}: {exc}"
        return ProcessedDocument(source.id, error=error, error_kind=ErrorKind.INTERNAL)
    return ProcessedDocument(
        source.id,
        posts=tuple(posts),
        title=parsed.title,
        link=parsed.link,
        warnings=parsed.warnings,
        story_keys=_story_keys(posts, (source.homepage, parsed.link, job.url)),
        search_tokens=tuple(post_tokens(p) for p in posts),
    )


def _story_keys(posts: list[Post], homes: tuple[str | None, ...]) -> tuple[tuple[str, str], ...]:
    links = story_link_keys([p.link for p in posts], homes)
    return tuple((link, title_key(p.title)) for link, p in zip(links, posts, strict=True))


def document_job(
    source: Source, result: FetchResult, settings: Settings, now: datetime
) -> DocumentJob:
    """The cycle's job for one fetched document, its limits and languages from ``settings``."""
    assert result.body is not None
    return DocumentJob(
        source=source,
        body=result.body,
        url=_document_url(result),
        headers=dict(result.headers),
        now=now,
        languages=tuple(settings.site.languages),
        topics={k: tuple(v) for k, v in settings.topics.items()},
        limits=ParseLimits.of(settings.fetch),
        allow_private=tuple(settings.fetch.allow_private),
    )


def read_fetched(source: Source, result: FetchResult, limits: ParseLimits) -> ParsedFeed:
    """``result``'s document read as a cycle reads it: for discovery and ``feeds check``.

    ``source`` decides how (a listing page is scraped by its rules, ``day_first`` reads
    ambiguous dates); a feed not configured yet is read as a new source with the defaults.
    """
    assert result.body is not None
    return _read(source, result.body, _document_url(result), dict(result.headers), limits)


def _document_url(result: FetchResult) -> str:
    """Where the document was found, after redirects: relative links resolve against it."""
    return result.final_url or result.request.url


def _parse(job: DocumentJob) -> ParsedFeed:
    return _read(job.source, job.body, job.url, job.headers, job.limits)


def _read(
    source: Source, body: bytes, url: str, headers: Mapping[str, str], limits: ParseLimits
) -> ParsedFeed:
    if source.kind == "html" and source.scrape is not None:
        return scrape_listing(
            body,
            url=url,
            rules=source.scrape,
            max_entries=limits.max_entries,
            max_bytes=limits.max_bytes,
        )
    return parse_document(
        body,
        url=url,
        headers=headers,
        max_entries=limits.max_entries,
        day_first=source.day_first,
        max_bytes=limits.max_bytes,
    )


def warm_up(languages: tuple[str, ...] = ("en", "fr", "es")) -> None:
    """Import and initialise the heavy parts once per worker process: the whole language model
    (detection runs among every language it knows), the site's ``languages`` read in it, and
    the date reader's month and weekday names.

    Run where nothing else runs yet (a fork server, a fresh worker), so it also keeps
    numpy's BLAS to one thread: the model's products are one row by 142 columns, and a
    thread per core only made numpy's import twice as slow (0.17 s against 0.085 s here).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from aggregator.ingest import language

    load_name_tables()
    # enough letters to pass detect's minimum, so the model is really loaded here
    language.detect("warming up the language model", languages)

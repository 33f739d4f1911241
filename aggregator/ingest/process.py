"""The CPU stage of a cycle: a fetched document in, normalised posts out.

Parsing (feedparser) and normalising (sanitizing, language detection) are CPU-bound, so a cycle
runs this stage in a process pool.  Everything that crosses the process boundary is a frozen,
picklable record, and ``process_document`` is a module-level function that never raises: a bad
document becomes ``ProcessedDocument.error``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aggregator.dedupe import story_link_keys, title_key
from aggregator.errors import FeedError
from aggregator.ingest.dates import load_name_tables
from aggregator.ingest.normalise import normalise
from aggregator.ingest.parse import parse_document
from aggregator.ingest.scrape import scrape_listing
from aggregator.models import ParsedFeed, Post, Source

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DocumentJob:
    source: Source
    body: bytes
    url: str
    headers: Mapping[str, str]
    now: datetime
    languages: tuple[str, ...]
    topics: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    max_entries: int = 200
    allow_private: tuple[str, ...] = ()  # the operator's fetch.allow_private (images kept)


@dataclass(frozen=True, slots=True)
class ProcessedDocument:
    source_id: str
    posts: tuple[Post, ...] = ()
    title: str | None = None
    link: str | None = None
    warnings: tuple[str, ...] = ()
    error: str | None = None
    # (link key, title key) of each post, computed here so the cycle's parent process, which
    # also fetches and writes for every source, does not spend its time on them
    story_keys: tuple[tuple[str, str], ...] = ()


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
    except FeedError as exc:
        return ProcessedDocument(source.id, error=str(exc))
    except Exception as exc:  # a bug or a parser crash must not stop the cycle
        log.exception("unexpected error processing %s", source.id)
        return ProcessedDocument(source.id, error=f"internal error: {type(exc).__name__}: {exc}")
    return ProcessedDocument(
        source.id,
        posts=tuple(posts),
        title=parsed.title,
        link=parsed.link,
        warnings=parsed.warnings,
        story_keys=_story_keys(posts, (source.homepage, parsed.link, job.url)),
    )


def _story_keys(posts: list[Post], homes: tuple[str | None, ...]) -> tuple[tuple[str, str], ...]:
    links = story_link_keys([p.link for p in posts], homes)
    return tuple((link, title_key(p.title)) for link, p in zip(links, posts, strict=True))


def _parse(job: DocumentJob) -> ParsedFeed:
    source = job.source
    if source.kind == "html" and source.scrape is not None:
        return scrape_listing(
            job.body, url=job.url, rules=source.scrape, max_entries=job.max_entries
        )
    return parse_document(
        job.body,
        url=job.url,
        headers=job.headers,
        max_entries=job.max_entries,
        day_first=source.day_first,
    )


def warm_up(languages: tuple[str, ...] = ("en", "fr", "es")) -> None:
    """Import and initialise the heavy parts once per worker process: the language model
    restricted to the site's ``languages``, the one detection will use, and the date
    reader's month and weekday names.

    Run where nothing else runs yet (a fork server, a fresh worker), so it also keeps
    numpy's BLAS to one thread: the model's products are one row by three columns, and a
    thread per core only made numpy's import twice as slow (0.17 s against 0.085 s here).
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from aggregator.ingest import language

    load_name_tables()
    # enough letters to pass detect's minimum, so the model is really loaded here
    language.detect("warming up the language model", languages)

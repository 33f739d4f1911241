"""Fetching the lead images of the posts readers are shown, into the output directory.

Enters: the image URLs of the newest posts, the settings (fetch limits, the operator's
``allow_private`` pairs), the output directory and ``now``.  Leaves: ``images/<key>-<width>.jpg``
files and ``images/index.json`` (the manifest: each URL's stored variants, or why it failed and
when), written atomically; an ``ImageReport`` for logs.

Every image goes through the feed fetcher (``ingest.fetch``): the address guard on every hop,
the total deadline, the size limit counted after decompression.  Images get their own, smaller
limits.  A failure is recorded and retried after ``RETRY_AFTER``, never the next minute; it
costs only that image (the post shows without one).  Called by the cycle under its lock,
before the publish that shows the images.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from aggregator.config import Settings
from aggregator.errors import one_line
from aggregator.files import write_atomic
from aggregator.ingest.fetch import Fetcher, user_agent
from aggregator.models import FetchRequest, FetchResult, FetchStatus, Post
from aggregator.present.images import (
    DIRECTORY,
    MANIFEST,
    ImageRefused,
    Stored,
    make_variants,
    read_manifest,
    stored,
)
from aggregator.store.protocol import Store

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # a lead image larger than this is not meant for the web
IMAGE_TIMEOUT_S = 20.0
PER_RUN = 150  # images fetched by one cycle at most: a new member's backlog arrives over a few
RETRY_AFTER = timedelta(days=1)
CANDIDATES = 600  # the newest posts whose images are kept: what the page sets can show


@dataclass(frozen=True, slots=True)
class ImageReport:
    fetched: int
    failed: int
    kept: int
    removed: int
    failures: tuple[tuple[str, str], ...] = ()  # (URL, why), for logs


def wanted_urls(posts: Iterable[Post]) -> list[str]:
    """The lead images of ``posts`` (newest first), each once, http(s) only."""
    seen: dict[str, None] = {}
    for post in posts:
        url = (post.image or "").strip()
        if url.startswith(("http://", "https://")):
            seen.setdefault(url, None)
    return list(seen)


def plan(
    urls: Sequence[str], manifest: Mapping[str, object], now: datetime
) -> tuple[list[str], dict[str, object]]:
    """(URLs to fetch now, the manifest entries to keep): pure.  A good record is kept; a failure
    younger than ``RETRY_AFTER`` is kept and not retried; the rest is fetched, newest post first,
    at most ``PER_RUN``.  URLs no longer wanted leave the manifest."""
    keep: dict[str, object] = {}
    fetch: list[str] = []
    for url in urls:
        entry = manifest.get(url)
        if (isinstance(entry, dict) and "key" in entry) or (
            isinstance(entry, dict) and _recent(entry.get("at"), now)
        ):
            keep[url] = entry
        elif len(fetch) < PER_RUN:
            fetch.append(url)
    return fetch, keep


def _recent(at: object, now: datetime) -> bool:
    try:
        return isinstance(at, str) and now - datetime.fromisoformat(at) < RETRY_AFTER
    except (TypeError, ValueError):
        return False


def load_manifest(root: Path) -> dict[str, object]:
    try:
        data = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def stored_images(root: Path) -> dict[str, Stored]:
    """The images a publish or a digest may show, by URL (an empty mapping before any fetch)."""
    return read_manifest(load_manifest(root))


def fetch_images(store: Store, settings: Settings, now: datetime) -> None:
    """The lead images of the store's newest posts, before the publish that shows them (the
    cycle and the demo call it); a failure here costs images, never the cycle."""
    try:
        report = fetch_lead_images(store.recent_posts(CANDIDATES), settings, now)
    except Exception as exc:  # a full disk, a broken manifest: one line, as for the rest
        log.warning("lead images not updated: %s", one_line(str(exc)))
        return
    if report.fetched or report.failed or report.removed:
        log.info(
            "lead images: %d stored, %d refused, %d kept, %d files removed",
            report.fetched,
            report.failed,
            report.kept,
            report.removed,
        )


def fetch_lead_images(posts: Sequence[Post], settings: Settings, now: datetime) -> ImageReport:
    """Fetch, check, resize and store the lead images of ``posts`` not stored yet."""
    root = settings.output_dir
    manifest = load_manifest(root)
    urls = wanted_urls(posts[:CANDIDATES])
    todo, entries = plan(urls, manifest, now)
    failures: list[tuple[str, str]] = []
    hosts = settings.fetch.image_hosts
    for url in [u for u in todo if hosts and not host_listed(u, hosts)]:
        todo.remove(url)
        failures.append((url, "not fetched: its host is not in fetch.image_hosts"))
        entries[url] = {"failed": failures[-1][1], "at": now.isoformat()}
    results = asyncio.run(_fetch_all(todo, settings)) if todo else []
    for result in results:
        url = result.request.url
        try:
            entries[url] = _store(result, root)
        except ImageRefused as exc:
            failures.append((url, str(exc)))
            entries[url] = {"failed": str(exc), "at": now.isoformat()}
    ordered = {url: entries[url] for url in urls if url in entries}
    write_atomic(root / MANIFEST, json.dumps(ordered, indent=1, sort_keys=True).encode("utf-8"))
    removed = _remove_unused(root, ordered)
    for url, why in failures:
        log.info("lead image %s not shown: %s", url, why)
    good = sum(1 for e in ordered.values() if isinstance(e, dict) and "key" in e)
    refused = {url for url, _ in failures}
    fetched = sum(1 for r in results if r.request.url not in refused)
    return ImageReport(fetched, len(failures), good, removed, tuple(failures))


def host_listed(url: str, hosts: Sequence[str]) -> bool:
    """Whether ``url``'s host (or host:port) is one of ``hosts``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host in hosts or f"{host}:{parts.port or ''}" in hosts or parts.netloc in hosts


async def _fetch_all(urls: Sequence[str], settings: Settings) -> list[FetchResult]:
    limits = settings.fetch.model_copy(
        update={
            "max_body_bytes": min(settings.fetch.max_body_bytes, MAX_IMAGE_BYTES),
            "total_timeout_s": min(settings.fetch.total_timeout_s, IMAGE_TIMEOUT_S),
        }
    )
    agent = user_agent(settings)
    async with Fetcher(limits, user_agent=agent, allow=settings.fetch.allow_private) as fetcher:
        requests = [FetchRequest(source_id="image", url=url) for url in urls]
        return [result async for result in fetcher.fetch_all(requests)]


def _store(result: FetchResult, root: Path) -> dict[str, object]:
    """The manifest entry of one fetched image, its variants written; raises ``ImageRefused``."""
    if result.status is not FetchStatus.OK or result.body is None:
        raise ImageRefused(result.error or f"fetch ended {result.status.value}")
    kind = (result.content_type or "").split(";")[0].strip().lower()
    if kind and not kind.startswith("image/") and kind != "application/octet-stream":
        raise ImageRefused(f"served as {kind}, not as an image")
    made = make_variants(result.body)
    record = stored(made)
    for width, data in made.variants.items():
        write_atomic(root / record.path(width), data)
    return record.to_json()


def _remove_unused(root: Path, entries: Mapping[str, object]) -> int:
    """Delete variants no manifest entry names (images of posts no longer shown)."""
    used = {e["key"] for e in entries.values() if isinstance(e, dict) and "key" in e}
    removed = 0
    directory = root / DIRECTORY
    for path in sorted(directory.glob("*-*.jpg")) if directory.is_dir() else ():
        if path.name.rsplit("-", 1)[0] not in used:
            path.unlink(missing_ok=True)
            removed += 1
    return removed

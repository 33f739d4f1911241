"""Retention and housekeeping after a cycle: old posts, and files a killed run left behind.

The decision (``cutoff``) is pure; ``expire`` is the edge that asks the store to delete.  The
store, not this module, protects what must survive any age: posts a digest edition lists (the
ledger keeps its record) and each source's newest ``fetch.max_entries`` posts.  The latter is
why deleting never resurrects: a post its feed still lists stays stored, so the next fetch
knows it instead of publishing (and mailing) it again as new.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from aggregator.config import Settings
from aggregator.files import sweep_orphans
from aggregator.store.protocol import Store

log = logging.getLogger("aggregator.retention")


def cutoff(now: datetime, retention_days: int | None) -> datetime | None:
    """Posts first seen before this instant may go; None when retention is off (None or 0)."""
    if not retention_days:
        return None
    return now - timedelta(days=retention_days)


def expire(store: Store, settings: Settings, now: datetime, keep_ids: Collection[str] = ()) -> int:
    """Delete the posts older than ``site.retention_days``; how many were deleted."""
    before = cutoff(now, settings.site.retention_days)
    if before is None:
        return 0
    deleted = store.expire_posts(before, keep_ids, keep_newest=settings.fetch.max_entries)
    if deleted:
        log.info("retention: %d post(s) first seen before %s deleted", deleted, before.isoformat())
    return deleted


def tidy(store: Store, settings: Settings, now: datetime) -> int:
    """What ``fetch_and_publish`` runs between the cycle and publishing: expire old posts and
    delete temporary files of writers that died mid-write; how many posts were deleted."""
    sweep_outputs(settings)
    return expire(store, settings, now)


def sweep_outputs(settings: Settings) -> None:
    """Delete the temporary files of writers that died mid-write (``publish`` runs it too)."""
    for directory in {settings.output_dir, settings.digest_dir}:
        for path in sweep_orphans(directory):
            log.warning("removed %s, left by a run that was killed while writing it", path)

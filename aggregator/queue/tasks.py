"""The body of each queue job: plain functions over the settings and the store.

Each loads ``feeds.yaml`` afresh (an edit takes effect at the next job, as with the in-process
scheduler's jobs) and never raises for a configuration problem: it logs and returns, and the
planner's next tick tries again.  A worker keeps one store per configuration for its life:
opening one checks the schema, which each of hundreds of bucket jobs should not pay for.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from aggregator import config
from aggregator.clock import Clock, utc_now
from aggregator.cycle import held_lock, open_configured_store, run_cycle
from aggregator.errors import AggregatorError
from aggregator.jobs import bounce_job, digest_job
from aggregator.members.notify import send_notices
from aggregator.ops.cycles import CycleRecord, write_record
from aggregator.publish.publisher import publish_all
from aggregator.publish.websub import announce
from aggregator.retention import tidy
from aggregator.store.protocol import Store

log = logging.getLogger("aggregator.queue")

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store_for(settings: config.Settings) -> Store:
    with _stores_lock:
        store = _stores.get(settings.storage_url)
        if store is None:
            store = _stores[settings.storage_url] = open_configured_store(settings)
        return store


_settings: dict[str, tuple[tuple[int, int], config.Settings]] = {}


def load_settings(config_path: str) -> config.Settings:
    """``feeds.yaml`` as it is now, read again only when the file changed (its size or
    modification time): reading a thousand sources costs more than a small bucket's fetch."""
    try:
        stat = Path(config_path).stat()
    except OSError:
        return config.load(config_path)  # which says what is wrong, file and all
    stamp = (stat.st_mtime_ns, stat.st_size)
    with _stores_lock:
        cached = _settings.get(config_path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    settings = config.load(config_path)
    with _stores_lock:
        _settings[config_path] = (stamp, settings)
    return settings


def close_stores() -> None:
    with _stores_lock:
        for store in _stores.values():
            store.close()
        _stores.clear()


def update_bucket(
    config_path: str, bucket: int, source_ids: Sequence[str], cycle: str, clock: Clock = utc_now
) -> int:
    """Update the due sources of one bucket; how many were updated.

    Only sources still due are fetched: a bucket retried after its worker died skips every
    source the dead worker had already stored (each source's update is one transaction).
    """
    try:
        settings = load_settings(config_path)
    except AggregatorError as exc:
        log.error("bucket %d of cycle %s skipped: %s", bucket, cycle, exc)
        return 0
    store = store_for(settings)
    log.info("bucket=%d cycle=%s start: %d sources", bucket, cycle, len(source_ids))
    report = run_cycle(
        settings,
        store,
        clock=clock,
        only=tuple(source_ids),
        due_only=True,
        workers=settings.queue.parse_processes,
    )
    failed = sum(1 for o in report.outcomes if o.error)
    log.log(
        logging.WARNING if failed else logging.INFO,
        "bucket=%d cycle=%s done: %d sources, %d new, %d updated, %d failed",
        bucket,
        cycle,
        len(report.outcomes),
        report.new_posts,
        report.updated_posts,
        failed,
    )
    return len(report.outcomes)


def cycle_record(store: Store, started: datetime, finished: datetime) -> CycleRecord:
    """The record of a cycle run as bucket jobs, read back from the store: sources fetched
    and failed since it started, posts first seen since."""
    states = store.get_states().values()
    fetched = [s for s in states if s.last_fetch is not None and s.last_fetch >= started]
    failed = [s for s in fetched if s.last_error_at is not None and s.last_error_at >= started]
    activity = store.source_activity(started)
    return CycleRecord(
        started=started,
        finished=finished,
        sources=len(fetched),
        failed=len(failed),
        new_posts=sum(a.posts_since for a in activity.values()),
        updated_posts=None,
    )


def publish(config_path: str, cycle: str, clock: Clock = utc_now) -> bool:
    """Tidy, rewrite the outputs, record the cycle, tell the hub; whether it ran.

    Under the store's ``cycle`` lock, as the ``publish`` and ``fetch`` commands do, so a
    manual run never writes the outputs at the same time; a held lock raises ``LockedError``
    and the queue tries the job again later (``app``'s retry policy)."""
    try:
        settings = load_settings(config_path)
    except AggregatorError as exc:
        log.error("publish of cycle %s skipped: %s", cycle, exc)
        return False
    store = store_for(settings)
    now = clock()
    with held_lock(store, "cycle", clock):
        tidy(store, settings, now)
        published = publish_all(store, settings, now)
    write_record(settings.output_dir, cycle_record(store, datetime.fromisoformat(cycle), clock()))
    log.info("cycle=%s published: %d files rewritten", cycle, len(published.written))
    announce(published, settings)
    return True


def owner_notices(config_path: str, clock: Clock = utc_now) -> None:
    try:
        settings = load_settings(config_path)
    except AggregatorError as exc:
        log.error("owner notices skipped: %s", exc)
        return
    report = send_notices(store_for(settings), settings, clock())
    if report.sent or report.failed:
        log.info("owner notices: %d sent, %d failed", len(report.sent), len(report.failed))


def digest(config_path: str, edition: str) -> None:
    """The in-process scheduler's digest job, as is: the store lock ``digest:<edition>`` and
    the ledger's claims keep delivery at most once per recipient, whoever runs it."""
    digest_job(config_path, edition)


def bounces(config_path: str) -> None:
    """The in-process scheduler's bounce job, as is: the queue's lock ``bounces`` keeps one
    reader on the mailbox, so no report is read (and counted) twice."""
    bounce_job(config_path)

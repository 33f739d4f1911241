"""Entry points the scheduler stores by reference: each loads the config afresh and runs once.

Loading the configuration at every run means an edited ``feeds.yaml`` takes effect at the next
cycle without a restart; a config that became invalid is logged and the run skipped, never a crash
of the scheduler.
"""

from __future__ import annotations

import logging

from aggregator import config
from aggregator.app import fetch_and_publish, held_lock, open_configured_store, utc_now
from aggregator.errors import AggregatorError

log = logging.getLogger("aggregator.jobs")


def cycle_job(config_path: str) -> None:
    try:
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            report, published = fetch_and_publish(settings, store, due_only=True)
        finally:
            store.close()
    except AggregatorError as exc:
        log.error("cycle skipped: %s", exc)
        return
    log.info(
        "cycle done: %d sources, %d new, %d updated, %d failed; %d files rewritten",
        len(report.outcomes),
        report.new_posts,
        report.updated_posts,
        sum(1 for o in report.outcomes if o.error),
        len(published.written),
    )


def digest_job(config_path: str, edition: str) -> None:
    from aggregator.digest import send

    try:
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            with held_lock(store, f"digest:{edition}"):
                result = send(store, settings, edition, utc_now())
        finally:
            store.close()
    except AggregatorError as exc:
        log.error("digest %s skipped: %s", edition, exc)
        return
    log.info("digest %s: %s", edition, result)

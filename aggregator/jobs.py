"""Entry points the scheduler stores by reference: each loads the config afresh and runs once.

Loading the configuration at every run means an edited ``feeds.yaml`` takes effect at the next
cycle without a restart; a config that became invalid is logged and the run skipped, never a crash
of the scheduler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime

from aggregator import config
from aggregator.clock import utc_now
from aggregator.cycle import fetch_and_publish, held_lock, open_configured_store
from aggregator.errors import AggregatorError, LockedError
from aggregator.newsletter.digest import send
from aggregator.newsletter.scheduled import due_editions, hand_scheduled_later
from aggregator.secret import load_secret
from aggregator.store.protocol import Store
from aggregator.subscribers.bounces import process_inbox
from aggregator.subscribers.mailbox import open_inbox
from aggregator.subscribers.tokens import Tokens

log = logging.getLogger("aggregator.jobs")


def cycle_job(config_path: str) -> None:
    try:
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            report, published = fetch_and_publish(settings, store, due_only=True)
        finally:
            store.close()
    except LockedError as exc:  # another node's turn: expected on a shared database
        log.info("cycle skipped: %s", exc)
        return
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


def digest_now(store: Store, clock: Callable[[], datetime] = utc_now) -> datetime:
    """The end of a digest window: now, or the start of a cycle still running.

    A running cycle stamps its new posts with first-seen times after it took the cycle lock, and
    commits them later.  Closing an edition's window at that moment, not at ``now``, means none
    of its posts can land behind the window after it was read: they all belong to the next one.
    """
    now = clock()
    running = store.lock_held_since("cycle", now)
    return min(now, running) if running is not None else now


def digest_job(config_path: str, edition: str) -> None:
    try:
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            later = hand_scheduled_later(store, edition, utc_now())
            if later is not None:
                log.info("digest %s: this issue is scheduled by hand for %s", edition, later)
                return
            with held_lock(store, f"digest:{edition}"):
                result = send(store, settings, edition, digest_now(store))
        finally:
            store.close()
    except LockedError as exc:
        log.info("digest %s skipped: %s", edition, exc)
        return
    except AggregatorError as exc:
        log.error("digest %s skipped: %s", edition, exc)
        return
    log.info("digest %s: %s", edition, result)


def bounce_job(config_path: str) -> None:
    """Read the bounce mailbox once (``subscribers.bounce_schedule``)."""
    try:
        settings = config.load(config_path)
        mailbox = settings.subscribers.mailbox
        if mailbox is None:
            return
        tokens = Tokens(load_secret(settings.base_dir, os.environ), utc_now)
        store = open_configured_store(settings)
        try:
            with open_inbox(mailbox, settings.base_dir, os.environ) as inbox:
                outcomes = process_inbox(store, settings, tokens, inbox, utc_now())
        finally:
            store.close()
    except AggregatorError as exc:
        log.error("bounce mailbox skipped: %s", exc)
        return
    log.info("bounce mailbox: %d report(s) applied", len(outcomes))


def scheduled_job(config_path: str) -> None:
    """Every minute: send the issues staff scheduled by hand whose time has come."""
    try:
        settings = config.load(config_path)
        store = open_configured_store(settings)
        try:
            for edition in due_editions(store, settings, utc_now()):
                with held_lock(store, f"digest:{edition}"):
                    result = send(store, settings, edition, digest_now(store))
                log.info("scheduled digest %s: %s", edition, result)
        finally:
            store.close()
    except AggregatorError as exc:
        log.error("scheduled digests skipped: %s", exc)

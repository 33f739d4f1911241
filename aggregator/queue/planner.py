"""``aggregator scheduler`` with workers: one loop that plans, never fetches.

Every ``queue.poll_s`` seconds it reads ``feeds.yaml`` afresh, brings the store's source rows in
line with it (so bucket jobs never race to insert them), and then, in this order:

1. a cycle whose bucket jobs all ended gets its publish job (``plan.should_publish``);
2. with no cycle running, the due sources are grouped by bucket and one job per bucket is
   deferred (``plan.group_by_bucket``);
3. each digest edition has one job waiting at its slot (``plan.plan_digests``,
   ``plan.digest_slot``);
4. so has the bounce mailbox, when ``subscribers.bounce_schedule`` and ``subscribers.mailbox``
   are set (the same two decisions: a late reading runs once, never once per missed slot).

Everything it decides from is in the database (the store and procrastinate's jobs), so two
planners are harmless (queueing locks keep their jobs single) and a restarted one resumes
where the last one was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from aggregator import config
from aggregator.clock import Clock, utc_now
from aggregator.errors import AggregatorError
from aggregator.ingest.decide import select_sources
from aggregator.queue import tasks
from aggregator.queue.app import BOUNCES, DIGEST, MAILBOX, Queue, build_app, ensure_schema
from aggregator.queue.plan import (
    cycle_id,
    digest_slot,
    group_by_bucket,
    may_start_cycle,
    plan_digests,
    should_publish,
)
from aggregator.scheduler import next_slot

log = logging.getLogger("aggregator.queue")


@dataclass(frozen=True, slots=True)
class TickReport:
    published: str | None = None  # the cycle whose publish was deferred
    started: str | None = None  # the cycle started
    buckets: int = 0
    digests: tuple[str, ...] = ()
    bounces: bool = False  # a bounce reading was deferred


async def tick(queue: Queue, config_path: str, now: datetime) -> TickReport:
    """One pass of the planner (see the module docstring)."""
    try:
        settings = tasks.load_settings(config_path)
    except AggregatorError as exc:
        log.error("planning skipped: %s", exc)
        return TickReport()
    store = tasks.store_for(settings)
    store.sync_sources(settings.source_list())
    view = await queue.view()
    published = should_publish(view)
    if published is not None:
        await queue.defer_publish(published)
        log.info("cycle=%s: every bucket ended, publish deferred", published)
    started, count = None, 0
    if may_start_cycle(view):
        states = store.get_states()
        due = select_sources(settings, states, now, due_only=True)
        if due:
            started = cycle_id(now)
            buckets = group_by_bucket(due, states, settings.queue.buckets)
            count = await queue.defer_buckets(started, buckets)
            log.info("cycle=%s started: %d sources in %d buckets", started, len(due), count)
    editions = {e.name: (e.schedule, e.timezone) for e in settings.digest.editions}
    digests = await _plan_slots(queue, DIGEST, editions, now)
    bounces = await _plan_slots(queue, BOUNCES, _bounce_schedule(settings), now)
    return TickReport(published, started, count, digests, bool(bounces))


def _bounce_schedule(settings: config.Settings) -> dict[str, tuple[str, str]]:
    """The bounce reading's slots, as the in-process scheduler sets them (site time zone)."""
    subs = settings.subscribers
    if subs.bounce_schedule is None or subs.mailbox is None:
        return {}
    return {MAILBOX: (subs.bounce_schedule, settings.site.timezone)}


async def _plan_slots(
    queue: Queue, task: str, wanted: dict[str, tuple[str, str]], now: datetime
) -> tuple[str, ...]:
    """One job per name of ``wanted`` (name -> (cron, zone)) waiting at its slot."""
    plan = plan_digests(wanted, await queue.slot_jobs(task))
    await queue.cancel(plan.cancel)
    if not plan.defer:
        return ()
    last = await queue.last_slots(task)
    deferred = []
    for name in plan.defer:
        schedule, zone = wanted[name]
        slot = digest_slot(last.get(name), now, partial(next_slot, schedule, zone))
        if slot is not None and await queue.defer_slot(task, name, schedule, zone, slot):
            log.info("%s %s: next run at %s", task, name, slot.isoformat())
            deferred.append(name)
    return tuple(deferred)


async def run_planner(
    settings: config.Settings, stop: asyncio.Event | None = None, clock: Clock = utc_now
) -> None:
    """Tick every ``queue.poll_s`` until ``stop`` is set (SIGINT or SIGTERM by default)."""
    ensure_schema(settings)
    app = build_app(settings)
    stop = stop or _stop_on_signals()
    config_path = str(settings.path.resolve())
    async with app.open_async():
        queue = Queue(app, config_path)
        log.info("planner started: polling every %.0f s", settings.queue.poll_s)
        while not stop.is_set():
            try:
                await tick(queue, config_path, clock())
            except Exception:  # a database hiccup must not end the planner: next tick
                log.exception("planning failed; trying again at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), settings.queue.poll_s)
    tasks.close_stores()
    log.info("planner stopped")


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop

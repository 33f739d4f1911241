"""APScheduler jobs, and nothing else: each job calls one ``jobs``-level function.

The job store is APScheduler's SQLAlchemyJobStore on the same database as the posts, so a restart
resumes the schedule.  Jobs are registered by textual reference with plain arguments (the config
path), which is what a persistent job store needs.  Every job runs with ``max_instances=1`` (a
slow cycle is never overlapped by the next) and ``coalesce=True``: a digest missed while the
process was down runs once when it comes back, not once per missed slot.  Digest jobs have no
misfire limit (a weekly edition missed during a 3-day outage is still sent, once, covering every
post since the previous edition); the cycle job is re-planned for "now" at every start anyway.

**A scheduler that stops is a process that stops.**  APScheduler 3 lets an error raised while
it updates the job store (SQLite's write lock held past the busy timeout by a VACUUM, a long
retention delete, an operator's shell) end its thread: the process stayed up and ran nothing,
and a service manager saw it healthy.  Here such a pass is logged in one line and retried, the
job store waits for SQLite's lock as long as the store does, and a watchdog in ``run_forever``
ends the process with status 70 if the scheduler thread dies anyway, so that systemd or the
container runtime restarts it.

On start the stored jobs are reconciled with ``feeds.yaml`` while the scheduler is paused: a
digest job whose schedule did not change is kept as stored (so its missed run is still due); a
changed or new one is (re)created; jobs for editions that left the config are removed.
"""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime, timedelta
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.config import Settings
from aggregator.store.engine import BUSY_TIMEOUT_MS

log = logging.getLogger("aggregator.scheduler")

CYCLE_JOB = "cycle"
SCHEDULED_JOB = "scheduled-digests"  # issues scheduled by hand in the console
DIGEST_PREFIX = "digest:"
MISFIRE_GRACE_S = 24 * 3600
RETRY_S = 10.0  # after a failed pass over the job store
WATCHDOG_S = 5.0  # how often run_forever checks that the scheduler thread is alive
DIED = 70  # the exit status of a process whose scheduler thread died (EX_SOFTWARE)


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler 3's BackgroundScheduler, minus one way to silently skip a due job.

    ``shutdown()`` wakes the scheduler thread after marking the scheduler stopped and closing
    the executors; that thread then makes one more pass over the due jobs, fails to submit
    them ("cannot schedule new futures after shutdown", agronholm/apscheduler#985) and still
    moves their next run time forward.  A digest due at that moment would be skipped until
    its next slot.  The pass is checked under the job-store lock, which ``shutdown`` also
    takes, so it either runs fully before the executors close or not at all.
    """

    retry_s = RETRY_S

    def _process_jobs(self) -> float | None:
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                return None
            try:
                wait: float | None = super()._process_jobs()
            except Exception as exc:  # the job store failed mid-pass: retry, never die
                detail = (str(exc).splitlines() or [type(exc).__name__])[0]
                log.error(
                    "scheduler: job store error (%s); retrying in %.0f s", detail, self.retry_s
                )
                return self.retry_s
            return wait

    def alive(self) -> bool:
        """False once the thread that runs the jobs has ended while the scheduler runs."""
        thread = getattr(self, "_thread", None)
        return self.state == STATE_STOPPED or (thread is not None and thread.is_alive())


def build_scheduler(settings: Settings, *, busy_timeout_s: float | None = None) -> _Scheduler:
    """The scheduler, its job store on the store's database with the store's busy timeout."""
    options: dict[str, object] = {}
    if settings.storage_url.startswith("sqlite"):
        busy = BUSY_TIMEOUT_MS / 1000 if busy_timeout_s is None else busy_timeout_s
        options["connect_args"] = {"timeout": busy}
    return _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(url=settings.storage_url, engine_options=options)},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_S},
        timezone=ZoneInfo(settings.site.timezone),
    )


def reconcile_jobs(scheduler: BackgroundScheduler, settings: Settings, now: datetime) -> None:
    """Make the stored jobs match the configuration (call while the scheduler is paused)."""
    config_path = str(settings.path.resolve())
    scheduler.add_job(
        "aggregator.jobs:cycle_job",
        IntervalTrigger(minutes=settings.site.fetch_interval_minutes),
        args=[config_path],
        id=CYCLE_JOB,
        name="fetch and publish",
        replace_existing=True,
        next_run_time=now,  # a first cycle right away
    )
    _reconcile_bounces(scheduler, settings, config_path)
    scheduler.add_job(
        "aggregator.jobs:scheduled_job",
        IntervalTrigger(minutes=1),
        args=[config_path],
        id=SCHEDULED_JOB,
        name="digests scheduled by hand",
        replace_existing=True,
    )
    wanted = {DIGEST_PREFIX + e.name: e for e in settings.digest.editions}
    for job in scheduler.get_jobs():
        if job.id.startswith(DIGEST_PREFIX) and job.id not in wanted:
            scheduler.remove_job(job.id)
    for job_id, edition in wanted.items():
        trigger = CronTrigger.from_crontab(edition.schedule, timezone=ZoneInfo(edition.timezone))
        existing = scheduler.get_job(job_id)
        if (
            existing is not None
            and repr(existing.trigger) == repr(trigger)  # str() leaves the time zone out
            and list(existing.args) == [config_path, edition.name]
        ):
            if existing.misfire_grace_time is not None:  # stored by an older release
                scheduler.modify_job(job_id, misfire_grace_time=None)
            continue  # keep its stored next run time: a missed edition is still due
        scheduler.add_job(
            "aggregator.jobs:digest_job",
            trigger,
            args=[config_path, edition.name],
            id=job_id,
            name=f"digest {edition.name}",
            replace_existing=True,
            misfire_grace_time=None,  # however late: coalesced to one run, window since last
        )


BOUNCE_JOB = "bounces"


def _reconcile_bounces(scheduler: BackgroundScheduler, settings: Settings, path: str) -> None:
    """The bounce mailbox's job, when ``subscribers.bounce_schedule`` and a mailbox are set."""
    subs = settings.subscribers
    if subs.bounce_schedule is None or subs.mailbox is None:
        if scheduler.get_job(BOUNCE_JOB) is not None:
            scheduler.remove_job(BOUNCE_JOB)
        return
    scheduler.add_job(
        "aggregator.jobs:bounce_job",
        CronTrigger.from_crontab(subs.bounce_schedule, timezone=ZoneInfo(settings.site.timezone)),
        args=[path],
        id=BOUNCE_JOB,
        name="bounce mailbox",
        replace_existing=True,
    )


def run_forever(settings: Settings, stop_event: threading.Event | None = None) -> None:
    """Run a first cycle now, then follow the schedule until SIGINT or SIGTERM."""
    scheduler = build_scheduler(settings)
    stop = stop_event or threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s received: stopping after running jobs finish", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    scheduler.start(paused=True)
    try:
        reconcile_jobs(scheduler, settings, datetime.now(ZoneInfo(settings.site.timezone)))
        scheduler.resume()
        for job in scheduler.get_jobs():
            log.info("scheduled %s: next run %s", job.name, job.next_run_time)
        watch(scheduler, stop)
    finally:
        scheduler.shutdown(wait=True)
    log.info("scheduler stopped")


def next_slot(schedule: str, timezone: str, after: datetime) -> datetime | None:
    """The first run of a cron schedule strictly after ``after`` (the queue's planner uses the
    very trigger this scheduler runs, so both agree on when an edition is due)."""
    trigger = CronTrigger.from_crontab(schedule, timezone=ZoneInfo(timezone))
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire


def watch(scheduler: _Scheduler, stop: threading.Event, every_s: float = WATCHDOG_S) -> None:
    """Wait for ``stop``; leave with ``SystemExit(DIED)`` if the scheduler thread died."""
    while not stop.wait(every_s):
        if not scheduler.alive():
            log.critical("scheduler: its thread died; no cycle or digest would run: exiting")
            raise SystemExit(DIED)

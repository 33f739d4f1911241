"""procrastinate, and nothing else of the queue: the app, its tasks and locks, its tables.

Locks (procrastinate's, held in its own table for as long as a job runs):

* ``update_bucket``: ``lock`` and ``queueing_lock`` ``bucket:<k>``: one job of a bucket runs at
  a time and one waits, however many workers and planners there are;
* ``publish``: ``lock`` and ``queueing_lock`` ``publish``: one publish at a time, and a burst of
  requests collapses into the one waiting;
* ``digest``: ``lock`` ``digest:<edition>`` and a queueing lock of the same name: one job
  waits per edition, scheduled at its slot (``plan.digest_slot``);
* ``owner_notices``: ``notices`` for both, deferred by each publish;
* ``bounces``: ``lock`` and ``queueing_lock`` ``bounces``: one job waits, scheduled at the next
  slot of ``subscribers.bounce_schedule`` as a digest edition is, and one reads the mailbox at a
  time (two readers would both count a report before either deletes it).

A worker killed with -9 leaves its job ``doing``; procrastinate alone would keep it so for
good.  The periodic ``retry_stalled`` task (every ``queue.check_stalled_s``) finds jobs of
workers whose heartbeat is older than ``queue.stalled_after_s`` and puts them back in the
queue; a re-run bucket fetches only the sources still due.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, LiteralString

import psycopg
from procrastinate import App, PsycopgConnector, RetryStrategy
from procrastinate.exceptions import AlreadyEnqueued
from procrastinate.schema import SchemaManager

from aggregator import config
from aggregator.errors import AggregatorError, LockedError
from aggregator.queue import tasks
from aggregator.queue.plan import DigestJob, QueueView

log = logging.getLogger("aggregator.queue")

UPDATE = "update_bucket"
PUBLISH = "publish"
DIGEST = "digest"
NOTICES = "owner_notices"
BOUNCES = "bounces"
MAILBOX = "mailbox"  # the name of the bounce job's one slot series (digests: the edition)
STALLED = "retry_stalled"
_SCHEMA_LOCK = 0x61676772  # an advisory lock id: two processes never apply the schema twice


def conninfo(settings: config.Settings) -> str:
    """The libpq address of the store; the queue lives in the same database (and schema)."""
    url = settings.storage_url
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    raise AggregatorError(
        "workers need PostgreSQL (site.storage_url: postgresql+psycopg://…); "
        "with SQLite, run the in-process scheduler (`aggregator run`)"
    )


def ensure_schema(settings: config.Settings) -> bool:
    """Create procrastinate's tables if absent; whether they were created now."""
    with psycopg.connect(conninfo(settings), autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
            if row is not None and row[0] is not None:
                return False
            conn.execute(SchemaManager.get_schema())
            log.info("procrastinate's tables created")
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))


def build_app(settings: config.Settings) -> App:
    """The app with its tasks; jobs carry the config path so every worker reads it afresh."""
    connector = PsycopgConnector(conninfo=conninfo(settings), min_size=1, max_size=4)
    app = App(connector=connector)
    config_path = str(settings.path.resolve())
    stalled_after = settings.queue.stalled_after_s

    @app.task(name=UPDATE)
    async def update_bucket(
        config_path: str, bucket: int, source_ids: list[str], cycle: str
    ) -> None:
        await asyncio.to_thread(tasks.update_bucket, config_path, bucket, source_ids, cycle)

    # a manual `fetch` or `publish` holding the store's cycle lock: try again shortly
    @app.task(
        name=PUBLISH,
        retry=RetryStrategy(max_attempts=20, wait=30, retry_exceptions={LockedError}),
    )
    async def publish(config_path: str, cycle: str) -> None:
        if await asyncio.to_thread(tasks.publish, config_path, cycle):
            await defer_once(app, NOTICES, "notices", config_path=config_path)

    @app.task(name=NOTICES)
    async def owner_notices(config_path: str) -> None:
        await asyncio.to_thread(tasks.owner_notices, config_path)

    # a failed send (SMTP down) is tried again; the ledger keeps delivery at most once
    @app.task(name=DIGEST, retry=RetryStrategy(max_attempts=5, wait=300))
    async def digest(
        config_path: str, edition: str, schedule: str, timezone: str, slot: str
    ) -> None:
        await asyncio.to_thread(tasks.digest, config_path, edition)

    # a failure (mailbox unreachable) is logged by the job itself: the next slot tries again
    @app.task(name=BOUNCES)
    async def bounces(config_path: str, schedule: str, timezone: str, slot: str) -> None:
        await asyncio.to_thread(tasks.bounces, config_path)

    @app.periodic(cron=settings.queue.check_stalled_cron, periodic_id=config_path)
    @app.task(name=STALLED, queueing_lock=STALLED)
    async def retry_stalled(timestamp: int) -> None:
        await retry_stalled_jobs(app, stalled_after)

    return app


async def retry_stalled_jobs(app: App, stalled_after_s: float) -> list[int]:
    """Put the running jobs of workers silent for ``stalled_after_s`` back in the queue."""
    manager = app.job_manager
    retried = []
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after_s):
        if job.task_name == STALLED:
            continue  # the check itself runs again at its next tick anyway
        await manager.retry_job(job)
        assert job.id is not None
        retried.append(job.id)
        log.warning(
            "job %d (%s %s) was left by a dead worker: queued again",
            job.id,
            job.task_name,
            _describe(job.task_kwargs),
        )
    await manager.prune_stalled_workers(stalled_after_s)
    return retried


def _describe(kwargs: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in kwargs.items() if k in ("bucket", "cycle", "edition"))


async def defer_once(app: App, task: str, lock: str, **kwargs: Any) -> bool:
    """Defer unless a job with that queueing lock already waits; whether one was deferred."""
    try:
        await app.configure_task(task, lock=lock, queueing_lock=lock).defer_async(**kwargs)
    except AlreadyEnqueued:
        return False
    return True


class Queue:
    """What the planner asks of the queue's tables, and what it defers into them."""

    def __init__(self, app: App, config_path: str) -> None:
        self.app = app
        self.config_path = config_path

    async def _all(self, query: LiteralString, **args: Any) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = await self.app.connector.execute_query_all_async(query, **args)
        return rows

    async def view(self) -> QueueView:
        pending = await self._all(
            "SELECT count(*) AS n FROM procrastinate_jobs"
            " WHERE task_name = %(task)s AND status IN ('todo', 'doing')",
            task=UPDATE,
        )
        last = await self._all(
            "SELECT args->>'cycle' AS cycle FROM procrastinate_jobs"
            " WHERE task_name = %(task)s ORDER BY id DESC LIMIT 1",
            task=UPDATE,
        )
        cycle = last[0]["cycle"] if last else None
        published = await self._all(
            "SELECT count(*) AS n FROM procrastinate_jobs"
            " WHERE task_name = %(task)s AND args->>'cycle' = %(cycle)s",
            task=PUBLISH,
            cycle=cycle or "",
        )
        return QueueView(int(pending[0]["n"]), cycle, bool(published[0]["n"]))

    async def defer_buckets(self, cycle: str, buckets: dict[int, tuple[str, ...]]) -> int:
        deferred = 0
        for bucket, ids in buckets.items():
            deferred += await defer_once(
                self.app,
                UPDATE,
                f"bucket:{bucket}",
                config_path=self.config_path,
                bucket=bucket,
                source_ids=list(ids),
                cycle=cycle,
            )
        return deferred

    async def defer_publish(self, cycle: str) -> bool:
        return await defer_once(
            self.app, PUBLISH, "publish", config_path=self.config_path, cycle=cycle
        )

    async def slot_jobs(self, task: str = DIGEST) -> list[DigestJob]:
        """The waiting and running jobs of a task deferred at slots (digests, bounces)."""
        rows = await self._all(
            "SELECT id, status::text AS status, args FROM procrastinate_jobs"
            " WHERE task_name = %(task)s AND status IN ('todo', 'doing')",
            task=task,
        )
        return [
            DigestJob(
                int(r["id"]),
                r["status"],
                r["args"].get("edition", MAILBOX),
                r["args"]["schedule"],
                r["args"]["timezone"],
            )
            for r in rows
        ]

    async def last_slots(self, task: str = DIGEST) -> dict[str, datetime]:
        """Per edition (or the mailbox), the slot of its newest job, whatever became of it."""
        rows = await self._all(
            "SELECT args->>'edition' AS edition, max((args->>'slot')::timestamptz) AS slot"
            " FROM procrastinate_jobs WHERE task_name = %(task)s GROUP BY 1",
            task=task,
        )
        return {r["edition"] or MAILBOX: r["slot"].astimezone(UTC) for r in rows}

    async def cancel(self, job_ids: Sequence[int]) -> None:
        for job_id in job_ids:
            await self.app.job_manager.cancel_job_by_id_async(job_id)

    async def defer_slot(
        self, task: str, name: str, schedule: str, timezone: str, slot: datetime
    ) -> bool:
        """One job of ``task`` at ``slot``, unless one already waits; whether it was deferred."""
        lock = f"digest:{name}" if task == DIGEST else task
        named = {"edition": name} if task == DIGEST else {}
        try:
            await self.app.configure_task(
                task, lock=lock, queueing_lock=lock, schedule_at=slot
            ).defer_async(
                config_path=self.config_path,
                schedule=schedule,
                timezone=timezone,
                slot=slot.astimezone(UTC).isoformat(),
                **named,
            )
        except AlreadyEnqueued:
            return False
        return True


def run_worker(settings: config.Settings, name: str | None = None) -> None:
    """Run one worker until SIGINT or SIGTERM (running jobs finish first)."""
    ensure_schema(settings)
    app = build_app(settings)
    try:
        app.run_worker(
            name=name,
            concurrency=1,
            update_heartbeat_interval=settings.queue.heartbeat_s,
            stalled_worker_timeout=settings.queue.stalled_after_s,
        )
    finally:
        tasks.close_stores()

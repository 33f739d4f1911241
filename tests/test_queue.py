"""Workers on procrastinate: the plan's pure decisions, and several worker processes at work.

The multi-worker test runs three ``aggregator worker`` processes against one PostgreSQL
schema and a feed host on four loopback addresses that counts every request and the
connections in flight per address.  The planner (``aggregator scheduler``'s tick) is driven by
the test, so each cycle starts when the test says.  One worker is killed with SIGKILL while it
holds a bucket; the others must finish that bucket's work.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from aggregator import config
from aggregator.errors import AggregatorError, ConfigError
from aggregator.ingest.decide import is_due
from aggregator.models import Source, SourceState
from aggregator.ops.cycles import read_record
from aggregator.queue.app import ensure_schema
from aggregator.queue.plan import (
    DigestJob,
    QueueView,
    bucket_of,
    digest_slot,
    group_by_bucket,
    host_of,
    may_start_cycle,
    plan_digests,
    should_publish,
)
from aggregator.scheduler import next_slot
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.queuehelp import CountingFeedHost, pg_schema, plan_once, sql
from tests.test_mail import SmtpServer

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("AGGREGATOR_TEST_PG_URL")
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday


def _source(sid: str, url: str) -> Source:
    return Source(id=sid, name=sid, organisation="O", url=url)


# --------------------------------------------------------------------------------------------
# The plan (pure)


def test_every_source_of_a_host_lands_in_one_bucket() -> None:
    sources = [_source(f"a{i}", f"https://a.example:{8000 + i}/f{i}") for i in range(20)]
    sources += [_source(f"b{i}", f"https://B.example/f{i}") for i in range(20)]
    grouped = group_by_bucket(sources, {}, buckets=64)
    assert sorted(len(ids) for ids in grouped.values()) in ([20, 20], [40])
    for ids in grouped.values():
        assert len({i[0] for i in ids}) == 1 or len(grouped) == 1
    assert host_of("https://B.example:99/x") == "b.example"


def test_a_stored_redirect_moves_a_source_to_its_new_host() -> None:
    source = _source("s", "https://old.example/feed")
    state = SourceState(source_id="s", url="https://new.example/feed")
    [(bucket, _)] = group_by_bucket([source], {"s": state}, 1024).items()
    assert bucket == bucket_of("new.example", 1024)


def test_a_cycle_publishes_once_after_its_last_bucket_and_never_overlaps() -> None:
    running = QueueView(buckets_pending=2, last_cycle="c1", last_cycle_published=False)
    assert should_publish(running) is None and not may_start_cycle(running)
    ended = QueueView(0, "c1", False)
    assert should_publish(ended) == "c1" and not may_start_cycle(ended)
    published = QueueView(0, "c1", True)
    assert should_publish(published) is None and may_start_cycle(published)
    assert may_start_cycle(QueueView(0, None, False))


def _weekly(after: datetime) -> datetime | None:
    return next_slot("0 8 * * mon", "UTC", after)


def test_a_late_edition_runs_once_not_once_per_missed_slot() -> None:
    last = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # then three weeks of outage
    assert digest_slot(last, T0, _weekly) == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    on_time = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert digest_slot(on_time, T0, _weekly) == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    assert digest_slot(None, T0, _weekly) == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)


def test_digest_jobs_follow_the_configuration() -> None:
    jobs = [
        DigestJob(1, "todo", "weekly", "0 8 * * mon", "UTC"),
        DigestJob(2, "todo", "gone", "0 8 * * mon", "UTC"),
        DigestJob(3, "todo", "daily", "0 7 * * *", "UTC"),
        DigestJob(4, "doing", "monthly", "0 7 1 * *", "UTC"),
    ]
    wanted = {
        "weekly": ("0 8 * * mon", "UTC"),
        "daily": ("0 6 * * *", "UTC"),  # rescheduled
        "monthly": ("0 9 1 * *", "UTC"),  # running: left alone until it ends
        "new": ("0 8 * * *", "Europe/Paris"),
    }
    plan = plan_digests(wanted, jobs)
    assert sorted(plan.cancel) == [2, 3]
    assert sorted(plan.defer) == ["daily", "new"]


def test_workers_refuse_sqlite_with_the_way_out(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("site: {title: t}\n", encoding="utf-8")
    settings = config.load(tmp_path / "feeds.yaml")
    with pytest.raises(AggregatorError, match=r"workers need PostgreSQL.*aggregator run"):
        ensure_schema(settings)


def test_the_stalled_check_period_must_fit_a_cron_expression(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("queue: {check_stalled_s: 7}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        config.load(tmp_path / "feeds.yaml")
    assert "queue.check_stalled_s" in " ".join(refused.value.problems)
    ok = config.QueueSettings(check_stalled_s=120)
    assert ok.check_stalled_cron == "*/2 * * * *"
    assert config.QueueSettings(check_stalled_s=5).check_stalled_cron == "* * * * * */5"


# --------------------------------------------------------------------------------------------
# Several worker processes on PostgreSQL

PER_HOST = 2
HOSTS = 4
FEEDS_PER_HOST = 3
ENTRIES = 3
RECIPIENTS = ("one@members.example", "two@members.example")


def _until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Wait for something other processes do (bounded; fails naming what never happened)."""
    deadline = datetime.now(UTC) + timedelta(seconds=timeout_s)
    pause = threading.Event()
    while not condition():
        if datetime.now(UTC) > deadline:
            pytest.fail(f"timed out waiting for {what}")
        pause.wait(0.1)


def _write_config(
    tmp_path: Path, storage_url: str, host: CountingFeedHost, smtp: SmtpServer
) -> Path:
    lines = [
        "site: {title: Network, base_url: 'https://agg.example/',"
        f" storage_url: '{storage_url}', fetch_interval_minutes: 60}}",
        f"fetch: {{per_host: {PER_HOST}, allow_private: ["
        + ", ".join(f"'{a}:{host.port}'" for a in host.addresses)
        + "]}",
        "queue: {buckets: 16, poll_s: 1, heartbeat_s: 0.5, stalled_after_s: 2, check_stalled_s: 1}",
        "digest:",
        "  unsubscribe_url: 'https://agg.example/unsubscribe?e={email}'",
        f"  smtp: {{host: 127.0.0.1, port: {smtp.port}, security: none,"
        " from_address: news@agg.example, rate_per_minute: 6000}",
        "  editions:",
        "    - {name: weekly, schedule: '0 8 * * mon', recipients: ["
        + ", ".join(RECIPIENTS)
        + "]}",
        "sources:",
    ]
    for i, (address, path) in enumerate(host.paths(FEEDS_PER_HOST)):
        url = f"http://{address}:{host.port}{path}"
        lines.append(f"  - {{id: s{i:02d}, name: S{i}, organisation: O{i}, url: '{url}'}}")
    target = tmp_path / "feeds.yaml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.fixture
def pg() -> Iterator[tuple[str, str]]:
    if not PG_URL:
        pytest.skip("AGGREGATOR_TEST_PG_URL is not set")
    with pg_schema(PG_URL) as urls:
        yield urls


class Workers:
    def __init__(self, config_path: Path, logs: Path, count: int) -> None:
        self.logs = [logs / f"worker-{i}.log" for i in range(count)]
        self.procs = []
        for i, log in enumerate(self.logs):
            with log.open("wb") as out:
                self.procs.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "run.py",
                            "worker",
                            "--config",
                            str(config_path),
                            "--name",
                            f"w{i}",
                        ],
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )

    def holding(self, bucket: int) -> int | None:
        """The worker whose log says it started that bucket, if one did."""
        for i, log in enumerate(self.logs):
            if f"bucket={bucket} cycle=" in log.read_text(errors="replace"):
                return i
        return None

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _pending(dsn: str, task: str) -> int:
    rows = sql(
        dsn,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s"
        " AND status IN ('todo', 'doing')",
        task,
    )
    return int(rows[0][0])


def _count(dsn: str, task: str, status: str) -> int:
    rows = sql(
        dsn,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status = %s",
        task,
        status,
    )
    return int(rows[0][0])


@pytest.mark.slow
@pytest.mark.postgres
def test_three_workers_share_cycles_and_finish_the_work_of_a_killed_one(
    tmp_path: Path, pg: tuple[str, str]
) -> None:
    storage_url, dsn = pg
    smtp = SmtpServer()
    smtp.controller.start()
    host = CountingFeedHost(HOSTS, PER_HOST, ENTRIES, latency_s=0.02)
    with host:
        settings = config.load(_write_config(tmp_path, storage_url, host, smtp))
        ensure_schema(settings)
        slow = host.addresses[1]
        host.hold(slow)
        workers = Workers(settings.path, tmp_path, 3)
        try:
            _run_cycles_and_digest(settings, dsn, host, workers, smtp, slow)
        finally:
            workers.stop()
            smtp.controller.stop()


def _run_cycles_and_digest(
    settings: config.Settings,
    dsn: str,
    host: CountingFeedHost,
    workers: Workers,
    smtp: SmtpServer,
    slow: str,
) -> None:
    sources = settings.source_list()
    paths = {s.id: "/" + s.url.split("/", 3)[3] for s in sources}
    # cycle 1: one worker dies holding the bucket of the slow host
    first = plan_once(settings, datetime.now(UTC))
    assert first.started is not None and first.buckets >= 2
    assert host.entered.wait(60), "no worker reached the slow host"
    bucket = bucket_of(slow, settings.queue.buckets)
    _until(lambda: workers.holding(bucket) is not None, 30, "the bucket's start in a log")
    victim = workers.holding(bucket)
    assert victim is not None
    workers.procs[victim].send_signal(signal.SIGKILL)
    workers.procs[victim].wait(30)
    host.release()
    _until(lambda: _pending(dsn, "update_bucket") == 0, 120, "every bucket to end")
    assert plan_once(settings, datetime.now(UTC)).published == first.started
    _until(lambda: _count(dsn, "publish", "succeeded") == 1, 60, "the publish")
    _until(lambda: _pending(dsn, "owner_notices") == 0, 60, "the owner notices")

    store = open_store(settings.storage_url)
    try:
        states = store.get_states()
        assert all(states[s.id].last_success is not None for s in sources)
        assert store.count_posts() == len(sources) * ENTRIES  # none lost, none doubled
        # the killed worker's bucket (another host may share it) may be fetched again
        killed = {
            s.id for s in sources if bucket_of(s.url.split("/")[2].split(":")[0], 16) == bucket
        }
        for s in sources:
            hits = host.hits[paths[s.id]]
            assert hits == 1 or (s.id in killed and hits == 2), (s.id, hits)
        assert max(host.most_in_flight.values()) <= PER_HOST
        feed = etree.parse(str(settings.output_dir / "feed.atom"))
        ids = feed.findall(".//{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}id")
        assert len(ids) == len({i.text for i in ids}) == len(sources) * ENTRIES
        record = read_record(settings.output_dir)
        assert record is not None and record.sources == len(sources) and record.failed == 0

        # nothing is due within the interval: a tick starts no cycle, fetches nothing
        before = sum(host.hits.values())
        assert plan_once(settings, datetime.now(UTC)).started is None
        assert sum(host.hits.values()) == before

        # the interval has passed: cycle 2, every source fetched exactly once more
        sql(dsn, "UPDATE sources SET next_fetch = now() - interval '1 second'")
        now = datetime.now(UTC)
        assert all(is_due(st, now) for st in store.get_states().values())
        after_first = dict(host.hits)  # before the plan: its jobs may start fetching at once
        second = plan_once(settings, now)
        assert second.started is not None
        _until(lambda: _pending(dsn, "update_bucket") == 0, 120, "cycle 2's buckets")
        assert plan_once(settings, datetime.now(UTC)).published == second.started
        _until(lambda: _count(dsn, "publish", "succeeded") == 2, 60, "cycle 2's publish")
        for s in sources:
            assert host.hits[paths[s.id]] == after_first[paths[s.id]] + 1, s.id
        assert max(host.most_in_flight.values()) <= PER_HOST
        assert store.count_posts() == len(sources) * ENTRIES
        assert _count(dsn, "publish", "succeeded") == 2  # one per cycle
    finally:
        store.close()

    # the weekly edition's slot passed while no worker was up: it runs late, once
    sql(
        dsn,
        "UPDATE procrastinate_jobs SET scheduled_at = now() - interval '3 days'"
        " WHERE task_name = 'digest' AND status = 'todo'",
    )
    _until(lambda: _count(dsn, "digest", "succeeded") == 1, 60, "the late edition")
    assert sorted(a for r in smtp.handler.received for a in r.rcpt_tos) == sorted(RECIPIENTS)
    plan_once(settings, datetime.now(UTC))
    waiting = sql(
        dsn,
        "SELECT scheduled_at FROM procrastinate_jobs WHERE task_name = 'digest'"
        " AND status = 'todo'",
    )
    assert len(waiting) == 1 and waiting[0][0] > datetime.now(UTC)  # the next one, not now
    assert _count(dsn, "digest", "succeeded") == 1


# --------------------------------------------------------------------------------------------
# In one process: the planner's loop, the stalled-job check, the migrate command


def _pg_settings(tmp_path: Path, storage_url: str, extra: str = "") -> config.Settings:
    (tmp_path / "feeds.yaml").write_text(
        f"site: {{title: t, storage_url: '{storage_url}'}}\n"
        "queue: {poll_s: 0.1, heartbeat_s: 0.5, stalled_after_s: 2, check_stalled_s: 1}\n"
        "digest: {editions: [{name: weekly, schedule: '0 8 * * mon'}]}\n"
        "sources:\n"
        "  - {id: a, name: A, organisation: O, url: 'https://a.example/feed'}\n" + extra,
        encoding="utf-8",
    )
    return config.load(tmp_path / "feeds.yaml")


@pytest.mark.postgres
def test_the_planner_loop_plans_then_stops_when_told(tmp_path: Path, pg: tuple[str, str]) -> None:
    import asyncio

    from aggregator.queue.planner import run_planner

    storage_url, dsn = pg
    settings = _pg_settings(tmp_path, storage_url)
    stop = asyncio.Event()

    def clock() -> datetime:
        stop.set()  # one tick, then the loop ends
        return T0

    asyncio.run(run_planner(settings, stop, clock))
    jobs = sql(dsn, "SELECT task_name, args->>'slot' FROM procrastinate_jobs ORDER BY id")
    assert jobs == [
        ("update_bucket", None),
        ("digest", datetime(2026, 12, 14, 8, 0, tzinfo=UTC).isoformat()),
    ]


@pytest.mark.postgres
def test_the_jobs_of_a_dead_worker_go_back_to_the_queue(
    tmp_path: Path, pg: tuple[str, str]
) -> None:
    import asyncio

    from aggregator.queue.app import build_app, retry_stalled_jobs

    storage_url, dsn = pg
    settings = _pg_settings(tmp_path, storage_url)
    ensure_schema(settings)

    async def go() -> tuple[int, list[int]]:
        app = build_app(settings)
        async with app.open_async():
            job_id = await app.configure_task("publish", lock="publish").defer_async(
                config_path=str(settings.path), cycle=T0.isoformat()
            )
            worker_id = await app.job_manager.register_worker()
            job = await app.job_manager.fetch_job(queues=None, worker_id=worker_id)
            assert job is not None and job.id == job_id
            live = await retry_stalled_jobs(app, 60)  # its heartbeat is fresh: left alone
            assert live == []
            sql(dsn, "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour'")
            return job_id, await retry_stalled_jobs(app, 60)

    job_id, retried = asyncio.run(go())
    assert retried == [job_id]
    assert sql(dsn, "SELECT status::text FROM procrastinate_jobs WHERE id = %s", job_id) == [
        ("todo",)
    ]
    assert sql(dsn, "SELECT count(*) FROM procrastinate_workers") == [(0,)]


@pytest.mark.postgres
def test_migrate_creates_the_store_and_the_queue_tables_once(
    tmp_path: Path, pg: tuple[str, str]
) -> None:
    from click.testing import CliRunner

    from aggregator.cli.main import main

    storage_url, dsn = pg
    settings = _pg_settings(tmp_path, storage_url)
    runner = CliRunner()
    first = runner.invoke(main, ["migrate", "--config", str(settings.path)], obj={})
    assert first.exit_code == 0, first.output
    assert "queue tables created" in first.output
    again = runner.invoke(main, ["migrate", "--config", str(settings.path)], obj={})
    assert "queue tables present" in again.output
    assert sql(dsn, "SELECT to_regclass('posts') IS NOT NULL") == [(True,)]
    assert "postgres@" not in first.output  # the address is shown without its user part


# --------------------------------------------------------------------------------------------
# The jobs' bodies, on SQLite (they do not know about the queue)


def test_a_bucket_job_updates_only_its_due_sources_and_publish_records_the_cycle(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    from aggregator.errors import LockedError
    from aggregator.queue import tasks
    from tests.test_health import RSS, _write_config

    http_server.route("/a.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    http_server.route("/b.xml", b"down", status=500)
    path = str(_write_config(tmp_path, http_server, ["/a.xml", "/b.xml"], 60))
    started = datetime.now(UTC)
    try:
        assert tasks.update_bucket(path, 3, ["s0", "s1"], started.isoformat()) == 2
        assert tasks.update_bucket(path, 3, ["s0", "s1"], started.isoformat()) == 0  # not due
        assert len(http_server.hits("/a.xml")) == 1
        assert tasks.publish(path, started.isoformat()) is True
        settings = tasks.load_settings(path)
        assert tasks.load_settings(path) is settings  # unchanged file: read once
        record = read_record(settings.output_dir)
        assert record is not None
        assert (record.sources, record.failed, record.new_posts) == (2, 1, 1)
        assert (settings.output_dir / "feed.atom").is_file()
        tasks.owner_notices(path)  # no contact configured: nothing to send, nothing raised
        store = tasks.store_for(settings)
        assert store.acquire_lock("cycle", "someone-else", datetime.now(UTC), 60) is None
        with pytest.raises(LockedError):
            tasks.publish(path, started.isoformat())  # the queue retries it later
    finally:
        tasks.close_stores()
    (tmp_path / "feeds.yaml").write_text("site: [not a mapping\n", encoding="utf-8")
    assert tasks.update_bucket(path, 3, ["s0"], started.isoformat()) == 0
    assert tasks.publish(path, started.isoformat()) is False

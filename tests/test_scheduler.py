"""The scheduler: jobs live in the database, a restart keeps a pending digest, missed runs
coalesce into one, and a job never overlaps itself.

APScheduler reads the wall clock itself, so where a job must be overdue the test places its
stored ``next_run_time`` relative to that clock; everything else is inspected from the job
store.  Waits are bounded Event waits on things the scheduler does, never sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import (
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.schedulers.background import BackgroundScheduler

from aggregator import config, jobs
from aggregator.scheduler import build_scheduler, reconcile_jobs, run_forever

WEEKLY = "0 8 * * mon"
TZ = ZoneInfo("Europe/Brussels")


def write(
    directory: Path,
    schedule: str = WEEKLY,
    tz: str = "Europe/Brussels",
    editions: tuple[str, ...] = ("weekly",),
) -> config.Settings:
    items = ", ".join(
        f"{{name: {name}, schedule: '{schedule}', timezone: {tz}}}" for name in editions
    )
    path = directory / "feeds.yaml"
    path.write_text(
        "site: {base_url: 'https://agg.example/', timezone: Europe/Brussels}\n"
        f"digest: {{editions: [{items}]}}\nsources: []\n",
        encoding="utf-8",
    )
    return config.load(path)


@pytest.fixture
def paused() -> Iterator[list[BackgroundScheduler]]:
    """Schedulers the test starts paused; all shut down at the end, whatever happens."""
    started: list[BackgroundScheduler] = []
    yield started
    for scheduler in started:
        if scheduler.running:
            scheduler.shutdown(wait=True)


def open_paused(
    settings: config.Settings, started: list[BackgroundScheduler]
) -> BackgroundScheduler:
    scheduler = build_scheduler(settings)
    scheduler.start(paused=True)
    started.append(scheduler)
    return scheduler


T1 = datetime(2026, 11, 20, 12, 0, tzinfo=TZ)


def test_jobs_persist_and_a_pending_digest_keeps_its_stored_next_run(
    tmp_path: Path, paused: list[BackgroundScheduler]
) -> None:
    settings = write(tmp_path)
    first = open_paused(settings, paused)
    reconcile_jobs(first, settings, T1)
    digest_next = first.get_job("digest:weekly").next_run_time
    first.shutdown(wait=True)

    again = open_paused(settings, paused)
    assert {j.id for j in again.get_jobs()} == {"cycle", "scheduled-digests", "digest:weekly"}
    later = T1 + timedelta(days=10)
    reconcile_jobs(again, settings, later)
    assert again.get_job("digest:weekly").next_run_time == digest_next  # not moved forward
    assert again.get_job("cycle").next_run_time == later  # a cycle right at start
    for job in again.get_jobs():
        assert job.max_instances == 1 and job.coalesce
    assert again.get_job("digest:weekly").misfire_grace_time is None


@pytest.mark.parametrize(
    ("schedule", "tz"), [("0 9 * * mon", "Europe/Brussels"), (WEEKLY, "America/New_York")]
)
def test_a_changed_schedule_or_time_zone_replans_the_digest(
    tmp_path: Path, paused: list[BackgroundScheduler], schedule: str, tz: str
) -> None:
    settings = write(tmp_path)
    first = open_paused(settings, paused)
    reconcile_jobs(first, settings, T1)
    before = first.get_job("digest:weekly")
    first.shutdown(wait=True)

    changed = write(tmp_path, schedule=schedule, tz=tz)
    again = open_paused(changed, paused)
    reconcile_jobs(again, changed, T1)
    after = again.get_job("digest:weekly")
    assert repr(after.trigger) != repr(before.trigger)
    assert after.next_run_time != before.next_run_time


def test_an_edition_removed_from_the_config_loses_its_job(
    tmp_path: Path, paused: list[BackgroundScheduler]
) -> None:
    settings = write(tmp_path, editions=("weekly", "monthly"))
    first = open_paused(settings, paused)
    reconcile_jobs(first, settings, T1)
    first.shutdown(wait=True)
    fewer = write(tmp_path, editions=("weekly",))
    again = open_paused(fewer, paused)
    reconcile_jobs(again, fewer, T1)
    assert {j.id for j in again.get_jobs()} == {"cycle", "scheduled-digests", "digest:weekly"}


def _three_slots_ago(scheduler: BackgroundScheduler) -> datetime:
    """The weekly slot three weeks before the scheduler's own 'now' (its wall clock)."""
    job = scheduler.get_job("digest:weekly")
    now = datetime.now(TZ)
    slot: datetime = job.trigger.get_next_fire_time(None, now - timedelta(days=21))
    return slot


def test_a_digest_missed_three_times_runs_once_on_start_through_run_forever(
    tmp_path: Path, paused: list[BackgroundScheduler], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = write(tmp_path)
    setup = open_paused(settings, paused)
    reconcile_jobs(setup, settings, datetime.now(TZ))
    overdue = _three_slots_ago(setup)
    setup.modify_job("digest:weekly", next_run_time=overdue)
    setup.shutdown(wait=True)

    digests: list[tuple[str, str]] = []
    ran, stop = threading.Event(), threading.Event()

    def fake_digest(config_path: str, edition: str) -> None:
        digests.append((config_path, edition))
        ran.set()

    # the job store holds "aggregator.jobs:digest_job" as text: patching the attribute is
    # what a real restart would resolve it to
    monkeypatch.setattr(jobs, "digest_job", fake_digest)
    monkeypatch.setattr(jobs, "cycle_job", lambda config_path: None)
    runner = threading.Thread(target=run_forever, args=(settings, stop))
    runner.start()
    try:
        assert ran.wait(timeout=20), "the overdue digest never ran"
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert digests == [(str(settings.path.resolve()), "weekly")]  # once, not three times

    after = open_paused(settings, paused)
    upcoming = after.get_job("digest:weekly").next_run_time
    assert upcoming > datetime.now(TZ)  # nothing else pending: the missed slots are spent


def test_coalescing_submits_one_run_for_the_latest_missed_slot(
    tmp_path: Path, paused: list[BackgroundScheduler], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = write(tmp_path)
    scheduler = open_paused(settings, paused)
    reconcile_jobs(scheduler, settings, datetime.now(TZ) + timedelta(days=1))  # cycle: later
    overdue = _three_slots_ago(scheduler)
    scheduler.modify_job("digest:weekly", next_run_time=overdue)
    submitted: list[JobSubmissionEvent] = []
    done, got_submission = threading.Event(), threading.Event()

    def listen(event: JobEvent) -> None:
        if event.job_id != "digest:weekly":
            return
        if isinstance(event, JobSubmissionEvent):  # dispatched after the pass, maybe after the run
            submitted.append(event)
            got_submission.set()
        elif event.code == EVENT_JOB_EXECUTED:
            done.set()

    monkeypatch.setattr(jobs, "digest_job", lambda config_path, edition: None)
    scheduler.add_listener(listen, EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED)
    scheduler.resume()
    assert done.wait(timeout=20) and got_submission.wait(timeout=20)
    scheduler.shutdown(wait=True)
    assert len(submitted) == 1
    (run_time,) = submitted[0].scheduled_run_times  # three slots missed, one run
    assert run_time > overdue + timedelta(days=13)  # the latest slot, not the first


def test_a_running_cycle_is_never_started_a_second_time(
    tmp_path: Path, paused: list[BackgroundScheduler], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = write(tmp_path, editions=())
    entered, release, refused = threading.Event(), threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_cycle(config_path: str) -> None:
        calls.append(config_path)
        entered.set()
        release.wait(timeout=30)

    monkeypatch.setattr(jobs, "cycle_job", slow_cycle)
    scheduler = open_paused(settings, paused)
    scheduler.add_listener(lambda event: refused.set(), EVENT_JOB_MAX_INSTANCES)
    reconcile_jobs(scheduler, settings, datetime.now(TZ))
    scheduler.resume()
    try:
        assert entered.wait(timeout=20)
        scheduler.modify_job("cycle", next_run_time=datetime.now(TZ))  # due again, still running
        scheduler.wakeup()
        assert refused.wait(timeout=20), "a second instance was not refused"
    finally:
        release.set()
    scheduler.shutdown(wait=True)
    assert len(calls) == 1


def test_shutting_down_never_spends_a_due_digest(
    tmp_path: Path, paused: list[BackgroundScheduler]
) -> None:
    """APScheduler's thread makes one more pass after shutdown and, unpatched, moves a due
    job's next run forward though it could not run it (agronholm/apscheduler#985)."""
    settings = write(tmp_path)
    scheduler = open_paused(settings, paused)
    reconcile_jobs(scheduler, settings, datetime.now(TZ) + timedelta(days=1))
    overdue = _three_slots_ago(scheduler)
    scheduler.modify_job("digest:weekly", next_run_time=overdue)
    scheduler.shutdown(wait=True)  # joins the scheduler thread: its last pass is over
    again = open_paused(settings, paused)
    assert again.get_job("digest:weekly").next_run_time == overdue  # still due, not spent

"""The scheduler beside a locked database (issue 17, point 6): real APScheduler, a real SQLite
file, and another process holding SQLite's write lock across a time slot.

APScheduler 3 let the job store's "database is locked" end the scheduler thread: the process
stayed alive, ran no cycle and no digest, and looked healthy to its service manager.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from aggregator import config
from aggregator.scheduler import DIED, build_scheduler, watch
from tests.faults import wait_until, write_config
from tests.test_faults_store import hold_write_lock


def tick(path: str) -> None:
    """The job: one line per run, so the test sees the schedule go on."""
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write("tick\n")


def _ticks(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def test_a_write_lock_across_a_slot_is_retried_and_the_schedule_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "aggregator.sqlite3"
    settings = config.load(write_config(tmp_path, f"sqlite:///{database}"))
    scheduler = build_scheduler(settings, busy_timeout_s=0.2)
    scheduler.retry_s = 0.2
    ticks = tmp_path / "ticks"
    scheduler.start(paused=True)
    try:
        scheduler.add_job(
            "tests.test_faults_scheduler:tick",
            IntervalTrigger(seconds=0.3),
            args=[str(ticks)],
            id="tick",
            next_run_time=datetime.now(scheduler.timezone),
        )
        scheduler.resume()
        wait_until(lambda: _ticks(ticks) >= 1, "the first run")
        with caplog.at_level(logging.ERROR, logger="aggregator.scheduler"):
            holder, gate = hold_write_lock(database, tmp_path)
            try:
                wait_until(
                    lambda: any("job store error" in r.getMessage() for r in caplog.records),
                    "the scheduler to meet the lock",
                )
            finally:
                gate.touch()
                holder.wait(timeout=60)
        seen = _ticks(ticks)
        wait_until(lambda: _ticks(ticks) >= seen + 2, "runs after the lock was released")
        assert scheduler.alive()
    finally:
        scheduler.shutdown(wait=True)
    [first] = [r for r in caplog.records if "job store error" in r.getMessage()][:1]
    assert "database is locked" in first.getMessage()
    assert first.exc_info is None  # one line, no traceback


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_the_watchdog_ends_a_process_whose_scheduler_thread_died(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = config.load(write_config(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite3'}"))
    scheduler = build_scheduler(settings)

    def dies() -> float | None:
        raise SystemExit  # what ends a thread silently, whatever the cause

    scheduler._process_jobs = dies  # type: ignore[method-assign]
    scheduler.start()
    try:
        with pytest.raises(SystemExit) as ended:
            watch(scheduler, threading.Event(), every_s=0.02)
    finally:
        scheduler.shutdown(wait=False)

    assert ended.value.code == DIED
    assert any("its thread died" in r.getMessage() for r in caplog.records)

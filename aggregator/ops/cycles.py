"""The last cycle's record, and the health verdict built on it.

A cycle that finished writes one small JSON record beside the outputs (``.cycle.json``).  The
web server's ``/healthz`` and ``/metrics`` read it back: they run in another process, often on
another host, and the output directory is what they already share with whoever publishes.  The
store alone could say when a source was last fetched, not how long the cycle took or how many
sources failed in it.

``judge`` is pure: the probe gathers facts (store reachable, record, newest fetch), ``judge``
turns them into a status and an HTTP code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aggregator.files import write_atomic
from aggregator.models import CycleReport

RECORD_NAME = ".cycle.json"
# A cycle counts as late after this many intervals without one (a slow cycle, a missed tick and
# a restart fit inside), and never sooner than LATE_FLOOR: short test intervals stay sane.
LATE_INTERVALS = 3
LATE_FLOOR = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CycleRecord:
    started: datetime
    finished: datetime
    sources: int
    failed: int
    new_posts: int
    updated_posts: int | None  # None: not counted (the queue's cycles count new posts only)

    @property
    def duration_s(self) -> float:
        return (self.finished - self.started).total_seconds()


def record_of(report: CycleReport, sources: int | None = None) -> CycleRecord:
    """What a report says, in the record's terms; ``sources`` overrides the count (a queue's
    cycle is made of several reports)."""
    return CycleRecord(
        started=report.started,
        finished=report.finished,
        sources=len(report.outcomes) if sources is None else sources,
        failed=sum(1 for o in report.outcomes if o.error),
        new_posts=report.new_posts,
        updated_posts=report.updated_posts,
    )


def record_path(output_dir: Path) -> Path:
    return output_dir / RECORD_NAME


def write_record(output_dir: Path, record: CycleRecord) -> None:
    data: dict[str, Any] = asdict(record)
    data["started"] = record.started.isoformat()
    data["finished"] = record.finished.isoformat()
    write_atomic(record_path(output_dir), json.dumps(data, sort_keys=True).encode())


def read_record(output_dir: Path) -> CycleRecord | None:
    """The last record, or None when no cycle finished yet or the file is not ours."""
    try:
        data = json.loads(record_path(output_dir).read_bytes())
        return CycleRecord(
            started=datetime.fromisoformat(data["started"]),
            finished=datetime.fromisoformat(data["finished"]),
            sources=int(data["sources"]),
            failed=int(data["failed"]),
            new_posts=int(data["new_posts"]),
            updated_posts=(
                int(data["updated_posts"]) if data.get("updated_posts") is not None else None
            ),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class Health:
    status: str  # "ok", "starting" (no cycle yet, not late), "late", "store unreachable"
    http_status: int
    store: str  # "ok" or the one-line reason it is not
    last_cycle: datetime | None
    last_cycle_age_s: float | None
    late_after_s: float

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "store": self.store,
            "last_cycle": self.last_cycle.isoformat() if self.last_cycle else None,
            "last_cycle_age_s": (
                round(self.last_cycle_age_s, 1) if self.last_cycle_age_s is not None else None
            ),
            "late_after_s": self.late_after_s,
        }


def late_after(interval_minutes: int) -> timedelta:
    return max(LATE_FLOOR, timedelta(minutes=interval_minutes * LATE_INTERVALS))


def judge(
    *,
    now: datetime,
    store_error: str | None,
    last_cycle: datetime | None,
    up_since: datetime,
    interval_minutes: int,
) -> Health:
    """Healthy: the store answers and a cycle finished recently.

    Before the first cycle ever, the clock runs from ``up_since`` (when this server started),
    so a fresh install is "starting", not failing, until a cycle had time to run.
    """
    limit = late_after(interval_minutes)
    age = (now - last_cycle).total_seconds() if last_cycle is not None else None
    if store_error is not None:
        status, code = "store unreachable", 503
    elif last_cycle is None:
        status, code = ("late", 503) if now - up_since > limit else ("starting", 200)
    elif now - last_cycle > limit:
        status, code = "late", 503
    else:
        status, code = "ok", 200
    return Health(status, code, store_error or "ok", last_cycle, age, limit.total_seconds())

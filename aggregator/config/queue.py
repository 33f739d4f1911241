"""The ``queue`` section: workers on procrastinate (PostgreSQL only), see docs/deploy.md.

Read only by ``aggregator worker`` and ``aggregator scheduler``; a SQLite setup ignores it and
keeps the in-process scheduler.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import Strict


def _divides_a_minute_or_an_hour(seconds: int) -> bool:
    """Periods a cron expression can keep exactly: 1-30 s dividing a minute, whole minutes
    dividing an hour."""
    if seconds < 60:
        return 60 % seconds == 0
    return seconds % 60 == 0 and 60 % (seconds // 60) == 0


class QueueSettings(Strict):
    # Sources are split into this many buckets by host, a bucket being one job: every source
    # of one host is in one bucket, so the per-host limit holds however many workers run.
    buckets: int = Field(default=32, ge=1, le=4096)
    # How often ``aggregator scheduler`` looks for due sources, finished cycles and editions.
    poll_s: float = Field(default=15.0, gt=0, le=3600)
    # Worker processes send a heartbeat this often; one silent for ``stalled_after_s`` is dead
    # and its running jobs are retried by the periodic check run every ``check_stalled_s``.
    heartbeat_s: float = Field(default=10.0, gt=0, le=600)
    stalled_after_s: float = Field(default=60.0, gt=0, le=86400)
    check_stalled_s: int = Field(default=60, ge=1, le=3600)
    # Processes that parse for one worker; 1 parses in the worker itself (run one worker per
    # core instead, the unit the queue spreads).
    parse_processes: int = Field(default=1, ge=1, le=64)

    @field_validator("check_stalled_s")
    @classmethod
    def _cron_period(cls, v: int) -> int:
        if not _divides_a_minute_or_an_hour(v):
            raise ValueError(
                "must divide a minute (1, 2, 3, 5, 10, 15, 20, 30) or be whole minutes dividing"
                " an hour (60, 120, 300, 600, 900, 1200, 1800, 3600)"
            )
        return v

    @model_validator(mode="after")
    def _heartbeat_first(self) -> QueueSettings:
        if self.stalled_after_s <= 2 * self.heartbeat_s:
            raise ValueError(
                "stalled_after_s must be more than twice heartbeat_s, or a live worker"
                " would be taken for dead"
            )
        return self

    @property
    def check_stalled_cron(self) -> str:
        """procrastinate's cron (a sixth field is seconds) for the stalled-job check."""
        n = self.check_stalled_s
        return f"* * * * * */{n}" if n < 60 else f"*/{n // 60} * * * *"

"""The ``digest`` section: the SMTP relay and each edition of the email digest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from aggregator.config._base import ID_RE, Strict, check_timezone, cron_trigger


class SmtpSettings(Strict):
    """Credentials come from AGGREGATOR_SMTP_USER / AGGREGATOR_SMTP_PASSWORD, never this file."""

    host: str = "localhost"
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    from_address: str = "digest@localhost"
    from_name: str | None = None
    reply_to: str | None = None
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    rate_per_minute: int = Field(default=60, ge=1, le=60_000)


class EditionSettings(Strict):
    name: str
    language: str | None = None  # None: every language
    schedule: str = "0 8 * * mon"  # cron: minute hour day month weekday
    timezone: str = "UTC"
    subject: str | None = None  # None: "{site}: {count} new posts" in the edition's language
    recipients: list[str] = Field(default_factory=list)
    intro: str | None = None
    group_by: Literal["organisation", "topic"] = "organisation"
    max_items: int = Field(default=50, ge=1, le=1000)
    skip_empty: bool = True
    topics: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not ID_RE.match(v):
            raise ValueError("must be lower-case letters, digits, '-' or '_'")
        return v

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v: str) -> str:
        """Checked by the library that will run it, so the two can never disagree: a
        schedule the scheduler would refuse is refused here, by every command, with its line."""
        if len(v.split()) != 5:
            raise ValueError(f"must be a five-field cron expression, got {v!r}")
        try:
            cron_trigger(v, UTC)
        except ValueError as exc:
            raise ValueError(f"not a cron expression the scheduler reads ({exc}): {v!r}") from None
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return check_timezone(v)

    def next_send(self, now: datetime) -> datetime | None:
        """When the schedule sends this edition next after ``now`` (read by the same library
        the scheduler runs, in the edition's time zone)."""
        trigger = cron_trigger(self.schedule, ZoneInfo(self.timezone))
        fire: datetime | None = trigger.get_next_fire_time(None, now)
        return fire

    @field_validator("recipients")
    @classmethod
    def _emails(cls, v: list[str]) -> list[str]:
        for addr in v:
            if "@" not in addr or any(c in addr for c in "\r\n<>, "):
                raise ValueError(f"not an email address: {addr!r}")
        return v


class DigestSettings(Strict):
    output_dir: str | None = None  # default: <site.output_dir>/digest
    unsubscribe_url: str | None = None  # may hold {email} and {edition}
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    editions: list[EditionSettings] = Field(
        default_factory=lambda: [EditionSettings(name="weekly")]
    )

    @model_validator(mode="after")
    def _unique(self) -> DigestSettings:
        names = [e.name for e in self.editions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"edition names must be unique: {', '.join(dupes)}")
        return self

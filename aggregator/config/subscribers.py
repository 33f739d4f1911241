"""The ``subscribers`` section: signup, links, bounce handling and the bounce mailbox.

Every value has a default, so a site that never names the section still gets double opt-in,
signed links and the bounce rules; only reading a bounce mailbox needs ``mailbox``.  IMAP
credentials come from ``AGGREGATOR_BOUNCE_USER`` / ``AGGREGATOR_BOUNCE_PASSWORD``, never this
file.
"""

from __future__ import annotations

from datetime import UTC
from typing import Literal

from pydantic import Field, field_validator

from aggregator.config._base import Strict, cron_trigger


class MailboxSettings(Strict):
    """Where bounces and complaints arrive: a Maildir or mbox path, or an IMAP folder."""

    kind: Literal["maildir", "mbox", "imap"] = "maildir"
    path: str | None = None  # maildir or mbox: relative to feeds.yaml
    host: str | None = None  # imap
    port: int = Field(default=993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    folder: str = "INBOX"
    timeout_s: float = Field(default=30.0, gt=0, le=300)


class SubscriberSettings(Strict):
    # the version of the signup form's consent text, recorded with every consent
    consent_version: str = "2026-12"
    confirm_hours: int = Field(default=72, ge=1, le=24 * 30)  # a confirmation link's life
    link_days: int = Field(default=400, ge=1, le=3650)  # a digest's preference link's life
    # minutes before the same address may be sent another confirmation mail
    resend_minutes: int = Field(default=15, ge=1, le=24 * 60)
    signups_per_hour: int = Field(default=10, ge=1, le=10_000)  # per client
    # VERP envelope sender: bounces+TOKEN@domain; None: the digest's from_address, no VERP
    bounce_address: str | None = None
    soft_bounce_limit: int = Field(default=3, ge=1, le=100)  # soft bounces within ...
    soft_bounce_days: int = Field(default=30, ge=1, le=365)  # ... this many days suppress
    mailbox: MailboxSettings | None = None
    bounce_schedule: str | None = None  # cron for the scheduler's bounce job; None: no job

    @field_validator("bounce_schedule")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                cron_trigger(v, UTC)
            except ValueError as exc:
                raise ValueError(
                    f"not a cron expression the scheduler reads ({exc}): {v!r}"
                ) from None
        return v

    @field_validator("bounce_address")
    @classmethod
    def _bounce(cls, v: str | None) -> str | None:
        if v is not None:
            local, sep, domain = v.rpartition("@")
            if not sep or not local or not domain or "+" in local or any(c in v for c in " <>,;"):
                raise ValueError(
                    f"must be a plain address without '+', such as bounces@example.org: {v!r}"
                )
        return v

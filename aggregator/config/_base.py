"""What every settings model shares: strict parsing and the checks several sections use."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict

DEFAULT_CONFIG = "feeds.yaml"
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


def check_http_url(value: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http:// or https:// URL, got {value!r}")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def check_timezone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {v!r}") from exc
    return v


def cron_trigger(expression: str, zone: tzinfo) -> Any:
    """APScheduler's reading of a cron ``expression``.

    Imported here, not at the top: every worker process imports this package for its records
    and never reads a cron, and APScheduler would add to the start-up of each.
    """
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger.from_crontab(expression, timezone=zone)

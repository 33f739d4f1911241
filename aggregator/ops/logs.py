"""One logging setup for every command: ISO 8601 times with their zone, text or JSON.

An operator reading logs from several hosts (or a container's UTC next to a laptop's local time)
needs the zone in every timestamp; a log shipper wants one JSON object per line.  Both come from
the standard library: a ``Formatter`` whose ``formatTime`` writes ``isoformat`` with the offset,
and a JSON formatter that keeps the same fields.  The format is chosen by ``--log-format`` or
``AGGREGATOR_LOG_FORMAT`` (``text``, the default, or ``json``).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import IO, Any

FORMATS = ("text", "json")
ENV_FORMAT = "AGGREGATOR_LOG_FORMAT"
# Libraries whose INFO lines are chatter for an operator; their warnings still show.
NOISY = ("apscheduler", "aiohttp", "alembic", "procrastinate")
# LogRecord's own attributes: anything else on a record was passed with ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def iso_time(created: float) -> str:
    """A record's time as ISO 8601 in the process's local zone, with the offset written."""
    return datetime.fromtimestamp(created).astimezone().isoformat(timespec="milliseconds")


class IsoFormatter(logging.Formatter):
    """``2026-12-07T08:15:02.113+01:00 WARNING aggregator.cycle source=… …``."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_time(record.created)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras, and the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": iso_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def choose_format(option: str | None, environ: Mapping[str, str]) -> str:
    """The option wins, then the environment, then text; an unknown value is refused."""
    chosen = (option or environ.get(ENV_FORMAT) or "text").strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {chosen!r}")
    return chosen


def configure(verbose: bool, fmt: str = "text", stream: IO[str] | None = None) -> None:
    """Replace the root logger's handlers with one writing to ``stream`` (stderr)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else IsoFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)

"""Lockout per account: each wrong password after the first few makes the next try wait longer.

Counting per account (not per client address) is what keeps one attacker, or one reverse
proxy's address, from locking everybody out: wrong passwords for one account never delay
another.  The delay doubles from ``BASE_DELAY_S`` after ``FREE_FAILURES`` wrong passwords, up to
``MAX_DELAY_S``; while it runs even the right password is refused (without being checked), so
guessing online costs hours.  A successful login, or a password set through a reset link,
clears the count.  Everything here is a pure function of the count and ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "BASE_DELAY_S",
    "FREE_FAILURES",
    "MAX_DELAY_S",
    "Failure",
    "delay_after",
    "record_failure",
    "wait_left",
]

FREE_FAILURES = 3
BASE_DELAY_S = 15
MAX_DELAY_S = 3600


@dataclass(frozen=True, slots=True)
class Failure:
    """What one more wrong password records: the new count and until when the account waits."""

    failures: int
    locked_until: datetime | None


def delay_after(failures: int) -> int:
    """Seconds the account waits after its ``failures``-th wrong password in a row."""
    if failures <= FREE_FAILURES:
        return 0
    return int(min(MAX_DELAY_S, BASE_DELAY_S * 2 ** (failures - FREE_FAILURES - 1)))


def record_failure(failures: int, now: datetime) -> Failure:
    """One more wrong password on top of ``failures``."""
    count = failures + 1
    delay = delay_after(count)
    return Failure(count, now + timedelta(seconds=delay) if delay else None)


def wait_left(locked_until: datetime | None, now: datetime) -> int:
    """Whole seconds before the account may try again (0: it may now)."""
    if locked_until is None or locked_until <= now:
        return 0
    return max(1, int((locked_until - now).total_seconds() + 0.999))

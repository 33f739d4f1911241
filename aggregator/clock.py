"""The one clock: decisions are handed ``now``; only the edges read it, through a ``Clock``.

Tests and the demo pass a fixed or stepping clock wherever a command would call ``utc_now``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)

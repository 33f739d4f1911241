"""Previewed submissions waiting for the member's "Send for review", kept in memory.

The preview page carries only a random draft key; the submission itself (with the discovered
feed) stays on the server, so a member cannot edit what discovery found between preview and
confirm.  A draft belongs to the session that made it and is taken once; drafts older than an
hour, or beyond the newest thousand, are dropped (a restart drops them all: the member submits
again).
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from aggregator.store.submissions import NewSubmission

__all__ = ["DRAFT_TTL_S", "MAX_DRAFTS", "Draft", "Drafts"]

DRAFT_TTL_S = 3600.0
MAX_DRAFTS = 1000


@dataclass(frozen=True, slots=True)
class Draft:
    """One preview: whose session made it (its CSRF token), what it would queue, and when."""

    owner: str
    submission: NewSubmission
    created: float


class Drafts:
    """Drafts by random key; ``monotonic`` is injected: tests age drafts without sleeping."""

    def __init__(self, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._items: OrderedDict[str, Draft] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, owner: str, submission: NewSubmission) -> str:
        key = secrets.token_urlsafe(24)
        with self._lock:
            self._expire()
            self._items[key] = Draft(owner, submission, self._monotonic())
            while len(self._items) > MAX_DRAFTS:
                self._items.popitem(last=False)
        return key

    def take(self, key: str, owner: str) -> Draft | None:
        """The draft under ``key`` when ``owner``'s session made it; it is gone afterwards."""
        with self._lock:
            self._expire()
            draft = self._items.get(key)
            if draft is None or not hmac.compare_digest(draft.owner, owner):
                return None
            del self._items[key]
            return draft

    def _expire(self) -> None:
        limit = self._monotonic() - DRAFT_TTL_S
        for key in [k for k, d in self._items.items() if d.created < limit]:
            del self._items[key]

"""Waiting out a database outage: a Store whose calls are retried while the server is away.

A PostgreSQL restart or a network cut in the middle of a cycle used to fail every remaining
source within seconds (each one's first read failed at once), and the cycle's lock could not
be released either.  Every Store method is one transaction, so a call that failed because the
server could not be reached (``StorageError.transient``) can be made again: nothing of it was
committed, or, when the connection dropped during the commit itself, the write was an upsert
or a conditional update that is harmless to repeat.

The patience is one budget for the whole run, not per call: a cycle over 1,000 sources waits
for a server that comes back within ``budget_s`` in all, then fails fast, one line per source,
rather than wait ``budget_s`` a thousand times.  Errors that are not about reaching the server
(a constraint, a full disk, SQLite's lock after its own busy timeout) are raised at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from aggregator.errors import StorageError
from aggregator.store.protocol import Store

log = logging.getLogger(__name__)

FIRST_PAUSE_S = 0.5
LONGEST_PAUSE_S = 8.0


class _Patient:
    def __init__(
        self,
        store: Store,
        budget_s: float,
        sleep: Callable[[float], None],
    ) -> None:
        self._store = store
        self._left = budget_s
        self._sleep = sleep
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._store, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            return self._call(name, attribute, args, kwargs)

        return call

    def _call(self, name: str, method: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        pause = FIRST_PAUSE_S
        while True:
            try:
                return method(*args, **kwargs)
            except StorageError as exc:
                if not exc.transient or not self._spend(pause):
                    raise
                log.warning("store unreachable (%s); trying %s again in %.1f s", exc, name, pause)
            self._sleep(pause)
            pause = min(pause * 2, LONGEST_PAUSE_S)

    def _spend(self, pause: float) -> bool:
        with self._lock:
            if self._left < pause:
                return False
            self._left -= pause
            return True


def patient(
    store: Store,
    budget_s: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Store:
    """``store``, with calls that failed to reach the server retried within ``budget_s``."""
    return cast(Store, _Patient(store, budget_s, sleep))

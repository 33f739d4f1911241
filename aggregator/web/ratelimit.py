"""How often one client may make the server work: a token bucket per key, clock injected.

It counts previews on ``/submit`` (each one fetches a URL the public chose), and wrong console
passwords and reset-link requests per client (``web.console``).  The key is the real client
(``web.clients.client_address``: the TCP peer, or behind a trusted reverse proxy the address
it forwarded).

Why not the ``limits`` library: its in-memory storage reads ``time.time()`` itself (no clock can
be handed to it, so tests would have to sleep or patch the module), starts a timer thread, and
its moving window gives a spent hit back only a full period later, where a bucket refills
continuously.  Forty lines with an injected clock are the smaller dependency.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """``capacity`` tokens per key, refilled continuously over ``period_s``; ``clock`` injected.

    Keys idle long enough to be full again are forgotten, so memory stays bounded by the
    clients of the last period (and by ``max_keys``, oldest first).
    """

    def __init__(
        self,
        capacity: int = 5,
        period_s: float = 3600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.capacity = float(capacity)
        self.rate = capacity / period_s
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, *, spend: bool = True) -> bool:
        """Spend one token of ``key``; False when it has none left.  ``spend=False`` only
        looks (a login is refused while the bucket is empty, but only failures spend)."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed and spend:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed

    def retry_after(self, key: str) -> int:
        """Seconds until ``key`` has a token again (for the Retry-After header)."""
        with self._lock:
            tokens, _ = self._buckets.get(key, (self.capacity, 0.0))
        return max(1, int((1.0 - tokens) / self.rate) + 1)

"""What the member pages share between requests: settings, clocks, limiters, drafts, the store.

One ``MemberState`` per application, under ``MEMBERS_KEY``.  The store and the session secret
are opened on first use, so a server that only ever serves static files never opens the
database or writes ``.aggregator-secret``.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Middleware

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.members import discover
from aggregator.store.protocol import Store
from aggregator.web.drafts import Drafts
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.session import load_secret, sessions_middleware

__all__ = ["MEMBERS_KEY", "Discoverer", "MemberState"]

Discoverer = Callable[
    [str, config.Settings, datetime], Awaitable[discover.Candidate | discover.Refusal]
]


@dataclass
class MemberState:
    settings: config.Settings
    discoverer: Discoverer
    limiter: TokenBucket  # previews per client
    now: Callable[[], datetime]
    drafts: Drafts
    store_factory: Callable[[], Store]
    owns_store: bool
    environ: Mapping[str, str]
    store_value: Store | None = field(default=None, init=False)
    _sessions: Middleware | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def store(self) -> Store:
        """Opened on first use, so serving static files never needs the database."""
        with self._lock:
            if self.store_value is None:
                self.store_value = self.store_factory()
            return self.store_value

    def sessions(self) -> Middleware:
        """The session middleware, keyed from the site secret read (or made) on first use."""
        with self._lock:
            if self._sessions is None:
                secret = load_secret(self.settings.base_dir, self.environ)
                self._sessions = sessions_middleware(secret)
            return self._sessions

    def current_settings(self) -> config.Settings:
        """feeds.yaml as it is now (an approval may have added sources since start-up)."""
        try:
            return config.load(self.settings.path)
        except ConfigError:
            return self.settings


MEMBERS_KEY = web.AppKey("members", MemberState)

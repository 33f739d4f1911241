"""What the member pages share between requests: settings, clocks, limiters, drafts, the store.

One ``MemberState`` per application, under ``MEMBERS_KEY``.  The store and the session secret
are opened on first use, so a server that only ever serves static files never opens the
database or writes ``.aggregator-secret``.

**Form work never starves the files.**  Static files are read on the event loop's default
executor; the member pages' blocking work (the store, feeds.yaml) runs on a small executor of
its own (``offload``), so 250 clients submitting within their limits queue behind each other,
not in front of every feed reader.  ``feeds.yaml`` is read again only when the file changed
(``current_settings``), and the health rows of ``/sources`` are computed at most once per
``HEALTH_TTL_S`` per language, by one request while the others wait for it (``cached``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

from aggregator import config
from aggregator.errors import ConfigError
from aggregator.ingest.workers import WorkerPool
from aggregator.members import discover
from aggregator.store.protocol import Store
from aggregator.web.drafts import Drafts
from aggregator.web.ratelimit import TokenBucket
from aggregator.web.session import load_secret, sessions_middleware

__all__ = ["MEMBERS_KEY", "Discoverer", "MemberState"]

FORM_WORKERS = 2  # threads for the member pages' blocking work (store, feeds.yaml)
# Previews (fetch, parse, language detection of a member's feed: milliseconds of CPU each) run
# one at a time in a process of their own (``ingest.workers.WorkerPool``, warmed like the
# cycle's workers, started when the form is first asked for): in a thread they still shared
# the interpreter's lock with the event loop, and 250 members previewing within their limits
# cut static serving to 29 % of its unloaded rate.  Tests' discoverers, which record what they
# were asked, run in a thread instead (``preview_process=False``).
PREVIEW_WORKERS = 1
HEALTH_TTL_S = 60.0  # /sources is computed again at most this often (a cycle is minutes apart)
_T = TypeVar("_T")

Discoverer = Callable[
    [str, config.Settings, datetime], Awaitable[discover.Candidate | discover.Refusal]
]


def run_discoverer(
    job: tuple[Discoverer, str, config.Settings, datetime],
) -> discover.Candidate | discover.Refusal:
    """One preview, in the preview process (or thread): its own short-lived event loop."""
    discoverer, url, settings, now = job
    return asyncio.run(_awaited(discoverer(url, settings, now)))


async def _awaited(
    pending: Awaitable[discover.Candidate | discover.Refusal],
) -> discover.Candidate | discover.Refusal:
    return await pending


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
    preview_process: bool = True  # previews in a process of their own (False: a thread)
    store_value: Store | None = field(default=None, init=False)
    _sessions: Middleware | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _work: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(FORM_WORKERS, thread_name_prefix="forms"),
        init=False,
    )
    _previews: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(PREVIEW_WORKERS, thread_name_prefix="preview"),
        init=False,
    )
    _preview_process: WorkerPool | None = field(default=None, init=False)
    _config: tuple[tuple[int, int, int], config.Settings] | None = field(default=None, init=False)
    _health: dict[str, tuple[float, Any]] = field(default_factory=dict, init=False)
    _health_lock: asyncio.Lock | None = field(default=None, init=False)

    async def offload(self, function: Callable[..., _T], *args: Any) -> _T:
        """``function(*args)`` on the member pages' own executor, awaited."""
        return await asyncio.get_running_loop().run_in_executor(self._work, function, *args)

    async def discover(
        self, url: str, settings: config.Settings
    ) -> discover.Candidate | discover.Refusal:
        """The member's feed found and read off the server's event loop (``PREVIEW_WORKERS``)."""

        job = (self.discoverer, url, settings, self.now())
        if self.preview_process:
            with self._lock:
                if self._preview_process is None:
                    self._preview_process = WorkerPool(
                        PREVIEW_WORKERS, tuple(settings.site.languages)
                    )
            return await self._preview_process.run(run_discoverer, job)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._previews, run_discoverer, job)

    def warm_previews(self) -> None:
        """Start the preview process now (the form was asked for), so that it is warm by the
        time the member sends it: started cold, the first preview waited for it."""
        if self.preview_process:
            self._previewer(self.settings)

    def _previewer(self, settings: config.Settings) -> WorkerPool:
        with self._lock:
            if self._preview_process is None:
                languages = tuple(settings.site.languages)
                self._preview_process = WorkerPool(PREVIEW_WORKERS, languages, eager=True)
            return self._preview_process

    def close_work(self) -> None:
        self._work.shutdown(wait=False, cancel_futures=True)
        self._previews.shutdown(wait=False, cancel_futures=True)
        if self._preview_process is not None:
            self._preview_process.shutdown()

    async def cached(
        self,
        key: str,
        fresh: Callable[[], Awaitable[_T]],
        clock: Callable[[], float] = time.monotonic,
    ) -> _T:
        """``fresh()`` cached for ``HEALTH_TTL_S`` under ``key``; concurrent requests for a
        stale entry wait for one computation instead of each running it."""
        if self._health_lock is None:
            self._health_lock = asyncio.Lock()
        async with self._health_lock:
            entry = self._health.get(key)
            if entry is not None and clock() - entry[0] < HEALTH_TTL_S:
                value: _T = entry[1]
                return value
            made = await fresh()
            self._health[key] = (clock(), made)
            return made

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
        """feeds.yaml as it is now (an approval may have added sources since start-up), read
        again only when the file changed: each read cost about 0.1 s of CPU."""
        try:
            stat = Path(self.settings.path).stat()
        except OSError:
            return self.settings
        key = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if self._config is not None and self._config[0] == key:
                return self._config[1]
        try:
            loaded = config.load(self.settings.path)
        except ConfigError:
            return self.settings
        with self._lock:
            self._config = (key, loaded)
        return loaded


MEMBERS_KEY = web.AppKey("members", MemberState)

"""``Fetcher``: one conditional GET per source, redirects followed by hand, every limit enforced.

What the client does not do for us, and this module does:

* a *total* deadline per fetch, checked while the body streams in (aiohttp's timeouts are per
  operation, so a server dripping a byte a second would otherwise hold a worker for ever);
* redirects followed by hand, each target passed through ``netguard.check_url`` before any
  connection, so that a ``Location`` cannot point the fetcher at a private address;
* per-host politeness (``per_host`` requests at a time) under a global ``concurrency`` limit,
  the deadline starting only once a request holds its slots;
* no cookies, no proxy from the environment, no decompression by aiohttp: the body is decoded
  by ``decoders.BoundedBody`` and every address checked by ``connector``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Collection, Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

import aiohttp
from aiohttp.abc import AbstractResolver

from aggregator import __version__
from aggregator.clock import Clock, utc_now
from aggregator.config import FetchSettings, Settings
from aggregator.errors import RefusedURLError
from aggregator.ingest.fetch.connector import AddressGuard, connector_for
from aggregator.ingest.fetch.decoders import BoundedBody
from aggregator.ingest.fetch.outcome import (
    PERMANENT_REDIRECTS,
    REDIRECTS,
    FetchFailure,
    Hop,
    answer_fields,
    classify_error,
    describe_status,
    flatten_headers,
)
from aggregator.ingest.netguard import AddressPolicy, check_url, host_and_port
from aggregator.models import ErrorKind, ErrorParams, FetchRequest, FetchResult, FetchStatus

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)
ACCEPT_ENCODING = "gzip, deflate"


def user_agent(settings: Settings) -> str:
    """How we introduce ourselves to members' servers: the operator's choice, else ours."""
    if settings.fetch.user_agent:
        return settings.fetch.user_agent
    return f"localgov-aggregator/{__version__} (+{settings.site.base_url})"


def body_digest(body: bytes) -> str:
    """SHA-256 of a body, hex: an unchanged digest means the parse can be skipped."""
    return hashlib.sha256(body).hexdigest()


class Fetcher:
    """Fetches sources concurrently; ``fetch`` returns a ``FetchResult`` and never raises.

    Use as ``async with Fetcher(settings, user_agent=...) as fetcher``.  ``allow`` is the
    operator's ``host:port`` allowlist (``FetchSettings.allow_private``), ``clock`` the injected
    wall clock (used only to read ``Retry-After`` dates) and ``resolver`` a replacement for the
    system resolver whose answers are still checked (tests use it to fake DNS rebinding).
    """

    def __init__(
        self,
        settings: FetchSettings,
        *,
        user_agent: str,
        allow: Collection[str] = (),
        clock: Clock = utc_now,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._settings = settings
        self._policy = AddressPolicy.from_allow(allow)
        self._guard = AddressGuard(self._policy)
        self._clock = clock
        self._inner_resolver = resolver
        self._base_headers = {
            "User-Agent": user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        }
        self._session: aiohttp.ClientSession | None = None
        self._global: asyncio.Semaphore | None = None
        # host -> (its slots, fetches holding or awaiting them): dropped when that falls to 0,
        # so a cycle over 35,000 members' hosts holds slots only for the hosts in flight
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    async def __aenter__(self) -> Fetcher:
        # limit=0: the semaphores below do the limiting, so queued fetches hold nothing
        connector = connector_for(self._guard, self._inner_resolver, limit=0, limit_per_host=0)
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._settings.connect_timeout_s,
            sock_read=self._settings.read_timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,  # we decode ourselves, with a limit on the output
            trust_env=False,  # no proxy from the environment: the checks must see the peer
            cookie_jar=aiohttp.DummyCookieJar(),  # no state shared between sources
            raise_for_status=False,
        )
        self._global = asyncio.Semaphore(self._settings.concurrency)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch_all(self, requests: Iterable[FetchRequest]) -> AsyncIterator[FetchResult]:
        """Fetch every request concurrently (within the limits), yielding results as they end."""
        tasks = [asyncio.ensure_future(self.fetch(r)) for r in requests]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one source.  Every per-source problem comes back as ``FetchStatus.ERROR``."""
        if self._session is None or self._global is None:
            raise RuntimeError("use Fetcher as 'async with Fetcher(...) as fetcher'")
        loop = asyncio.get_running_loop()
        started = loop.time()
        run = _Run(self, request, started)
        try:
            return await run.go()
        except Exception as exc:  # a bug must not stop the cycle either
            return run.failed(*classify_error(exc, self._settings, run.url))

    @contextlib.asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``host``'s ``per_host`` slots for the block."""
        entry = self._hosts.get(host)
        if entry is None:
            entry = self._hosts[host] = (asyncio.Semaphore(self._settings.per_host), [0])
        slot, users = entry
        users[0] += 1
        try:
            async with slot:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._hosts[host]


class _Run:
    """The state of one fetch across its redirect hops."""

    def __init__(self, fetcher: Fetcher, request: FetchRequest, started: float) -> None:
        self.f = fetcher
        self.settings = fetcher._settings
        self.request = request
        self.started = started
        self.url = request.url
        self.loop = asyncio.get_running_loop()

    async def go(self) -> FetchResult:
        try:
            self.url = check_url(self.request.url, self.f._policy)
        except RefusedURLError as exc:
            return self.failed(ErrorKind.REFUSED, f"refused: {exc}", {"url": self.request.url})
        permanent = True
        seen = {self.url}
        deadline: float | None = None
        for _ in range(self.settings.max_redirects + 1):
            host, _port = host_and_port(self.url)
            assert self.f._global is not None
            async with self.f._host_slot(host), self.f._global:
                if deadline is None:  # time queued behind the limits does not count
                    deadline = self.loop.time() + self.settings.total_timeout_s
                try:
                    hop = await self._exchange(deadline)
                except FetchFailure as exc:
                    return self.failed(exc.kind, str(exc), exc.params)
                except Exception as exc:
                    return self.failed(*classify_error(exc, self.settings, self.url))
            if hop.status not in REDIRECTS:
                return self._finish(hop, moved=permanent and len(seen) > 1)
            permanent = permanent and hop.status in PERMANENT_REDIRECTS
            try:
                self.url = self._follow(hop)
            except FetchFailure as exc:
                return self.failed(exc.kind, str(exc), exc.params, http_status=hop.status)
            if self.url in seen:
                message = f"redirect loop back to {self.url}"
                loop = {"url": self.url}
                return self.failed(ErrorKind.REDIRECT_LOOP, message, loop, http_status=hop.status)
            seen.add(self.url)
        limit = self.settings.max_redirects
        message = f"too many redirects (more than {limit})"
        return self.failed(ErrorKind.TOO_MANY_REDIRECTS, message, {"limit": limit})

    # -- one exchange --------------------------------------------------------------------

    async def _exchange(self, deadline: float) -> Hop:
        session = self.f._session
        assert session is not None
        headers = dict(self.f._base_headers)
        if self.request.etag:
            headers["If-None-Match"] = self.request.etag
        if self.request.last_modified:
            headers["If-Modified-Since"] = self.request.last_modified
        async with (
            asyncio.timeout_at(deadline),
            session.get(self.url, headers=headers, allow_redirects=False) as resp,
        ):
            flat = flatten_headers(resp.headers)
            if not 200 <= resp.status < 300:
                return Hop(self.url, resp.status, flat)
            body = await self._read_body(resp, flat, deadline)
            return Hop(self.url, resp.status, flat, body)

    async def _read_body(
        self, resp: aiohttp.ClientResponse, headers: dict[str, str], deadline: float
    ) -> bytes:
        limit = self.settings.max_body_bytes
        body = BoundedBody(headers.get("content-encoding"), limit, resp.content_length)
        while True:
            if self.loop.time() >= deadline:
                raise TimeoutError
            chunk = await resp.content.readany()
            if not chunk:
                break
            body.feed(chunk)
        return body.finish()

    # -- redirects and results -----------------------------------------------------------

    def _follow(self, hop: Hop) -> str:
        location = hop.headers.get("location", "").strip()
        if not location:
            message = f"{describe_status(hop.status)} without a Location"
            raise FetchFailure(ErrorKind.BAD_REDIRECT, message, {"status": hop.status})
        shown = location if len(location) <= 200 else location[:200] + "…"
        try:
            return check_url(urljoin(hop.url, location), self.f._policy)
        except (RefusedURLError, ValueError) as exc:
            message = f"redirect to {shown!r} refused: {exc}"
            raise FetchFailure(ErrorKind.REFUSED, message, {"url": shown}) from None

    def _finish(self, hop: Hop, *, moved: bool) -> FetchResult:
        moved_to = self.url if moved else None
        status, fields = answer_fields(hop, self.request, moved_to=moved_to, clock=self.f._clock)
        return self._result(status, **fields)

    def failed(
        self,
        kind: ErrorKind,
        message: str,
        params: ErrorParams | None = None,
        *,
        http_status: int | None = None,
    ) -> FetchResult:
        return self._result(
            FetchStatus.ERROR,
            error=message,
            error_kind=kind,
            error_params=params or {},
            http_status=http_status or None,
            etag=self.request.etag,
            last_modified=self.request.last_modified,
        )

    def _result(self, status: FetchStatus, **fields: Any) -> FetchResult:
        return FetchResult(
            request=self.request,
            status=status,
            final_url=self.url,
            elapsed_s=round(self.loop.time() - self.started, 6),
            **fields,
        )

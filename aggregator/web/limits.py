"""``serve`` under load: deadlines for slow clients, a bounded connection count, quiet refusals.

Enters: the application and the address to listen on.  Leaves: a running server whose
connections cannot be held forever.

aiohttp's own settings do most of it.  Its keep-alive timer starts when a connection opens and
closes a connection still waiting for a complete request head when it fires, so
``keepalive_timeout`` is also the deadline for the head (request line and headers): a client
trickling headers is dropped after ``HEAD_DEADLINE_S``.  ``client_max_size`` bounds a body.
What aiohttp does not have is a deadline for the body itself: 1,100 clients sending a form
one byte every five seconds held their connections for good, every normal request timed out,
and the accept loop, out of file descriptors, logged a traceback per attempt (103 MB in 45 s).
Here:

* ``body_deadline``, a middleware, reads a request's body within ``BODY_DEADLINE_S`` or answers
  408 and closes the connection;
* ``GuardedServer`` refuses connections beyond ``max_connections`` (kept below the process's
  file descriptor limit) by closing them at once, so the accept loop never runs out;
* ``Refusals`` logs the first refusal of each kind and then one line a minute with the count,
  however many clients are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

__all__ = [
    "BODY_DEADLINE_S",
    "HEAD_DEADLINE_S",
    "GuardedServer",
    "Limits",
    "Refusals",
    "body_deadline",
    "serve_forever",
]

log = logging.getLogger("aggregator.web.limits")

HEAD_DEADLINE_S = 10.0  # request line and headers, and idle keep-alive (aiohttp's keep-alive timer)
BODY_DEADLINE_S = 10.0  # a whole request body (our forms are a few hundred bytes)
MAX_CONNECTIONS = 4096
MAX_BODY_BYTES = 256 * 1024  # the member forms are tiny; OPML uploads are a command-line affair
FD_MARGIN = 128  # descriptors kept for the store, files being served, logs
REPORT_EVERY_S = 60.0


@dataclass
class Refusals:
    """Counts refusals by kind; one log line for the first, then at most one a minute."""

    clock: Callable[[], float] = time.monotonic
    every_s: float = REPORT_EVERY_S
    counts: dict[str, int] = field(default_factory=dict)
    _unreported: dict[str, int] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, kind: str, detail: str) -> None:
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self._unreported[kind] = self._unreported.get(kind, 0) + 1
            last = self._last.get(kind)
            now = self.clock()
            if last is not None and now - last < self.every_s:
                return
            count, self._unreported[kind] = self._unreported[kind], 0
            self._last[kind] = now
        if last is None:
            log.warning(
                "refused: %s (%s); further refusals of this kind: one line a minute", kind, detail
            )
        else:
            log.warning("refused %d more: %s (last: %s)", count, kind, detail)


@dataclass(frozen=True)
class Limits:
    """The deadlines and the connection cap of one server, and where refusals are counted."""

    head_deadline_s: float = HEAD_DEADLINE_S
    body_deadline_s: float = BODY_DEADLINE_S
    max_connections: int = MAX_CONNECTIONS
    refusals: Refusals = field(default_factory=Refusals)

    def connection_cap(self) -> int:
        """``max_connections``, kept ``FD_MARGIN`` below the file descriptor limit."""
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return self.max_connections
        return max(16, min(self.max_connections, soft - FD_MARGIN))


LIMITS_KEY = web.AppKey("limits", Limits)


def raise_fd_limit() -> None:
    """Use the hard file descriptor limit: the soft default (often 1,024) is what a busy
    server runs out of first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@web.middleware
async def body_deadline(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read a request's body within the deadline, or answer 408 and close the connection."""
    limits = request.app.get(LIMITS_KEY)
    if limits is None or not request.body_exists:
        return await handler(request)
    try:
        async with asyncio.timeout(limits.body_deadline_s):
            await request.read()
    except TimeoutError:
        limits.refusals.note("request body too slow", f"from {request.remote}")
        return _closing(408, "Request Timeout")
    except ConnectionError:  # the client left mid-body: nobody to answer, nothing to trace
        limits.refusals.note("client left during its request body", f"from {request.remote}")
        return _closing(400, "Bad Request")
    return await handler(request)


def _closing(status: int, reason: str) -> web.Response:
    response = web.Response(status=status, text=f"{reason}\n")
    response.force_close()
    return response


class GuardedServer(Server):
    """aiohttp's ``Server``, closing connections beyond the cap as soon as they open."""

    limits: Limits
    cap: int

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self._connections) >= self.cap:
            peer = transport.get_extra_info("peername")
            self.limits.refusals.note("too many connections", f"{self.cap} open, from {peer}")
            # after the handler's task has started (it is scheduled right after this call and
            # must find its server): closing sooner would fail it with a traceback
            self._loop.call_later(0, transport.abort)
            return
        super().connection_made(handler, transport)


class _GuardedRunner(web.AppRunner):
    def __init__(self, app: web.Application, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = GuardedServer  # same object, one method more
        assert isinstance(server, GuardedServer)
        server.limits = self._limits
        server.cap = self._limits.connection_cap()
        return server


def guard(app: web.Application, limits: Limits | None = None) -> Limits:
    """Install the body deadline on ``app`` (before it starts) and return its limits."""
    chosen = limits or Limits()
    app[LIMITS_KEY] = chosen
    app.middlewares.insert(0, body_deadline)
    return chosen


async def start(
    app: web.Application, host: str, port: int, limits: Limits, **runner_options: Any
) -> tuple[web.AppRunner, web.TCPSite]:
    """Start serving ``app`` (already ``guard``-ed) on ``host:port``; the caller cleans up.

    ``runner_options`` go to aiohttp's ``AppRunner`` (the access log, for one)."""
    runner = _GuardedRunner(
        app,
        limits,
        keepalive_timeout=limits.head_deadline_s,
        handle_signals=True,
        **runner_options,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    return runner, site


def serve_forever(
    app: web.Application, host: str, port: int, limits: Limits, **runner_options: Any
) -> None:
    """Serve until SIGINT or SIGTERM (``web.run_app``, with the guards)."""
    raise_fd_limit()

    async def main() -> None:
        runner, _ = await start(app, host, port, limits, **runner_options)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(main())

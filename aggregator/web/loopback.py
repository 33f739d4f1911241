"""An aiohttp application on 127.0.0.1, run in a thread of its own for a ``with`` block.

Enters: an application (and a port, 0 for any free one).  Leaves: a running server, its port,
and a clean shutdown at the end of the block.  The demo's feed host runs on it
(``demo.server``), and so do the tests that need a real server for ``serve`` or for feeds.
It binds to loopback only: it stands in for other people's servers, never for a public one
(``serve`` is that).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Self

from aiohttp import web

from aggregator.web.access import AccessLogger

START_TIMEOUT_S = 10.0


class LoopbackServer:
    """``app`` served on 127.0.0.1 from a background thread with its own event loop."""

    def __init__(
        self, app: web.Application, port: int = 0, access_log: logging.Logger | None = None
    ) -> None:
        self.app = app
        self.port = port
        self.access_log = access_log
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        return f"http://{self.hostport}{path}"

    async def _start(self) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=self.access_log, access_log_class=AccessLogger
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])

    def start(self) -> Self:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(START_TIMEOUT_S)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            cleanup = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            cleanup.result(START_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(START_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

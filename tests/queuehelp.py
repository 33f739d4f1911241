"""What the queue's tests and its benchmark share: a feed host on several loopback addresses
that counts what it is asked, a per-test PostgreSQL schema, and the planner driven by hand."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from aiohttp import web

from aggregator import config
from aggregator.queue.app import Queue, build_app
from aggregator.queue.planner import TickReport, tick


def rss(host: str, n: int, entries: int) -> bytes:
    """A feed whose every entry is its own story (distinct links and titles)."""
    items = "".join(
        f"<item><title>Report {n} number {e} from {host}</title>"
        f"<link>https://m{n}.example/{e}</link><guid>https://m{n}.example/{e}</guid>"
        f"<pubDate>Mon, 30 Nov 2026 0{e % 10}:00:00 +0000</pubDate>"
        f"<description>Body of report {n}.{e} about city services.</description></item>"
        for e in range(entries)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Member {n}'
        f"</title><link>https://m{n}.example/</link>{items}</channel></rss>"
    ).encode()


class CountingFeedHost:
    """Feeds on 127.0.0.2…, one port, counting GETs per path and connections in flight per
    address; requests to a held address wait until ``release()``."""

    def __init__(self, hosts: int, per_host: int, entries: int, latency_s: float = 0.0) -> None:
        self.addresses = [f"127.0.0.{h + 2}" for h in range(hosts)]
        self.per_host = per_host
        self.entries = entries
        self.latency_s = latency_s
        self.hits: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.held: str | None = None
        self.entered = threading.Event()
        self._release: asyncio.Event | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    def paths(self, per_address: int) -> list[tuple[str, str]]:
        return [(a, f"/{a}/feed-{i}.xml") for a in self.addresses for i in range(per_address)]

    async def _handle(self, request: web.Request) -> web.Response:
        address = request.transport.get_extra_info("sockname")[0] if request.transport else "?"
        self.hits[request.path] += 1
        self.in_flight[address] += 1
        self.most_in_flight[address] = max(self.most_in_flight[address], self.in_flight[address])
        try:
            if address == self.held and self._release is not None:
                self.entered.set()
                await self._release.wait()
            if self.latency_s:
                await asyncio.sleep(self.latency_s)  # a member's server taking its time
            n = int(request.path.rsplit("-", 1)[1].split(".")[0]) + 100 * (
                self.addresses.index(address) if address in self.addresses else 0
            )
            return web.Response(
                body=rss(address, n, self.entries), content_type="application/rss+xml"
            )
        finally:
            self.in_flight[address] -= 1

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        first = web.TCPSite(self._runner, self.addresses[0], 0)
        await first.start()
        self.port = int(self._runner.addresses[0][1])
        for address in self.addresses[1:]:
            await web.TCPSite(self._runner, address, self.port).start()
        self._release = asyncio.Event()

    def hold(self, address: str) -> None:
        self.held = address

    def release(self) -> None:
        assert self._release is not None
        self._loop.call_soon_threadsafe(self._release.set)

    def __enter__(self) -> CountingFeedHost:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextmanager
def pg_schema(pg_url: str) -> Iterator[tuple[str, str]]:
    """A fresh schema for one test: (storage URL, libpq address), both with its search_path."""
    import psycopg

    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    schema = f"q_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    joiner = "&" if "?" in pg_url else "?"
    option = f"{joiner}options=-csearch_path%3D{schema}"
    try:
        yield f"{pg_url}{option}", f"{dsn}{option}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def plan_once(settings: config.Settings, now: datetime) -> TickReport:
    """One tick of ``aggregator scheduler``, with the time chosen by the caller."""

    async def go() -> TickReport:
        app = build_app(settings)
        async with app.open_async():
            path = str(settings.path.resolve())
            return await tick(Queue(app, path), path, now)

    return asyncio.run(go())


def sql(dsn: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []

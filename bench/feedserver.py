"""The benchmark's feed host: aiohttp serving the corpus from memory, with ETags and 304s.

It listens on one port on several loopback addresses (127.0.0.1 … 127.0.0.H), so the corpus
looks like many member hosts and the per-host politeness limit applies as it would in the wild.
Run as its own process so that its CPU is not counted in the client's figures.

It does not reuse the demo's feed host (``aggregator.demo.server``, aiohttp's ``FileResponse``),
which the tests do: a stat, an open and a thread-pool hop per request cost about 3.5 times this
server's CPU (3,000 requests, docs/performance.md), and on the benchmark's two cores that CPU
would be taken from the client being measured.  The corpus never changes during a run, so
answers from memory with a digest ETag are exact.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

from aiohttp import web


def build_app(directory: Path) -> web.Application:
    files: dict[str, tuple[bytes, str, str]] = {}
    for path in directory.iterdir():
        body = path.read_bytes()
        ctype = "application/rss+xml" if path.suffix == ".rss" else "application/atom+xml"
        etag = '"' + hashlib.sha256(body).hexdigest()[:24] + '"'
        files[path.name] = (body, ctype, etag)

    async def handle(request: web.Request) -> web.StreamResponse:
        found = files.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        body, ctype, etag = found
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(body=body, headers={"ETag": etag, "Content-Type": ctype})

    app = web.Application()
    app.router.add_get("/{name}", handle)
    return app


async def serve(directory: Path, port: int, hosts: int) -> None:
    runner = web.AppRunner(build_app(directory), access_log=None)
    await runner.setup()
    for h in range(1, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{h}", port, backlog=2048).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))

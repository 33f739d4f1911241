"""``serve`` under bounded loopback load: static files while members submit and slow clients hold
connections (issue 17, points 10-12).

    python bench/load.py [--static 200] [--submit 250] [--slow 500] [--seconds 10]

A real ``python run.py serve`` on 127.0.0.1 serves a published site (300 posts).  Two phases of
``--seconds`` each, counted in requests and time, never open-ended:

1. *unloaded*: ``--static`` clients fetch static files (pages, feeds, the stylesheet) as fast as
   they are answered;
2. *loaded*: the same, while ``--submit`` members each use ``/submit`` within their own limit
   (five previews an hour, told apart by ``X-Forwarded-For`` through a trusted proxy; each
   preview fetches and reads a feed from a loopback host), ``--slow`` clients send a form one
   byte every ``--slow-interval`` seconds (reconnecting when dropped), and readers load
   ``/sources``.

The other clients (and the previews' feed host) run at nice 10, standing in for clients on
other machines; the server and the static readers run at normal priority, each in a process of
its own.  Reported: static requests/s in each phase and their ratio, static requests that timed out
(``--timeout`` seconds), previews answered, slow clients dropped by the server, and what the
server wrote to its log (lines, tracebacks).  The last line is JSON.  Loopback only; the load
generator shares the machine with the server, so figures are a floor, compared phase to phase.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STATIC_PATHS = ("/", "/feed.atom", "/en/", "/feed.rss", "/sources.opml", "/feed.json")
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Stats:
    static_ok: int = 0
    static_timeouts: int = 0
    static_errors: Counter[str] = field(default_factory=Counter)
    submit: Counter[int] = field(default_factory=Counter)
    sources: Counter[int] = field(default_factory=Counter)
    slow_dropped: int = 0
    slow_refused: int = 0
    first_refusal: str = ""
    static_seconds: float = 0.0
    static_cpu_s: float = 0.0
    server_cpu_s: float = 0.0
    noise_cpu_s: float = 0.0  # the other clients and the feed host (this process)
    stopping: bool = False  # the phase is over: requests cut short now are not failures


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# --------------------------------------------------------------------------------------------
# The site


def member_feed(n: int) -> bytes:
    items = "".join(
        f"<item><title>Member {n} news {i}</title><link>https://m{n}.example/{i}</link>"
        f"<guid>https://m{n}.example/{i}</guid><pubDate>Mon, 0{1 + i % 9} Nov 2026 10:00:00 +0000"
        f"</pubDate><description>Council news {i} of member {n}.</description></item>"
        for i in range(5)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>Member {n}</title><link>https://m{n}.example/</link>{items}</channel></rss>"
    ).encode()


def prepare_site(directory: Path, feed_host: str, web_options: dict[str, Any]) -> Path:
    """A feeds.yaml, a store with 300 posts of 10 sources, and the published site."""
    from aggregator import config
    from aggregator.models import Post, Source, SourceState, SourceUpdate
    from aggregator.publish.publisher import publish_all
    from aggregator.store import open_store

    options = ", ".join(f"{k}: {json.dumps(v)}" for k, v in web_options.items())
    sources = [
        Source(
            id=f"s{n}", name=f"Source {n}", organisation=f"Town {n}", url=f"https://s{n}.example/f"
        )
        for n in range(10)
    ]
    lines = [
        "site: {title: 'Load network', base_url: 'https://news.example.org/', output_dir: public}",
        f"fetch: {{allow_private: ['{feed_host}']}}",
        f"web: {{trusted_proxies: ['127.0.0.1'], {options}}}"
        if options
        else "web: {trusted_proxies: ['127.0.0.1']}",
        "digest: {editions: []}",
        "sources:",
        *(
            f"  - {{id: {s.id}, name: '{s.name}', organisation: '{s.organisation}', url: '{s.url}'}}"
            for s in sources
        ),
    ]
    path = directory / "feeds.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings = config.load(path)
    store = open_store(settings.storage_url)
    store.sync_sources(settings.source_list())
    start = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    for s in sources:
        posts = tuple(
            Post(
                id=f"{s.id}-{i}",
                source_id=s.id,
                guid=f"{s.id}-{i}",
                title=f"{s.name}: council news {i}",
                link=f"https://{s.id}.example/{i}",
                published=start - timedelta(hours=i),
                updated=start - timedelta(hours=i),
                first_seen=start - timedelta(hours=i),
                language="en",
                excerpt=f"What the council of {s.organisation} decided, item {i}.",
                content_html=f"<p>What the council of {s.organisation} decided, item {i}.</p>" * 5,
            )
            for i in range(30)
        )
        store.apply_update(SourceUpdate(s.id, SourceState(s.id, s.url), posts))
    publish_all(store, settings, start)
    store.close()
    return path


async def start_feed_host(port: int) -> web.AppRunner:
    feeds = {f"/member-{n}.xml": member_feed(n) for n in range(1000)}

    async def handle(request: web.Request) -> web.Response:
        body = feeds.get(request.path)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(body=body, content_type="application/rss+xml")

    app = web.Application()
    app.router.add_get("/{name}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


def serve_for_bench(config_path: str, port: str) -> None:
    """``serve`` as ``run.py serve`` runs it (``web.app.make_app`` and ``web.limits``), except
    that previews may fetch the bench's loopback feed host: the member address policy refuses
    private addresses, the operator's ``fetch.allow_private`` lets these through."""
    import logging

    from aggregator import config
    from aggregator.web.app import make_app
    from aggregator.web.limits import LIMITS_KEY, serve_forever

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = config.load(config_path)

    app = make_app(settings, discoverer=operator_discover, preview_process=True)
    print(f"Serving {settings.output_dir} on http://127.0.0.1:{port}/", flush=True)
    profile = os.environ.get("LOAD_PROFILE")
    if not profile:
        serve_forever(app, "127.0.0.1", int(port), app[LIMITS_KEY])
        return
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    try:
        serve_forever(app, "127.0.0.1", int(port), app[LIMITS_KEY])
    finally:
        profiler.disable()
        profiler.dump_stats(profile)


async def operator_discover(url: str, current: Any, now: datetime) -> Any:
    """Previews in operator mode (the feed host is on loopback); module-level, so that the
    server runs it in its preview process as it does the production discoverer."""
    from aggregator.members import discover

    return await discover.discover_async(url, current, member=False, now=now)


def start_serve(config_path: Path, port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The server in a process of its own, its log (stdout and stderr) in ``log_path``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        str(config_path),
        str(port),
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=config_path.parent
        )


async def wait_listening(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


# --------------------------------------------------------------------------------------------
# The clients


async def static_client(
    session: aiohttp.ClientSession, base: str, stop: float, stats: Stats, offset: int
) -> None:
    n = offset
    while time.monotonic() < stop:
        path = STATIC_PATHS[n % len(STATIC_PATHS)]
        n += 1
        try:
            async with session.get(base + path) as response:
                await response.read()
                if response.status == 200:
                    stats.static_ok += 1
                else:
                    stats.static_errors[str(response.status)] += 1
        except TimeoutError:
            stats.static_timeouts += 1
        except aiohttp.ClientError as exc:
            stats.static_errors[type(exc).__name__] += 1


def member_session(n: int, timeout: float) -> aiohttp.ClientSession:
    """Member ``n``'s client, from an address of its own (through the trusted proxy)."""
    return aiohttp.ClientSession(
        headers={"X-Forwarded-For": f"10.{n // 250}.{n % 250}.7"},
        timeout=aiohttp.ClientTimeout(total=timeout),
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # the session cookie of a 127.0.0.1 site
    )


async def one_preview(
    session: aiohttp.ClientSession, base: str, feed_base: str, n: int, stats: Stats
) -> None:
    """The form read, then sent with member ``n``'s feed: its answer counted in ``stats``."""
    async with session.get(base + "/submit") as page:
        found = CSRF.search(await page.text())
    if found is None:
        stats.submit[0] += 1
        return
    form = {
        "csrf": found.group(1),
        "url": f"{feed_base}/member-{n}.xml",
        "organisation": f"Town {n}",
        "contact": f"web@town{n}.example",
        "language": "en",
    }
    async with session.post(base + "/submit", data=form) as answer:
        body = await answer.text()
        stats.submit[answer.status] += 1
        if answer.status != 200 and not stats.first_refusal:
            stats.first_refusal = " ".join(re.sub(r"<[^>]+>", " ", body).split())[-400:]


async def submit_client(
    base: str, feed_base: str, n: int, stop: float, stats: Stats, timeout: float
) -> None:
    """One member, from its own address: up to five previews (its limit per hour)."""
    async with member_session(n, timeout) as session:
        for _ in range(5):
            if time.monotonic() >= stop:
                return
            try:
                await one_preview(session, base, feed_base, n, stats)
            except (TimeoutError, aiohttp.ClientError):
                if not stats.stopping:
                    stats.submit[-1] += 1


async def warm_up(port: int, feed_port: int, timeout: float = 120.0) -> None:
    """One member's preview before anything is measured, as a member opens the form before
    sending it: the server starts its preview process on the first ``/submit`` and the
    phases then measure a server in its steady state, not its start."""
    stats = Stats()
    async with member_session(999, timeout) as session:
        base, feeds = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{feed_port}"
        await one_preview(session, base, feeds, 999, stats)
    if stats.submit.get(200) != 1:
        raise RuntimeError(f"the warm-up preview failed: {dict(stats.submit)}")


async def sources_reader(
    session: aiohttp.ClientSession, base: str, stop: float, stats: Stats
) -> None:
    while time.monotonic() < stop:
        try:
            async with session.get(base + "/sources") as response:
                await response.read()
                stats.sources[response.status] += 1
        except (TimeoutError, aiohttp.ClientError):
            if not stats.stopping:  # not the phase's end cutting a request short
                stats.sources[-1] += 1


async def slow_client(port: int, stop: float, interval: float, stats: Stats) -> None:
    """A form sent one byte at a time; when the server drops it, it comes back."""
    head = (
        b"POST /submit HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    )
    while time.monotonic() < stop:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            stats.slow_refused += 1
            await asyncio.sleep(interval)
            continue
        try:
            writer.write(head)
            while time.monotonic() < stop:
                writer.write(b"a")
                await writer.drain()
                try:
                    got = await asyncio.wait_for(reader.read(1024), timeout=interval)
                except TimeoutError:
                    continue
                if got.startswith(b"HTTP/1.1 408") or not got:
                    stats.slow_dropped += 1
                    break
        except OSError:
            stats.slow_dropped += 1
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


# --------------------------------------------------------------------------------------------
# The phases


NOISE_NICE = 10


def _lower_priority() -> None:
    """The other clients stand in for clients on other machines: on the server's own cores
    they run after the server and the static readers (nice 10), as far as the OS allows."""
    if os.getpriority(os.PRIO_PROCESS, 0) < NOISE_NICE:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, 0, NOISE_NICE)


def _normal_priority() -> None:
    """The static readers' process back at the server's priority (root may lower niceness)."""
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, 0, 0)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def static_phase(port: int, seconds: float, clients: int, timeout: float) -> dict[str, Any]:
    """The static clients alone, in this process (run as ``--static-client``)."""
    stats = Stats()
    base = f"http://127.0.0.1:{port}"
    started, cpu = time.monotonic(), time.process_time()
    stop = started + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:
        await asyncio.gather(
            *(static_client(session, base, stop, stats, i) for i in range(clients))
        )
    return {
        "ok": stats.static_ok,
        "timeouts": stats.static_timeouts,
        "errors": dict(stats.static_errors),
        "seconds": time.monotonic() - started,
        "cpu_s": time.process_time() - cpu,
    }


async def phase(
    port: int,
    feed_port: int,
    seconds: float,
    *,
    static: int,
    server_pid: int,
    submit: int = 0,
    slow: int = 0,
    readers: int = 0,
    slow_interval: float = 1.0,
    timeout: float = 5.0,
) -> Stats:
    """Static clients in a process of their own (so the other clients' CPU is not taken from
    them), the other clients here, running until the static ones are done."""
    stats = Stats()
    base, feed_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{feed_port}"
    forever = time.monotonic() + 3600.0
    _lower_priority()
    noise = [
        asyncio.create_task(slow_client(port, forever, slow_interval, stats)) for _ in range(slow)
    ]
    if slow:
        await asyncio.sleep(1.0)  # the slow clients hold their connections first
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        noise += [
            asyncio.create_task(sources_reader(session, base, forever, stats))
            for _ in range(readers)
        ]
        noise += [
            # a browser waits for its preview: the members' patience is not the static timeout
            asyncio.create_task(submit_client(base, feed_base, n, forever, stats, 60.0))
            for n in range(submit)
        ]
        before, noise_before = cpu_seconds(server_pid), time.process_time()
        static_process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).resolve()),
            "--static-client",
            str(port),
            str(seconds),
            str(static),
            str(timeout),
            stdout=asyncio.subprocess.PIPE,
            preexec_fn=_normal_priority,
        )
        out, _ = await static_process.communicate()
        stats.server_cpu_s = cpu_seconds(server_pid) - before
        stats.noise_cpu_s = time.process_time() - noise_before
        stats.stopping = True
        for task in noise:
            task.cancel()
        await asyncio.gather(*noise, return_exceptions=True)
    found = json.loads(out.decode().strip().splitlines()[-1])
    stats.static_ok, stats.static_timeouts = found["ok"], found["timeouts"]
    stats.static_errors.update(found["errors"])
    stats.static_seconds, stats.static_cpu_s = found["seconds"], found["cpu_s"]
    return stats


@dataclass
class LoadResult:
    unloaded: Stats
    loaded: Stats
    seconds: float
    log: str

    def summary(self) -> dict[str, Any]:
        unloaded_rps = self.unloaded.static_ok / self.unloaded.static_seconds
        loaded_rps = self.loaded.static_ok / self.loaded.static_seconds
        return {
            "server_cpu_s_unloaded": round(self.unloaded.server_cpu_s, 2),
            "server_cpu_s_loaded": round(self.loaded.server_cpu_s, 2),
            "other_clients_cpu_s_loaded": round(self.loaded.noise_cpu_s, 2),
            "static_client_cpu_s": [
                round(self.unloaded.static_cpu_s, 2),
                round(self.loaded.static_cpu_s, 2),
            ],
            "static_rps_unloaded": round(unloaded_rps, 1),
            "static_rps_loaded": round(loaded_rps, 1),
            "loaded_share": round(loaded_rps / unloaded_rps, 3) if unloaded_rps else None,
            "static_timeouts": self.unloaded.static_timeouts + self.loaded.static_timeouts,
            "static_errors": dict(self.unloaded.static_errors + self.loaded.static_errors),
            "previews": {str(k): v for k, v in sorted(self.loaded.submit.items())},
            "sources_pages": {str(k): v for k, v in sorted(self.loaded.sources.items())},
            "first_refused_preview": self.loaded.first_refusal[:200],
            "slow_dropped": self.loaded.slow_dropped,
            "slow_refused": self.loaded.slow_refused,
            "log_lines": len(self.log.splitlines()),
            "log_tracebacks": self.log.count("Traceback"),
        }


async def _measure(directory: Path, args: argparse.Namespace) -> LoadResult:
    feed_port, port = free_port(), free_port()
    web_options = {
        "body_deadline_s": args.body_deadline,
        "head_deadline_s": args.head_deadline,
        "max_connections": args.max_connections,
    }
    config_path = prepare_site(directory, f"127.0.0.1:{feed_port}", web_options)
    feed_host = await start_feed_host(feed_port)
    log_path = directory / "serve.log"
    server = start_serve(config_path, port, log_path)
    try:
        await wait_listening(port)
        await warm_up(port, feed_port)
        unloaded = await phase(
            port,
            feed_port,
            args.seconds,
            static=args.static,
            server_pid=server.pid,
            timeout=args.timeout,
        )
        loaded = await phase(
            port,
            feed_port,
            args.seconds,
            static=args.static,
            server_pid=server.pid,
            submit=args.submit,
            slow=args.slow,
            readers=args.readers,
            slow_interval=args.slow_interval,
            timeout=args.timeout,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        await feed_host.cleanup()
    return LoadResult(
        unloaded, loaded, args.seconds, log_path.read_text(encoding="utf-8", errors="replace")
    )


def measure(directory: Path, **options: Any) -> LoadResult:
    """One bounded run (what the tests call with small numbers); options as on the command line."""
    args = parser().parse_args([])
    for key, value in options.items():
        setattr(args, key, value)
    raise_fd_limit()
    return asyncio.run(_measure(directory, args))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--static", type=int, default=200, help="static-file clients")
    p.add_argument(
        "--submit", type=int, default=250, help="members using /submit within their limit"
    )
    p.add_argument(
        "--slow", type=int, default=500, help="clients sending a form one byte at a time"
    )
    p.add_argument(
        "--readers", type=int, default=0, help="clients reading /sources (a separate run)"
    )
    p.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    p.add_argument(
        "--slow-interval", type=float, default=1.0, help="seconds between a slow client's bytes"
    )
    p.add_argument(
        "--timeout", type=float, default=5.0, help="a static request slower than this timed out"
    )
    p.add_argument(
        "--body-deadline", type=float, default=10.0, help="web.body_deadline_s of the server"
    )
    p.add_argument("--keep-log", metavar="PATH", help="copy the server's log here")
    p.add_argument(
        "--max-connections", type=int, default=4096, help="web.max_connections of the server"
    )
    p.add_argument(
        "--head-deadline", type=float, default=10.0, help="web.head_deadline_s of the server"
    )
    return p


def main() -> None:
    if sys.argv[1:2] == ["--serve"]:
        serve_for_bench(sys.argv[2], sys.argv[3])
        return
    if sys.argv[1:2] == ["--static-client"]:
        port, seconds, clients, timeout = sys.argv[2:6]
        raise_fd_limit()
        found = asyncio.run(static_phase(int(port), float(seconds), int(clients), float(timeout)))
        print(json.dumps(found))
        return
    args = parser().parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="aggregator-load-") as tmp:
        result = asyncio.run(_measure(Path(tmp), args))
        if args.keep_log:
            Path(args.keep_log).write_text(result.log, encoding="utf-8")
    summary = result.summary()
    print(
        f"static files: {summary['static_rps_unloaded']} req/s alone, {summary['static_rps_loaded']} req/s under load "
        f"({summary['loaded_share']:.0%}), {summary['static_timeouts']} timed out"
    )
    print(f"previews: {summary['previews']}; /sources: {summary['sources_pages']}")
    print(
        f"slow clients dropped: {summary['slow_dropped']}; server log: {summary['log_lines']} lines, "
        f"{summary['log_tracebacks']} tracebacks"
    )
    print(json.dumps({"bench": "load", **vars(args), **summary}))


if __name__ == "__main__":
    main()

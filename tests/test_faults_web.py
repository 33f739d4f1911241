"""``serve`` under a bounded loopback load (issue 17, points 10, 11 and 12).

A real server process (``bench/load.py``'s, which is ``web.app.make_app`` under
``web.limits.serve_forever``, as ``run.py serve`` runs it) with clients on 127.0.0.1: static
readers, members previewing feeds through ``/submit`` within their limits, readers of
``/sources``, and clients that send a form one byte a second or trickle their headers.  Counts
and times are small and bounded; what is asserted is what users notice (no static request
timed out, every preview answered, every slow client dropped) and what the operator reads (no
traceback, one line per kind of refusal).  Figures at full size: README, "Under load".
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from aggregator import config
from aggregator.store.protocol import Store
from aggregator.web.app import make_app
from bench.load import measure, prepare_site, serve_for_bench  # noqa: F401 - the server used
from tests.faults import wait_until

pytestmark = pytest.mark.slow


def test_slow_bodies_are_dropped_and_static_files_go_on(tmp_path: Path) -> None:
    result = measure(
        tmp_path, static=10, submit=0, slow=60, readers=0, seconds=2.5, body_deadline=1.0
    )
    summary = result.summary()

    assert summary["static_timeouts"] == 0, summary
    assert summary["static_errors"] == {}, summary
    assert summary["slow_dropped"] >= 60  # each one cut off by the deadline, then back
    assert summary["log_tracebacks"] == 0, result.log[-3000:]
    refusals = [line for line in result.log.splitlines() if "refused" in line]
    assert len(refusals) <= 2, refusals  # one line per kind, not one per client
    assert "request body too slow" in refusals[0]


def test_member_previews_and_sources_readers_do_not_starve_static_files(tmp_path: Path) -> None:
    result = measure(tmp_path, static=10, submit=15, slow=0, readers=5, seconds=3.0)
    summary = result.summary()

    assert summary["static_timeouts"] == 0, summary
    assert set(summary["previews"]) == {"200"}, summary  # every preview answered, none refused
    assert summary["previews"]["200"] >= 1, summary  # one at a time: as many as the machine fits
    assert set(summary["sources_pages"]) == {"200"}, summary
    assert summary["log_tracebacks"] == 0, result.log[-3000:]


def _serve(tmp_path: Path, **web: Any) -> tuple[Any, int, Path]:
    import subprocess
    import sys

    from bench.load import free_port

    port = free_port()
    feeds_yaml = prepare_site(tmp_path, "127.0.0.1:9", web)
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "bench/load.py", "--serve", str(feeds_yaml), str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
        )

    def listening() -> bool:
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, "serve to listen")
    return server, port, log


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(64)


def _get_to_the_end(port: int) -> bytes:
    """``_get``, read until the server closes the connection (which frees its place)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        chunks = [s.recv(65536)]
        while chunks[-1]:
            chunks.append(s.recv(65536))
        return b"".join(chunks)


def test_connections_beyond_the_cap_are_closed_and_logged_once(tmp_path: Path) -> None:
    server, port, log = _serve(tmp_path, max_connections=16, head_deadline_s=30)
    held: list[socket.socket] = []
    try:
        # one whole request first, read until the server closed it: the server has then seen
        # the readiness probe's connection and this one end, either of which could otherwise
        # free a place after the first 16 below were counted (a response's first bytes arrive
        # before the server lets its connection go)
        assert _get_to_the_end(port).startswith(b"HTTP/1.1 200")
        for _ in range(40):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        closed = []
        for s in held[16:]:
            closed.append(s.recv(1) == b"")  # the server closed it at once
        for s in held:
            s.close()
        held.clear()
        wait_until(lambda: _get(port).startswith(b"HTTP/1.1 200"), "a request to pass again")
    finally:
        for s in held:
            s.close()
        server.terminate()
        server.wait(timeout=30)

    assert all(closed)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if "too many connections" in line][:1]
    assert len([line for line in lines if "refused" in line]) == 1
    assert "Traceback" not in "\n".join(lines)


def test_a_trickled_request_head_is_dropped_at_its_deadline(tmp_path: Path) -> None:
    server, port, _ = _serve(tmp_path, head_deadline_s=1)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
            slow.sendall(b"GET /feed.atom HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            dropped = b""
            for _ in range(40):  # one byte at a time, as long as the server listens
                try:
                    slow.sendall(b"a")
                    slow.settimeout(0.25)
                    dropped = slow.recv(64)
                except TimeoutError:
                    continue
                except OSError:
                    break
                break
        assert dropped == b""  # closed without an answer: no request ever arrived
        assert _get(port).startswith(b"HTTP/1.1 200")
    finally:
        server.terminate()
        server.wait(timeout=30)


class _CountingStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.activity = 0

    def source_activity(self, since: Any) -> Any:
        self.activity += 1
        return self.store.source_activity(since)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_sources_is_computed_once_for_many_readers(tmp_path: Path) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from aggregator.store import open_store

    feeds_yaml = prepare_site(tmp_path, "127.0.0.1:9", {})
    settings = config.load(feeds_yaml)
    counting = _CountingStore(open_store(settings.storage_url))
    app = make_app(settings, store_factory=lambda: counting)

    async def go() -> list[int]:
        async with TestClient(TestServer(app)) as client:

            async def one() -> int:
                response = await client.get("/sources")
                await response.read()
                return response.status

            return list(await asyncio.gather(*(one() for _ in range(50))))

    statuses = asyncio.run(go())
    counting.store.close()
    assert statuses == [200] * 50
    assert counting.activity == 1  # one query for fifty readers


def test_feeds_yaml_is_read_again_only_when_it_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aggregator.web.state import MEMBERS_KEY

    feeds_yaml = prepare_site(tmp_path, "127.0.0.1:9", {})
    members = make_app(config.load(feeds_yaml))[MEMBERS_KEY]
    reads: list[Path] = []
    real_load = config.load

    def counting_load(path: Any) -> config.Settings:
        reads.append(Path(path))
        return real_load(path)

    monkeypatch.setattr(config, "load", counting_load)
    first = [members.current_settings() for _ in range(20)]
    text = feeds_yaml.read_text(encoding="utf-8")
    feeds_yaml.write_text(text.replace("Source 9", "Source nine"), encoding="utf-8")
    changed = members.current_settings()

    assert len(reads) == 2  # once, then once after the change
    assert all(s is first[0] for s in first)
    assert any(s.name == "Source nine" for s in changed.sources)

"""One cycle at a time: a second ``fetch`` is refused (exit 3, naming the lock), and a lock a
``kill -9``-ed run left behind is taken over by the next run.

The first run is made slow deterministically: one source's route blocks on an Event until the
test has seen what it needs, so there is no sleep and no race on timing.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from aggregator import config
from aggregator.cycle import held_lock
from aggregator.errors import LockedError
from aggregator.store import open_store
from tests.httpserver import FixtureServer

ROOT = Path(__file__).resolve().parent.parent
RUN = ROOT / "run.py"
PUBDATE = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def rss(source: str, items: list[tuple[str, str]]) -> bytes:
    """A small RSS document: every item has a guid and a date, so post ids and content hashes
    are the same from one process to the next."""
    body = []
    for n, (guid, text) in enumerate(items):
        when = (PUBDATE - timedelta(hours=n)).strftime("%a, %d %b %Y %H:%M:%S +0000")
        body.append(
            f"<item><title>{source} {guid}</title><link>https://{source}.example/{guid}</link>"
            f"<guid>https://{source}.example/{guid}</guid><pubDate>{when}</pubDate>"
            f"<description>{text}</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{source}'
        f"</title><link>https://{source}.example/</link>{''.join(body)}</channel></rss>"
    ).encode()


def write_config(
    directory: Path, server: FixtureServer, paths: list[str], extra_site: str = ""
) -> Path:
    """A feeds.yaml whose sources are routes of the loopback server (allowed explicitly)."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        f"site: {{base_url: 'https://agg.example/', output_dir: out{extra_site}}}",
        f"fetch: {{allow_private: ['{server.hostport}'], total_timeout_s: 60}}",
        "digest: {editions: []}",
        "sources:" if paths else "sources: []",
    ]
    for path in paths:
        sid = path.strip("/").split(".")[0]
        url = server.url(path)
        lines.append(f"  - {{id: {sid}, name: {sid}, organisation: {sid}, url: '{url}'}}")
    target = directory / "feeds.yaml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def start_fetch(config_path: Path) -> subprocess.Popen[str]:
    """``python run.py fetch`` in its own process group (so its pool workers die with it)."""
    env = {**os.environ, "CI": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(RUN), "fetch", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=config_path.parent,
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the child and whatever it started (its process group is its own pid)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)  # reaps it and closes its pipes


@contextmanager
def blocking_route(
    server: FixtureServer, path: str, body: bytes
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """A route that signals ``entered`` and then waits for ``release`` before answering."""
    entered, release = threading.Event(), threading.Event()

    def handler(request: BaseHTTPRequestHandler) -> None:
        entered.set()
        release.wait(timeout=60)
        try:
            request.send_response(200)
            request.send_header("Content-Type", "application/rss+xml")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        except OSError:  # the client was killed meanwhile: nobody to answer
            request.close_connection = True

    server.route(path, handler=handler)
    try:
        yield entered, release
    finally:
        release.set()


def lock_rows(config_path: Path) -> list[tuple[str, int]]:
    db = config_path.parent / "aggregator.sqlite3"
    with sqlite3.connect(db) as conn:
        return [(str(n), int(p)) for n, p in conn.execute("SELECT name, pid FROM locks")]


def test_a_second_fetch_exits_3_naming_the_lock_while_the_first_completes(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    http_server.route("/quick.rss", rss("quick", [("a", "x")]))
    with blocking_route(http_server, "/slow.rss", rss("slow", [("b", "y")])) as (entered, release):
        cfg = write_config(tmp_path, http_server, ["/quick.rss", "/slow.rss"])
        first = start_fetch(cfg)
        try:
            assert entered.wait(timeout=30), "the first run never reached the slow source"
            second = subprocess.run(
                [sys.executable, str(RUN), "fetch", "--config", str(cfg)],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, "CI": "1"},
                check=False,
            )
            assert second.returncode == 3, second.stderr
            message = " ".join(second.stderr.split())
            assert "'cycle' lock" in message
            assert f"pid {first.pid}" in message
            release.set()
            out, err = first.communicate(timeout=60)
        finally:
            if first.poll() is None:
                kill_group(first)
    assert first.returncode == 0, err
    assert "2 ok" in out
    assert lock_rows(cfg) == []  # released on the way out


def test_a_lock_left_by_a_killed_run_is_recovered_by_the_next_run(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    body = rss("slow", [("b", "y")])
    with blocking_route(http_server, "/slow.rss", body) as (entered, _release):
        cfg = write_config(tmp_path, http_server, ["/slow.rss"])
        victim = start_fetch(cfg)
        assert entered.wait(timeout=30)
        kill_group(victim)
    assert lock_rows(cfg) == [("cycle", victim.pid)]  # the dead run's lock is still there
    http_server.route("/slow.rss", body)
    rerun = subprocess.run(
        [sys.executable, str(RUN), "fetch", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CI": "1"},
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "1 ok" in rerun.stdout and "1 new post" in rerun.stdout
    assert lock_rows(cfg) == []


def test_a_live_lock_of_another_host_is_trusted_until_its_ttl_ends(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    cfg = write_config(tmp_path, http_server, [])
    settings = config.load(cfg)
    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    store = open_store(settings.storage_url)
    try:
        assert store.acquire_lock("cycle", "other:1:1", t0, 60) is None
        with sqlite3.connect(cfg.parent / "aggregator.sqlite3") as conn:
            conn.execute("UPDATE locks SET host = 'elsewhere', pid = 1")
        with (
            pytest.raises(LockedError, match="host elsewhere"),
            held_lock(store, "cycle", lambda: t0 + timedelta(seconds=59)),
        ):
            pass
        with held_lock(store, "cycle", lambda: t0 + timedelta(seconds=61)):
            assert lock_rows(cfg) == [("cycle", os.getpid())]
        assert lock_rows(cfg) == []
    finally:
        store.close()

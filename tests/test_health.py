"""A source's health tells the truth across cycles (real loopback server, real SQLite store).

* A broken feed stays broken when its server answers 304: validators are kept only from a
  response that parsed into a feed, so a 304 can only confirm the last good state.
* Sources are fetched at the configured rate: due times count from the cycle's start, checked
  over several cycles with an injected clock whose every reading moves a few milliseconds on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from aggregator import config
from aggregator.cycle import run_cycle
from aggregator.models import ErrorKind, FetchStatus
from aggregator.store import open_store
from aggregator.store.protocol import Store
from tests.httpserver import FixtureServer
from tests.stores import at_head

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    b"<link>https://m.example/</link><item><title>Housing in Lisbon and Porto</title>"
    b"<link>https://m.example/1</link><pubDate>Mon, 01 Jun 2026 07:00:00 +0000</pubDate>"
    b"<description>&lt;p&gt;Body text of the post.&lt;/p&gt;</description></item>"
    b"</channel></rss>"
)
PAGE = b"<!doctype html><html><head><title>Home</title></head><body>Welcome</body></html>"


def _write_config(tmp_path: Path, server: FixtureServer, paths: list[str], minutes: int) -> Path:
    lines = [
        f"site: {{title: t, base_url: 'https://agg.example/', fetch_interval_minutes: {minutes}}}",
        f"fetch: {{allow_private: ['{server.hostport}']}}",
        "sources:",
    ]
    for i, path in enumerate(paths):
        lines.append(f"  - {{id: s{i}, name: S{i}, organisation: O, url: '{server.url(path)}'}}")
    target = tmp_path / "feeds.yaml"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


@pytest.fixture
def store_for(tmp_path: Path) -> Iterator[Callable[[config.Settings], Store]]:
    opened: list[Store] = []

    def open_for(settings: config.Settings) -> Store:
        opened.append(open_store(at_head(settings.storage_url)))
        return opened[-1]

    yield open_for
    for store in opened:
        store.close()


def _answers_304_to_its_own_etag(body: bytes, ctype: str, etag: str):  # type: ignore[no-untyped-def]
    def handle(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("ETag", etag)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def test_a_broken_feed_stays_broken_when_its_server_answers_304(
    tmp_path: Path, http_server: FixtureServer, store_for: Callable[[config.Settings], Store]
) -> None:
    http_server.route("/home", handler=_answers_304_to_its_own_etag(PAGE, "text/html", '"p1"'))
    settings = config.load(_write_config(tmp_path, http_server, ["/home"], 60))
    store = store_for(settings)
    first = run_cycle(settings, store, clock=lambda: T0, workers=1)
    assert first.outcomes[0].status is FetchStatus.ERROR
    later = T0 + timedelta(hours=3)
    second = run_cycle(settings, store, clock=lambda: later, workers=1)
    outcome = second.outcomes[0]
    assert outcome.status is FetchStatus.ERROR and outcome.error  # still reported as failing
    assert "If-None-Match" not in http_server.hits("/home")[-1].headers  # nothing good to confirm
    state = store.get_states()["s0"]
    assert state.consecutive_failures == 2 and state.failing_since == T0
    assert state.last_success is None and state.etag is None


def test_a_304_after_a_broken_spell_confirms_the_last_good_feed(
    tmp_path: Path, http_server: FixtureServer, store_for: Callable[[config.Settings], Store]
) -> None:
    feed = _answers_304_to_its_own_etag(RSS, "application/rss+xml", '"good"')
    http_server.route("/f.rss", handler=feed)
    settings = config.load(_write_config(tmp_path, http_server, ["/f.rss"], 60))
    store = store_for(settings)
    assert run_cycle(settings, store, clock=lambda: T0, workers=1).outcomes[0].error is None
    http_server.route("/f.rss", handler=_answers_304_to_its_own_etag(PAGE, "text/html", '"bad"'))
    t1 = T0 + timedelta(hours=1)
    assert run_cycle(settings, store, clock=lambda: t1, workers=1).outcomes[0].error
    assert store.get_states()["s0"].etag == '"good"'  # the broken page's validators were not kept
    http_server.route("/f.rss", handler=feed)  # the member repaired its feed
    t2 = T0 + timedelta(hours=3)
    healed = run_cycle(settings, store, clock=lambda: t2, workers=1).outcomes[0]
    assert healed.status is FetchStatus.NOT_MODIFIED and healed.error is None
    assert store.get_states()["s0"].consecutive_failures == 0


def test_each_source_is_fetched_once_per_interval_over_five_cycles(
    tmp_path: Path, http_server: FixtureServer, store_for: Callable[[config.Settings], Store]
) -> None:
    paths = [f"/f{i}.rss" for i in range(3)]
    for path in paths:
        http_server.route(path, RSS, headers={"Content-Type": "application/rss+xml"})
    settings = config.load(_write_config(tmp_path, http_server, paths, 1))
    store = store_for(settings)
    for cycle in range(5):
        readings = iter(range(10_000))
        start = T0 + timedelta(minutes=cycle)

        def clock(start: datetime = start, readings: Iterator[int] = readings) -> datetime:
            return start + timedelta(milliseconds=7 * next(readings))  # a few ms per reading

        run_cycle(settings, store, clock=clock, due_only=True, workers=1)
    assert [len(http_server.hits(p)) for p in paths] == [5, 5, 5]


def _huge_page() -> bytes:
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" href="/feeds/{n}.rss">'
        for n in range(20_000)
    )
    return f"<!doctype html><html><head>{links}</head><body>hi</body></html>".encode()


def test_a_source_error_is_one_short_line_never_the_servers_body(
    tmp_path: Path, http_server: FixtureServer, store_for: Callable[[config.Settings], Store]
) -> None:
    http_server.route("/page", _huge_page(), headers={"Content-Type": "text/html"})
    secret = b"SERVER-BODY-" * 90_000  # about 1 MB of an error page
    http_server.route("/err", secret, status=500, headers={"Content-Type": "text/plain"})
    settings = config.load(_write_config(tmp_path, http_server, ["/page", "/err"], 60))
    store = store_for(settings)
    report = run_cycle(settings, store, clock=lambda: T0, workers=1)
    states = store.get_states()
    for outcome in report.outcomes:
        shown = outcome.error or ""
        stored = states[outcome.source_id].last_error or ""
        for text in (shown, stored):
            assert 0 < len(text) <= 300 and "\n" not in text
            assert "SERVER-BODY" not in text
    assert "advertises" in states["s0"].last_error  # still says what a person can act on
    assert "500" in states["s1"].last_error
    # and the same as a kind with a few parameters, which readers see in their language
    page = states["s0"]
    assert (page.last_error_kind, page.last_error_params["page"]) == (ErrorKind.NOT_A_FEED, "html")
    assert page.last_error_params["feeds"] == tuple(
        http_server.url(f"/feeds/{n}.rss") for n in range(3)
    )
    assert (states["s1"].last_error_kind, states["s1"].last_error_params) == (
        ErrorKind.HTTP_STATUS,
        {"status": 500},
    )

"""What an operator watches: ``/healthz``, ``/metrics``, the access log and the log format.

A real cycle (loopback feed server, SQLite file) fills the store and writes the cycle record;
``serve`` runs on 127.0.0.1 and is asked over TCP.  ``/metrics`` is read back with
prometheus-client's own parser (what ``promtool check metrics`` would do), so a malformed
exposition fails here.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aggregator import config
from aggregator.cycle import fetch_and_publish
from aggregator.ops import logs
from aggregator.ops.cycles import judge, read_record, record_path
from aggregator.store import open_store
from aggregator.web.access import access_logger
from aggregator.web.app import make_app
from aggregator.web.loopback import LoopbackServer
from aggregator.web.state import MEMBERS_KEY
from tests.httpserver import FixtureServer
from tests.stores import at_head
from tests.test_health import PAGE, RSS, _write_config

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, dict(resp.headers.items()), resp.read()
    finally:
        conn.close()


@pytest.fixture
def cycled(tmp_path: Path, http_server: FixtureServer) -> config.Settings:
    http_server.route("/ok.xml", RSS, headers={"Content-Type": "application/rss+xml"})
    http_server.route("/page.html", PAGE, headers={"Content-Type": "text/html"})
    http_server.route("/down.xml", b"oops", status=500)
    path = _write_config(tmp_path, http_server, ["/ok.xml", "/page.html", "/down.xml"], 60)
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        fetch_and_publish(settings, store, clock=lambda: T0)
    finally:
        store.close()
    return settings


@pytest.fixture
def served(cycled: config.Settings) -> Iterator[tuple[LoopbackServer, Clock]]:
    clock = Clock(T0 + timedelta(minutes=5))
    with LoopbackServer(make_app(cycled, clock=clock), access_log=access_logger()) as server:
        yield server, clock


def _metrics(port: int) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    status, headers, body = _get(port, "/metrics")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def test_healthz_is_ok_after_a_cycle_and_503_once_cycles_stop(
    served: tuple[LoopbackServer, Clock],
) -> None:
    server, clock = served
    status, headers, body = _get(server.port, "/healthz")
    health = json.loads(body)
    assert status == 200, health
    assert health["status"] == "ok" and health["store"] == "ok"
    assert health["last_cycle_age_s"] == 300.0
    assert headers["Cache-Control"] == "no-store"
    clock.now = T0 + timedelta(hours=4)  # three missed hourly cycles and more
    status, _, body = _get(server.port, "/healthz")
    assert status == 503
    assert json.loads(body)["status"] == "late"


def test_healthz_says_when_the_store_cannot_be_reached(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a directory", encoding="utf-8")
    url = f"sqlite:///{tmp_path}/plain-file/store.db"  # cannot exist, even for root
    (tmp_path / "feeds.yaml").write_text(
        f"site: {{title: t, storage_url: '{url}'}}\n", encoding="utf-8"
    )
    settings = config.load(tmp_path / "feeds.yaml")
    with LoopbackServer(make_app(settings, clock=lambda: T0)) as server:
        status, _, body = _get(server.port, "/healthz")
        assert status == 503
        health = json.loads(body)
        assert health["status"] == "store unreachable"
        assert health["store"] != "ok"
        assert _metrics(server.port)["aggregator_store_up"] == {(): 0.0}


def test_metrics_parse_back_and_tell_the_store_and_the_last_cycle(
    served: tuple[LoopbackServer, Clock], cycled: config.Settings
) -> None:
    server, _ = served
    _get(server.port, "/feed.atom")
    _get(server.port, "/nothing-here")
    m = _metrics(server.port)
    assert m["aggregator_store_up"] == {(): 1.0}
    assert m["aggregator_sources"] == {
        (("state", "failing"),): 2.0,
        (("state", "gone"),): 0.0,
        (("state", "never_fetched"),): 0.0,
        (("state", "ok"),): 1.0,
    }
    assert m["aggregator_source_errors"] == {
        (("kind", "http_status"),): 1.0,
        (("kind", "not_a_feed"),): 1.0,
    }
    assert m["aggregator_posts"] == {(): 1.0}
    assert m["aggregator_last_cycle_sources"] == {(): 3.0}
    assert m["aggregator_last_cycle_failed_sources"] == {(): 2.0}
    assert m["aggregator_last_cycle_new_posts"] == {(): 1.0}
    record = read_record(cycled.output_dir)
    assert record is not None
    assert m["aggregator_last_cycle_finished_timestamp_seconds"] == {(): T0.timestamp()}
    requests = m["aggregator_http_requests_total"]
    assert requests[(("method", "GET"), ("status", "200"))] >= 1
    assert requests[(("method", "GET"), ("status", "404"))] == 1


def test_the_cycle_record_is_never_served(served: tuple[LoopbackServer, Clock]) -> None:
    server, _ = served
    assert _get(server.port, "/.cycle.json")[0] == 404


def test_a_fresh_install_is_starting_then_late() -> None:
    common = {"store_error": None, "last_cycle": None, "up_since": T0, "interval_minutes": 60}
    assert judge(now=T0 + timedelta(minutes=10), **common).status == "starting"  # type: ignore[arg-type]
    late = judge(now=T0 + timedelta(hours=5), **common)  # type: ignore[arg-type]
    assert (late.status, late.http_status) == ("late", 503)


def test_a_torn_or_foreign_record_reads_as_none(tmp_path: Path) -> None:
    record_path(tmp_path).write_text("{not json", encoding="utf-8")
    assert read_record(tmp_path) is None


def cycled_output(server: LoopbackServer) -> Path:
    return server.app[MEMBERS_KEY].settings.output_dir


class _Lines(logging.Handler):
    """Formats each record as ``serve``'s JSON log would, and says when one arrived (aiohttp
    logs a request after its answer went out, so the client may be faster than the line)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.arrived.set()


def test_access_log_lines_carry_iso_times_with_a_zone_and_no_query(
    served: tuple[LoopbackServer, Clock],
) -> None:
    server, _ = served
    handler = _Lines()
    logger = access_logger()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        _get(server.port, "/feed.atom?token=secret")
        assert handler.arrived.wait(10)
    finally:
        logger.removeHandler(handler)
    line = json.loads(handler.lines[-1])
    assert line["logger"] == "aggregator.access"
    assert line["path"] == "/feed.atom" and line["status"] == 200 and line["method"] == "GET"
    assert line["bytes"] == (cycled_output(server) / "feed.atom").stat().st_size
    assert "secret" not in handler.lines[-1]
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_text_logs_have_iso_times_and_failures_at_warning(
    tmp_path: Path, http_server: FixtureServer
) -> None:
    http_server.route("/down.xml", b"oops", status=503)
    settings = config.load(_write_config(tmp_path, http_server, ["/down.xml"], 60))
    stream = io.StringIO()
    logs.configure(False, "text", stream)
    store = open_store(at_head(settings.storage_url))
    try:
        fetch_and_publish(settings, store, clock=lambda: T0)
    finally:
        store.close()
        logs.configure(False, "text", io.StringIO())
    failed = [line for line in stream.getvalue().splitlines() if "source=s0" in line]
    assert failed, stream.getvalue()
    stamp, level, name = failed[0].split(" ")[:3]
    assert (level, name) == ("WARNING", "aggregator.cycle")
    assert datetime.fromisoformat(stamp).utcoffset() is not None


def test_an_unknown_log_format_is_refused() -> None:
    with pytest.raises(ValueError, match="log format"):
        logs.choose_format(None, {"AGGREGATOR_LOG_FORMAT": "xml"})
    assert logs.choose_format("JSON", {}) == "json"
    assert logging.getLogger(logs.NOISY[0]).level in (logging.WARNING, logging.NOTSET)

"""After a cycle, the outside world is told: the WebSub hub, and sources' contacts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from aggregator import config
from aggregator.cycle import fetch_and_publish
from aggregator.store import open_store
from tests.httpserver import FixtureServer
from tests.stores import at_head

RSS = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>A</title><link>https://a.example.org/</link>'
    "<item><title>Water for every district</title><link>https://a.example.org/water</link>"
    "<guid>w1</guid><pubDate>Mon, 02 Nov 2026 10:00:00 +0000</pubDate>"
    "<description>The city connected its last districts.</description></item></channel></rss>"
)


def test_the_hub_is_pinged_for_changed_feeds_only(
    http_server: FixtureServer, tmp_path: Path, now: datetime
) -> None:
    http_server.route("/a.rss", RSS, headers={"Content-Type": "application/rss+xml"})
    http_server.route("/hub", status=204)
    path = tmp_path / "feeds.yaml"
    path.write_text(
        "site:\n  title: Net\n  base_url: https://news.example.org/\n"
        f"  hub: {http_server.url('/hub')}\n"
        f"fetch:\n  allow_private: ['{http_server.hostport}']\n"
        "sources:\n  - id: a\n    name: A\n    organisation: Org A\n"
        f"    url: {http_server.url('/a.rss')}\n",
        encoding="utf-8",
    )
    settings = config.load(path)
    store = open_store(at_head(settings.storage_url))
    try:
        fetch_and_publish(settings, store, clock=lambda: now)
        first = len(http_server.hits("/hub"))
        fetch_and_publish(settings, store, clock=lambda: now)
        second = len(http_server.hits("/hub")) - first
    finally:
        store.close()
    assert first >= 1  # the combined feed and its editions changed
    assert second == 0  # nothing changed: nobody is pinged

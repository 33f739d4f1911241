"""``serve`` over real TCP: a real aiohttp server on 127.0.0.1, spoken to with http.client.

http.client sends the request line exactly as written (no dot-segment clean-up), which is what
a path-traversal attempt looks like on the wire.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import logging
import socket
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from aggregator.config import Settings
from aggregator.publish.publisher import publish_all
from aggregator.publish.websub import ping_hub
from aggregator.web.app import make_app
from aggregator.web.loopback import LoopbackServer
from aggregator.web.static import accepts_gzip
from tests.httpserver import FixtureServer
from tests.test_publish import build, make_post


class Served(LoopbackServer):
    """make_app(settings) on an ephemeral port, spoken to with http.client."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(make_app(settings))

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()


@pytest.fixture
def site(tmp_path: Path, now: datetime) -> Iterator[tuple[Served, Settings]]:
    settings, store = build(tmp_path, [make_post(n) for n in range(7)], feed_entries=3)
    publish_all(store, settings, now)
    with Served(settings) as served:
        yield served, settings


CASES = [
    ("/feed.atom", "application/atom+xml", "feed.atom"),
    ("/feed-fr.atom", "application/atom+xml", "feed-fr.atom"),
    ("/archive/1.atom", "application/atom+xml", "archive/1.atom"),
    ("/feed.rss", "application/rss+xml", "feed.rss"),
    ("/feed.json", "application/feed+json", "feed.json"),
    ("/sources.opml", "text/x-opml", "sources.opml"),
    ("/index.html", "text/html; charset=utf-8", "index.html"),
    ("/", "text/html; charset=utf-8", "index.html"),
    ("/fr/", "text/html; charset=utf-8", "fr/index.html"),
    ("/static/site.css", "text/css", "static/site.css"),
]


@pytest.mark.parametrize(("path", "ctype", "file"), CASES)
def test_files_are_served_with_their_type_and_validators(
    site: tuple[Served, Settings], path: str, ctype: str, file: str
) -> None:
    served, settings = site
    status, headers, body = served.get(path)
    assert status == 200
    assert headers["Content-Type"].startswith(ctype)
    assert "charset=utf-8" in headers["Content-Type"]
    assert body == (settings.output_dir / file).read_bytes()
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong, not W/
    modified = parsedate_to_datetime(headers["Last-Modified"])
    on_disk = (settings.output_dir / file).stat().st_mtime
    assert abs(modified.timestamp() - on_disk) < 1  # the file's time, in HTTP's whole seconds
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp


def test_conditional_requests_get_304(site: tuple[Served, Settings], now: datetime) -> None:
    served, settings = site
    status, headers, _ = served.get("/feed.atom")
    etag, modified = headers["ETag"], headers["Last-Modified"]

    status, headers304, body = served.get("/feed.atom", {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers304["ETag"] == etag
    assert headers304["X-Content-Type-Options"] == "nosniff"
    assert served.get("/feed.atom", {"If-None-Match": f'"other", W/{etag}'})[0] == 304
    assert served.get("/feed.atom", {"If-None-Match": "*"})[0] == 304
    assert served.get("/feed.atom", {"If-Modified-Since": modified})[0] == 304
    # If-None-Match wins over If-Modified-Since (RFC 9110)
    stale = {"If-None-Match": '"stale"', "If-Modified-Since": modified}
    assert served.get("/feed.atom", stale)[0] == 200
    assert (
        served.get("/feed.atom", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    )
    assert served.get("/feed.atom", {"If-Modified-Since": "garbage"})[0] == 200

    # publishing again with nothing new keeps the validators; a new post changes them
    store = build(settings.path.parent, [make_post(n) for n in range(7)], feed_entries=3)[1]
    publish_all(store, settings, now)
    assert served.get("/feed.atom", {"If-None-Match": etag})[0] == 304
    store.posts.append(make_post(30))
    publish_all(store, settings, now)
    status, headers, body = served.get("/feed.atom", {"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag
    assert body == (settings.output_dir / "feed.atom").read_bytes()


def test_gzip_when_accepted(site: tuple[Served, Settings]) -> None:
    served, settings = site
    plain_status, plain, _ = served.get("/feed.atom")
    status, headers, body = served.get("/feed.atom", {"Accept-Encoding": "gzip, deflate"})
    assert status == 200 and plain_status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(body) == (settings.output_dir / "feed.atom").read_bytes()
    assert headers["ETag"] != plain["ETag"]  # a strong ETag names one representation
    assert (
        served.get("/feed.atom", {"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]})[0]
        == 304
    )
    refused = served.get("/feed.atom", {"Accept-Encoding": "gzip;q=0"})[1]
    assert "Content-Encoding" not in refused
    assert (
        accepts_gzip("br, gzip;q=0.5") and not accepts_gzip("identity") and not accepts_gzip(None)
    )


def test_head_and_directories(site: tuple[Served, Settings]) -> None:
    served, _ = site
    status, headers, body = served.get("/feed.rss", method="HEAD")
    assert status == 200 and body == b"" and headers["ETag"]
    status, headers, _ = served.get("/fr")
    assert status == 301 and headers["Location"] == "/fr/"
    assert served.get("/archive/")[0] == 404  # no listings


def test_nothing_outside_the_output_directory(site: tuple[Served, Settings]) -> None:
    served, settings = site
    secret = settings.output_dir.parent / "secret.txt"
    secret.write_text("TOP SECRET", encoding="utf-8")
    (settings.output_dir / "escape.txt").symlink_to(secret)
    (settings.output_dir / ".tmp-half.part").write_text("half", encoding="utf-8")
    (settings.output_dir / "digest").mkdir()
    (settings.output_dir / "digest" / "weekly.eml").write_text("To: a@b", encoding="utf-8")
    attempts = [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/static/../../secret.txt",
        "/static/..%2f..%2fsecret.txt",
        "/..%5csecret.txt",
        "/escape.txt",
        "/.tmp-half.part",
        "/.publish-memo.json",
        "/digest/weekly.eml",
        "//etc/passwd",
        "/%00feed.atom",
        "/feeds.yaml",
    ]
    for path in attempts:
        status, headers, body = served.get(path)
        assert status in (400, 403, 404), (path, status)
        assert b"TOP SECRET" not in body and b"half" not in body, path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "default-src 'none'" in headers["Content-Security-Policy"], path


def test_digest_previews_may_use_inline_styles_but_never_scripts(
    site: tuple[Served, Settings],
) -> None:
    served, settings = site
    (settings.output_dir / "digest").mkdir()
    (settings.output_dir / "digest" / "weekly.html").write_text(
        '<p style="color:#333">hi</p>', encoding="utf-8"
    )
    status, headers, _ = served.get("/digest/weekly.html")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "default-src 'none'" in csp
    assert "script" not in csp
    assert "unsafe-inline" not in served.get("/index.html")[1]["Content-Security-Policy"]


def test_the_gzip_form_always_matches_the_file(
    site: tuple[Served, Settings], now: datetime
) -> None:
    served, settings = site
    out = settings.output_dir

    def gunzipped(path: str) -> bytes:
        status, headers, body = served.get(path, {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip", path
        return gzip.decompress(body)

    store = build(settings.path.parent, [make_post(n) for n in range(7)], feed_entries=3)[1]
    store.posts.append(make_post(30))
    publish_all(store, settings, now)
    for path in (
        "/feed.atom",
        "/feed.rss",
        "/feed.json",
        "/sources.opml",
        "/fr/",
        "/archive/2.atom",
    ):
        assert gunzipped(path) == served.get(path)[2], path

    # a new post changes the feed: its gzip form follows at the next request
    store.posts.append(make_post(31))
    publish_all(store, settings, now)
    assert gunzipped("/feed.atom") == (out / "feed.atom").read_bytes()
    # a lost gzip form is made again when next asked for
    (out / "feed.atom.gz").unlink()
    assert gunzipped("/feed.atom") == (out / "feed.atom").read_bytes()
    assert (out / "feed.atom.gz").is_file()

    # the compressed forms are not files of their own, and a stray .br is never sent
    assert served.get("/feed.atom.gz")[0] == 404
    (out / "feed.rss.br").write_bytes(b"not brotli")
    headers = served.get("/feed.rss", {"Accept-Encoding": "br"})[1]
    assert "Content-Encoding" not in headers
    assert served.get("/feed.rss", {"Accept-Encoding": "br, gzip"})[1]["Content-Encoding"] == "gzip"


def test_ranges_of_a_file(site: tuple[Served, Settings]) -> None:
    served, settings = site
    status, headers, body = served.get("/feed.atom", {"Range": "bytes=0-37"})
    assert status == 206
    assert body == (settings.output_dir / "feed.atom").read_bytes()[:38]
    assert headers["Content-Range"].startswith("bytes 0-37/")


# --------------------------------------------------------------------------------------------
# WebSub


def test_ping_hub_posts_each_changed_feed(http_server: FixtureServer) -> None:
    bodies: list[dict[str, list[str]]] = []

    def hub(handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        bodies.append(parse_qs(handler.rfile.read(length).decode("ascii")))
        handler.send_response(204)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    hub_url = http_server.route("/hub", handler=hub)
    http_server.route("/broken", status=500, body="no")
    feeds = ["https://news.example.org/feed.atom", "https://news.example.org/feed-fr.atom"]
    result = asyncio.run(ping_hub(hub_url, feeds, allow=[http_server.hostport]))
    assert result == dict.fromkeys(feeds, "ok")
    assert bodies == [{"hub.mode": ["publish"], "hub.url": [u]} for u in feeds]
    assert all(
        r.headers.get("Content-Type") == "application/x-www-form-urlencoded"
        for r in http_server.hits("/hub")
    )

    broken = asyncio.run(
        ping_hub(http_server.url("/broken"), feeds[:1], allow=[http_server.hostport])
    )
    assert broken == {feeds[0]: "http_500"}


def test_ping_hub_refuses_private_addresses_before_connecting(http_server: FixtureServer) -> None:
    hub_url = http_server.route("/hub", status=204)
    result = asyncio.run(ping_hub(hub_url, ["https://news.example.org/feed.atom"]))
    assert result["https://news.example.org/feed.atom"].startswith("refused")
    assert http_server.hits("/hub") == []
    assert asyncio.run(ping_hub(hub_url, [])) == {}


def test_a_request_line_over_8_kib_gets_400_and_one_log_line(
    site: tuple[Served, Settings], caplog: pytest.LogCaptureFixture
) -> None:
    served, _ = site
    caplog.set_level(logging.INFO, logger="aiohttp.server")
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as conn:
        conn.sendall(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        answer = conn.recv(200)
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    records = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert records, "the bad request is logged"
    for record in records:
        assert record.exc_info is None and record.levelno < logging.ERROR
        assert "\n" not in record.getMessage() and "answered 400" in record.getMessage()


def test_before_the_first_publish_the_pages_have_their_logo_and_colours(
    tmp_path: Path,
) -> None:
    """``serve`` answers the member pages from its start; before a cycle has published, their
    stylesheet, colours and logo come from what publish would copy, not a 404."""
    settings, _ = build(tmp_path, [])
    assert not (settings.output_dir / "static").exists()
    with Served(settings) as served:
        status, headers, page = served.get("/subscribe")
        assert status == 200
        assert b'src="/static/logo.svg"' in page and b'href="/static/brand.css"' in page
        for path in ("/static/logo.svg", "/static/site.css", "/static/brand.css"):
            status, headers, body = served.get(path)
            assert status == 200, path
            assert body, path
        assert headers["Content-Type"].startswith("text/css")
        assert b"--brand:" in body
        assert served.get("/static/../feeds.yaml")[0] == 404
        assert served.get("/static/nothing.svg")[0] == 404
    assert not (settings.output_dir / "static").exists()  # serving wrote nothing


def test_the_member_pages_show_the_networks_own_logo(tmp_path: Path) -> None:
    settings, _ = build(tmp_path, [])
    site = settings.site.model_copy(update={"logo": "images/network.png"})
    with Served(settings.model_copy(update={"site": site})) as served:
        status, _, page = served.get("/subscribe")
    assert status == 200
    assert b'src="/images/network.png"' in page

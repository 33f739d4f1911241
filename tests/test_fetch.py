"""Fetching against a real HTTP server on 127.0.0.1: limits, redirects, caching and refusals.

Every misbehaving server here is real TCP: a drip, a bomb, a loop.  The fixture server's own
``host:port`` is allowed explicitly, as an operator would allow a demo server; nothing else on
127.0.0.1 is, and nothing outside loopback is ever contacted (refused URLs fail before connecting).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import zlib
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from aggregator.config import FetchSettings
from aggregator.ingest.fetch import (
    Fetcher,
    body_digest,
    describe_status,
    guarded_connector,
    parse_retry_after,
)
from aggregator.ingest.fetch.connector import AddressGuard
from aggregator.ingest.netguard import AddressPolicy
from aggregator.models import ErrorKind, FetchRequest, FetchResult, FetchStatus
from tests.httpserver import FixtureServer

UA = "localgov-aggregator/0.1 (+https://example.org/aggregator)"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
FAST = FetchSettings(
    connect_timeout_s=1.0,
    read_timeout_s=1.0,
    total_timeout_s=1.5,
    max_body_bytes=256 * 1024,
    max_redirects=5,
)
RSS = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


async def _fetch_many(
    requests: list[FetchRequest],
    allow: Collection[str],
    settings: FetchSettings,
    resolver: AbstractResolver | None,
) -> list[FetchResult]:
    async with Fetcher(
        settings, user_agent=UA, allow=allow, clock=lambda: NOW, resolver=resolver
    ) as fetcher:
        return [await fetcher.fetch(r) for r in requests]


def fetch(
    server: FixtureServer,
    url: str,
    *,
    settings: FetchSettings = FAST,
    allow: Collection[str] | None = None,
    resolver: AbstractResolver | None = None,
    **request: Any,
) -> FetchResult:
    allowed = [server.hostport] if allow is None else allow
    req = FetchRequest("src", url, **request)
    return asyncio.run(_fetch_many([req], allowed, settings, resolver))[0]


@pytest.fixture(scope="module")
def _shared_server() -> Iterator[FixtureServer]:
    server = FixtureServer().start()
    yield server
    server.stop()


@pytest.fixture
def http_server(_shared_server: FixtureServer) -> FixtureServer:
    """The conftest server, started once for this module (stopping one costs 0.5 s)."""
    _shared_server.routes.clear()
    _shared_server.requests.clear()
    return _shared_server


def gzip_of_zeros(megabytes: int, *, layers: int = 1) -> bytes:
    """A gzip bomb built in pieces, never holding the inflated data."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    data = b"".join(co.compress(block) for _ in range(megabytes)) + co.flush()
    for _ in range(layers - 1):
        data = zlib.compress(data, 9, wbits=31)
    return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# The ordinary case


def test_ok_delivers_body_type_validators_and_sends_our_headers(http_server: FixtureServer) -> None:
    url = http_server.route(
        "/feed",
        RSS,
        headers={
            "Content-Type": "application/rss+xml; charset=utf-8",
            "ETag": '"v1"',
            "Last-Modified": "Wed, 18 Nov 2026 10:00:00 GMT",
        },
    )
    result = fetch(http_server, url)
    assert result.status is FetchStatus.OK
    assert result.http_status == 200
    assert result.body == RSS
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.etag == '"v1"'
    assert result.last_modified == "Wed, 18 Nov 2026 10:00:00 GMT"
    assert result.final_url == url
    assert result.permanent_url is None
    assert result.error is None
    sent = http_server.hits("/feed")[0].headers
    assert sent["User-Agent"] == UA
    assert "gzip" in sent["Accept-Encoding"]
    assert "application/rss+xml" in sent["Accept"]
    assert "If-None-Match" not in sent


def test_gzip_and_deflate_bodies_are_decoded(http_server: FixtureServer) -> None:
    http_server.route("/gz", zlib.compress(RSS, wbits=31), headers={"Content-Encoding": "gzip"})
    http_server.route("/zl", zlib.compress(RSS), headers={"Content-Encoding": "deflate"})
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    http_server.route(
        "/raw", raw.compress(RSS) + raw.flush(), headers={"Content-Encoding": "deflate"}
    )
    twice = zlib.compress(zlib.compress(RSS, wbits=31), wbits=31)
    http_server.route("/gz2", twice, headers={"Content-Encoding": "gzip, gzip"})
    for path in ("/gz", "/zl", "/raw", "/gz2"):
        result = fetch(http_server, http_server.url(path))
        assert result.status is FetchStatus.OK, (path, result.error)
        assert result.body == RSS, path


def test_wrong_content_type_is_still_delivered(http_server: FixtureServer) -> None:
    url = http_server.route("/feed.txt", RSS, headers={"Content-Type": "text/plain"})
    result = fetch(http_server, url)
    assert result.status is FetchStatus.OK
    assert result.body == RSS
    assert result.content_type == "text/plain"


def test_empty_body_is_ok_and_empty(http_server: FixtureServer) -> None:
    url = http_server.route("/empty", b"", headers={"Content-Type": "application/rss+xml"})
    result = fetch(http_server, url)
    assert result.status is FetchStatus.OK
    assert result.body == b""


def test_body_digest_is_sha256_hex() -> None:
    assert body_digest(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert body_digest(RSS) != body_digest(RSS + b" ")


# --------------------------------------------------------------------------------------------
# Conditional GET


def test_conditional_get_sends_validators_verbatim_and_gets_not_modified(
    http_server: FixtureServer,
) -> None:
    etag = 'W/"abc-123"'
    last_modified = "Tue, 17 Nov 2026 08:00:00 GMT"

    def handler(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.end_headers()
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(RSS)))
        h.end_headers()
        h.wfile.write(RSS)

    url = http_server.route("/cond", handler=handler)
    result = fetch(http_server, url, etag=etag, last_modified=last_modified)
    assert result.status is FetchStatus.NOT_MODIFIED
    assert result.http_status == 304
    assert result.body is None
    assert result.etag == etag  # the server sent none: the old ones are kept
    assert result.last_modified == last_modified
    sent = http_server.hits("/cond")[0].headers
    assert sent["If-None-Match"] == etag
    assert sent["If-Modified-Since"] == last_modified

    changed = fetch(http_server, url, etag='"stale"')
    assert changed.status is FetchStatus.OK
    assert changed.body == RSS


def test_not_modified_with_new_validators_returns_the_new_ones(http_server: FixtureServer) -> None:
    url = http_server.route("/c2", status=304, headers={"ETag": '"v2"'})
    result = fetch(http_server, url, etag='"v1"', last_modified="Mon, 16 Nov 2026 08:00:00 GMT")
    assert result.status is FetchStatus.NOT_MODIFIED
    assert result.etag == '"v2"'
    assert result.last_modified == "Mon, 16 Nov 2026 08:00:00 GMT"


# --------------------------------------------------------------------------------------------
# Limits: time and size


def test_slow_drip_is_cut_at_the_total_deadline(http_server: FixtureServer) -> None:
    total = 600
    sent: list[int] = []
    finished = threading.Event()
    stop = threading.Event()

    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(total))
        h.end_headers()
        count = 0
        try:
            for _ in range(total):  # one byte every 0.1 s: never idle long enough for read timeout
                h.wfile.write(b"x")
                h.wfile.flush()
                count += 1
                if stop.wait(0.1):
                    break
        except OSError:
            pass
        finally:
            sent.append(count)
            finished.set()

    url = http_server.route("/drip", handler=drip)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind is ErrorKind.TIMEOUT
    assert result.error_params == {"seconds": 1.5}  # what readers see, in their language
    assert result.error == "timed out after 1.5 s"
    assert result.body is None
    # the client hung up: the server's next writes failed long before the whole body went out
    assert finished.wait(10)
    stop.set()
    assert sent
    assert sent[0] < total


def test_read_timeout_is_reported(http_server: FixtureServer) -> None:
    release = threading.Event()

    def silent(h: BaseHTTPRequestHandler) -> None:
        release.wait(5)  # says nothing until the client has given up

    url = http_server.route("/silent", handler=silent)
    settings = FetchSettings(connect_timeout_s=1, read_timeout_s=0.3, total_timeout_s=5)
    result = fetch(http_server, url, settings=settings)
    release.set()
    assert result.status is FetchStatus.ERROR
    assert (result.error_kind, result.error_params) == (ErrorKind.TIMEOUT, {"seconds": 0.3})
    assert result.error == "no data received for 0.3 s"


def test_oversized_body_with_length_is_refused(http_server: FixtureServer) -> None:
    url = http_server.route("/big", b"x" * (300 * 1024))
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind is ErrorKind.TOO_LARGE
    assert result.error_params == {"limit": 256 * 1024}
    assert "256 KiB" in (result.error or "")
    assert result.body is None


def test_oversized_chunked_body_is_cut_while_streaming(http_server: FixtureServer) -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        piece = b"y" * 16384
        try:
            for _ in range(64):  # 1 MiB in all, four times the limit
                h.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            h.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    url = http_server.route("/chunked", handler=chunked)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "too_large"


@pytest.mark.parametrize(("layers", "encoding"), [(1, "gzip"), (2, "gzip, gzip")])
def test_gzip_bomb_is_cut_after_decompression(
    http_server: FixtureServer, layers: int, encoding: str
) -> None:
    bomb = gzip_of_zeros(16, layers=layers)  # 16 MiB of zeros in 16 KiB (two layers: 153 bytes)
    assert len(bomb) < FAST.max_body_bytes
    url = http_server.route("/bomb", bomb, headers={"Content-Encoding": encoding})
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "too_large"
    assert result.error == "decoded body exceeds the 256 KiB limit"
    assert result.body is None


def test_unknown_content_encoding_is_an_error(http_server: FixtureServer) -> None:
    url = http_server.route("/br", b"\x0b\x02\x80", headers={"Content-Encoding": "br"})
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "encoding"
    assert "'br'" in (result.error or "")


def test_corrupt_gzip_is_an_error_value(http_server: FixtureServer) -> None:
    headers = {"Content-Encoding": "gzip"}
    url = http_server.route("/bad.gz", b"\x1f\x8bnot gzip at all", headers=headers)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "encoding"


# --------------------------------------------------------------------------------------------
# Redirects


def test_301_sets_permanent_url(http_server: FixtureServer) -> None:
    target = http_server.route("/new", RSS)
    old = http_server.route("/old", status=301, headers={"Location": "/new"})
    result = fetch(http_server, old)
    assert result.status is FetchStatus.OK
    assert result.body == RSS
    assert result.final_url == target
    assert result.permanent_url == target


def test_308_chain_sets_permanent_url(http_server: FixtureServer) -> None:
    target = http_server.route("/c", RSS)
    http_server.route("/b", status=301, headers={"Location": target})
    start = http_server.route("/a", status=308, headers={"Location": "b"})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.OK
    assert result.permanent_url == target


@pytest.mark.parametrize("code", [302, 303, 307])
def test_temporary_redirect_is_followed_not_stored(http_server: FixtureServer, code: int) -> None:
    target = http_server.route("/today", RSS)
    start = http_server.route("/feed", status=code, headers={"Location": "/today"})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.OK
    assert result.final_url == target
    assert result.permanent_url is None


def test_mixed_chain_is_not_permanent(http_server: FixtureServer) -> None:
    http_server.route("/end", RSS)
    http_server.route("/mid", status=302, headers={"Location": "/end"})
    start = http_server.route("/start", status=301, headers={"Location": "/mid"})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.OK
    assert result.permanent_url is None


def test_permanent_redirect_to_an_error_does_not_move_the_source(
    http_server: FixtureServer,
) -> None:
    start = http_server.route("/moved", status=301, headers={"Location": "/missing"})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.ERROR
    assert result.error == "HTTP 404 Not Found"
    assert result.permanent_url is None


def test_redirect_loop_is_an_error(http_server: FixtureServer) -> None:
    http_server.route("/ping", status=302, headers={"Location": "/pong"})
    start = http_server.route("/pong", status=302, headers={"Location": "/ping"})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "redirect_loop"
    assert "redirect loop" in (result.error or "")
    assert len(http_server.hits("/ping")) == 1


def test_too_many_redirects(http_server: FixtureServer) -> None:
    for i in range(10):
        http_server.route(f"/r{i}", status=307, headers={"Location": f"/r{i + 1}"})
    result = fetch(http_server, http_server.url("/r0"))
    assert result.status is FetchStatus.ERROR
    assert (result.error_kind, result.error_params) == (ErrorKind.TOO_MANY_REDIRECTS, {"limit": 5})
    assert result.error == "too many redirects (more than 5)"
    assert len(http_server.requests) == 6  # the first request and five redirects


@pytest.mark.parametrize(
    "location",
    [
        "http://10.1.2.3/feed",
        "http://169.254.169.254/latest/meta-data/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost/",
    ],
)
def test_redirect_to_a_private_address_is_refused_before_connecting(
    http_server: FixtureServer, location: str
) -> None:
    start = http_server.route("/go", status=301, headers={"Location": location})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.ERROR
    assert (result.error_kind, result.error_params) == (ErrorKind.REFUSED, {"url": location})
    assert "refused" in (result.error or "")
    assert result.permanent_url is None
    assert result.final_url == start


def test_redirect_to_another_local_port_never_connects(http_server: FixtureServer) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        other = listener.getsockname()[1]
        start = http_server.route(
            "/hop", status=308, headers={"Location": f"http://127.0.0.1:{other}/feed"}
        )
        result = fetch(http_server, start)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever knocked
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "refused"
    assert "127.0.0.1 is a loopback address" in (result.error or "")
    assert result.permanent_url is None


@pytest.mark.parametrize(
    "location", ["javascript:alert(1)", "http://exa mple.com/", "http://[::1", "file:///etc/passwd"]
)
def test_invalid_location_is_an_error_value(http_server: FixtureServer, location: str) -> None:
    start = http_server.route("/bad", status=302, headers={"Location": location})
    result = fetch(http_server, start)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "refused"
    assert result.http_status == 302


def test_redirect_without_location(http_server: FixtureServer) -> None:
    start = http_server.route("/nowhere", status=301)
    result = fetch(http_server, start)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "bad_redirect"


# --------------------------------------------------------------------------------------------
# Status codes


def test_410_is_gone(http_server: FixtureServer) -> None:
    url = http_server.route("/gone", b"bye", status=410)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.GONE
    assert result.http_status == 410
    assert result.error == "HTTP 410 Gone"
    assert (result.error_kind, result.error_params) == (ErrorKind.GONE, {"status": 410})


def test_500_is_an_error_with_a_readable_message(http_server: FixtureServer) -> None:
    url = http_server.route("/boom", b"oops", status=500)
    result = fetch(http_server, url, etag='"keep"')
    assert result.status is FetchStatus.ERROR
    assert result.http_status == 500
    assert result.error == "HTTP 500 Internal Server Error"
    assert (result.error_kind, result.error_params) == (ErrorKind.HTTP_STATUS, {"status": 500})
    assert result.etag == '"keep"'  # a failure forgets nothing
    assert result.retry_after_s is None


def test_404_is_an_error(http_server: FixtureServer) -> None:
    result = fetch(http_server, http_server.url("/nope"))
    assert result.status is FetchStatus.ERROR
    assert result.error == "HTTP 404 Not Found"
    assert (result.error_kind, result.error_params) == (ErrorKind.HTTP_STATUS, {"status": 404})


@pytest.mark.parametrize(
    ("code", "value", "expected"),
    [
        (429, "120", 120.0),
        (503, "3600", 3600.0),
        (429, "5", 60.0),  # clamped up
        (429, str(30 * 86400), 86400.0),  # clamped down
        (429, "Fri, 20 Nov 2026 12:30:00 GMT", 1800.0),  # a date, read against the clock
        (503, "soon", None),
    ],
)
def test_retry_after(http_server: FixtureServer, code: int, value: str, expected: float) -> None:
    url = http_server.route("/busy", status=code, headers={"Retry-After": value})
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert (result.error_kind, result.error_params) == (ErrorKind.HTTP_STATUS, {"status": code})
    assert result.retry_after_s == expected


def test_parse_retry_after_is_pure() -> None:
    assert parse_retry_after(None, NOW) is None
    assert parse_retry_after("Fri, 20 Nov 2026 11:00:00 GMT", NOW) == 60.0  # in the past
    assert parse_retry_after("Sat, 21 Nov 2026 12:00:00 GMT", NOW) == 86400.0
    assert describe_status(418) == "HTTP 418 I'm a Teapot"
    assert describe_status(599) == "HTTP 599"


# --------------------------------------------------------------------------------------------
# Connection problems are values too


def test_connection_refused(http_server: FixtureServer) -> None:
    port = free_port()
    result = fetch(http_server, f"http://127.0.0.1:{port}/", allow=[f"127.0.0.1:{port}"])
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "connection"
    assert result.error == "connection refused"


def test_tls_failure_is_reported(http_server: FixtureServer) -> None:
    """Speaking TLS to a plain HTTP server fails the handshake: a TLS error, not a crash."""
    url = http_server.route("/feed", RSS).replace("http://", "https://")
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "tls"
    assert (result.error or "").startswith("TLS")


class FailingDNS(AbstractResolver):
    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        raise OSError(socket.EAI_NONAME, "Name or service not known")

    async def close(self) -> None:
        pass


def test_unknown_host_is_reported(http_server: FixtureServer) -> None:
    result = fetch(http_server, "https://no-such-feed.example.org/rss", resolver=FailingDNS())
    assert result.status is FetchStatus.ERROR
    assert result.error_kind is ErrorKind.DNS
    assert result.error_params == {"host": "no-such-feed.example.org"}
    assert result.error == "could not resolve host no-such-feed.example.org"


def test_server_hanging_up_without_answer(http_server: FixtureServer) -> None:
    def hang_up(h: BaseHTTPRequestHandler) -> None:
        h.close_connection = True

    url = http_server.route("/hangup", handler=hang_up)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "connection"


def test_garbage_instead_of_http(http_server: FixtureServer) -> None:
    def garbage(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        h.close_connection = True

    url = http_server.route("/ssh", handler=garbage)
    result = fetch(http_server, url)
    assert result.status is FetchStatus.ERROR
    assert result.error_kind in ("protocol", "connection")
    assert result.error


# --------------------------------------------------------------------------------------------
# The address checks on the wire


def test_fixture_server_is_refused_when_not_allowed(http_server: FixtureServer) -> None:
    url = http_server.route("/feed", RSS)
    result = fetch(http_server, url, allow=[])
    assert result.status is FetchStatus.ERROR
    assert (result.error_kind, result.error_params) == (ErrorKind.REFUSED, {"url": url})
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert http_server.requests == []


class FakeDNS(AbstractResolver):
    """Answers every name with a fixed address: a public name that rebinds to loopback."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=self.address,
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=0,
            )
        ]

    async def close(self) -> None:
        pass


def test_name_resolving_to_loopback_is_refused_without_connecting(
    http_server: FixtureServer,
) -> None:
    http_server.route("/feed", RSS)
    dns = FakeDNS("127.0.0.1")
    url = f"http://feeds.example.org:{http_server.port}/feed"
    result = fetch(http_server, url, resolver=dns)  # only 127.0.0.1:port is allowed
    assert dns.asked == ["feeds.example.org"]
    assert result.status is FetchStatus.ERROR
    assert result.error_kind == "refused"
    assert result.error == (
        "refused: feeds.example.org resolves only to refused addresses"
        " (127.0.0.1 is a loopback address)"
    )
    assert http_server.requests == []


def test_allowed_name_may_resolve_to_loopback(http_server: FixtureServer) -> None:
    http_server.route("/feed", RSS)
    url = f"http://feeds.test:{http_server.port}/feed"
    allow = [f"feeds.test:{http_server.port}"]
    result = fetch(http_server, url, allow=allow, resolver=FakeDNS("127.0.0.1"))
    assert result.status is FetchStatus.OK
    assert result.body == RSS
    assert http_server.hits("/feed")[0].headers["Host"] == f"feeds.test:{http_server.port}"


def test_peer_is_checked_again_on_pooled_connections(http_server: FixtureServer) -> None:
    """If the pinned endpoint is withdrawn, a kept-alive connection is not reused blindly."""
    http_server.route("/feed", RSS)
    url = f"http://feeds.test:{http_server.port}/feed"
    allow = [f"feeds.test:{http_server.port}"]

    async def scenario() -> tuple[FetchResult, FetchResult]:
        async with Fetcher(FAST, user_agent=UA, allow=allow, resolver=FakeDNS("127.0.0.1")) as f:
            first = await f.fetch(FetchRequest("a", url))
            f._guard.endpoints.clear()  # as if the answer had changed since
            second = await f.fetch(FetchRequest("a", url))
            return first, second

    first, second = asyncio.run(scenario())
    assert first.status is FetchStatus.OK
    assert second.status is FetchStatus.ERROR
    assert second.error_kind == "refused"
    assert len(http_server.hits("/feed")) == 1


def test_socket_factory_refuses_private_addresses_before_connect() -> None:
    guard = AddressGuard(AddressPolicy.from_allow(["127.0.0.1:8080"]))
    for address in (("10.0.0.1", 80), ("127.0.0.1", 8081), ("169.254.169.254", 80)):
        with pytest.raises(OSError, match="refused by the address policy"):
            guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", address))
    guard.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 8080))).close()


def test_guarded_connector_for_other_clients(http_server: FixtureServer) -> None:
    """The WebSub ping's session gets the same checks: refused unless allowed, by name too."""
    url = http_server.route("/hub", b"ok")

    async def post(allow: list[str], target: str, dns: AbstractResolver | None = None) -> str:
        connector = guarded_connector(allow, resolver=dns)
        async with (
            aiohttp.ClientSession(connector=connector, trust_env=False) as session,
            session.post(target, data={"hub.mode": "publish"}) as resp,
        ):
            return await resp.text()

    assert asyncio.run(post([http_server.hostport], url)) == "ok"
    with pytest.raises(aiohttp.ClientConnectorError, match="refused"):
        asyncio.run(post([], url))
    by_name = f"http://hub.example.org:{http_server.port}/hub"
    with pytest.raises(aiohttp.ClientConnectorError, match="refused"):
        asyncio.run(post([http_server.hostport], by_name, FakeDNS("127.0.0.1")))
    assert len(http_server.hits("/hub")) == 1


# --------------------------------------------------------------------------------------------
# Concurrency


def test_fetch_all_respects_the_per_host_limit(http_server: FixtureServer) -> None:
    lock = threading.Lock()
    active = [0]
    peak = [0]
    crowd = threading.Event()

    def slow(h: BaseHTTPRequestHandler) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            if active[0] > 2:
                crowd.set()
        crowd.wait(0.2)  # give a third request the chance to arrive if the limit were broken
        with lock:
            active[0] -= 1
        h.send_response(200)
        h.send_header("Content-Length", str(len(RSS)))
        h.end_headers()
        h.wfile.write(RSS)

    http_server.route("/slow", handler=slow)
    requests = [FetchRequest(f"s{i}", http_server.url(f"/slow?i={i}")) for i in range(6)]
    settings = FetchSettings(per_host=2, concurrency=32, total_timeout_s=10)

    hosts_left: list[int] = []

    async def scenario() -> list[FetchResult]:
        async with Fetcher(settings, user_agent=UA, allow=[http_server.hostport]) as f:
            found = [r async for r in f.fetch_all(requests)]
            hosts_left.append(len(f._hosts))
            return found

    results = asyncio.run(scenario())
    assert sorted(r.request.source_id for r in results) == [f"s{i}" for i in range(6)]
    assert all(r.status is FetchStatus.OK for r in results)
    assert 1 <= peak[0] <= 2
    # a host's slots go once its fetches are done: 35,000 members' hosts are not all kept
    assert hosts_left == [0]


def test_fetch_outside_context_manager_is_a_programming_error() -> None:
    fetcher = Fetcher(FAST, user_agent=UA)
    with pytest.raises(RuntimeError):
        asyncio.run(fetcher.fetch(FetchRequest("x", "http://93.184.216.34/")))

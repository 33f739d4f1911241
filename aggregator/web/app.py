"""``serve``: the published output directory over HTTP, the way feed readers like it.

Feed readers poll.  What keeps that cheap for both sides is a strong ETag and a Last-Modified on
every answer and a 304 when nothing changed; since ``publish`` only rewrites files whose bytes
changed, an unchanged feed keeps its validators across cycles.  Text is gzipped for clients that
ask (each encoding has its own ETag, as a strong validator must).

The handler serves files only: no directory listings, no dotfiles (``write_atomic``'s temporary
files start with a dot), only known extensions, and every resolved path must stay inside the
output directory (no ``..``, no symlink escaping it).  Every response carries a strict
Content-Security-Policy and ``nosniff``: pages never run scripts, and feed text must never be
sniffed into HTML.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from aggregator.config import Settings
from aggregator.web.logs import quiet_bad_requests
from aggregator.web.members import add_member_routes
from aggregator.web.security import CSP, DIGEST_CSP, SECURITY_HEADERS

CONTENT_TYPES: Mapping[str, str] = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/vnd.microsoft.icon",
}
COMPRESSIBLE = frozenset(
    {".atom", ".rss", ".json", ".opml", ".html", ".css", ".xml", ".txt", ".svg"}
)
MIN_GZIP_BYTES = 512
CACHE_ENTRIES = 256
ROOT_KEY = web.AppKey("output_root", Path)


# --------------------------------------------------------------------------------------------
# Files and their validators


@dataclass(frozen=True, slots=True)
class Representation:
    """One file as served: its bytes, its gzip form when worth it, and their validators."""

    body: bytes
    gzipped: bytes | None
    etag: str  # strong, of the identity bytes
    gzip_etag: str
    last_modified: datetime  # whole seconds, UTC, as HTTP dates carry it
    content_type: str


class FileCache:
    """Representations keyed by (path, inode, size, mtime): a rewritten file is a new key."""

    def __init__(self, capacity: int = CACHE_ENTRIES) -> None:
        self.capacity = capacity
        self._items: OrderedDict[tuple[str, int, int, int], Representation] = OrderedDict()

    def get(self, path: Path) -> Representation:
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        rep = load_representation(path, st.st_mtime)
        self._items[key] = rep
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return rep


CACHE_KEY = web.AppKey("file_cache", FileCache)


def load_representation(path: Path, mtime: float) -> Representation:
    body = path.read_bytes()
    suffix = path.suffix.lower()
    digest = hashlib.sha256(body).hexdigest()[:32]
    gzipped = None
    if suffix in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES:
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)  # mtime=0: stable bytes
    return Representation(
        body=body,
        gzipped=gzipped,
        etag=f'"{digest}"',
        gzip_etag=f'"{digest}-gz"',
        last_modified=datetime.fromtimestamp(int(mtime), tz=UTC),
        content_type=CONTENT_TYPES[suffix],
    )


def resolve_path(root: Path, tail: str) -> Path | None:
    """The file a request path names inside ``root``, or None when it must not be served."""
    parts = [p for p in tail.split("/") if p]
    for part in parts:
        if part in (".", "..") or part.startswith(".") or "\\" in part or "\x00" in part:
            return None
    candidate = root.joinpath(*parts) if parts else root
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not resolved.is_relative_to(root):
        return None
    return resolved


# --------------------------------------------------------------------------------------------
# Conditional requests and content negotiation


def _etag_list(header: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in header.split(",") if t.strip()]


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, etag: str, modified: datetime
) -> bool:
    """RFC 9110 §13.1: If-None-Match (weak comparison) wins; If-Modified-Since only without it."""
    if if_none_match is not None:
        tags = _etag_list(if_none_match)
        return "*" in tags or etag in tags
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError, IndexError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return modified <= since
    return False


def accepts_gzip(header: str | None) -> bool:
    """True unless gzip is absent or explicitly refused with q=0."""
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _q_is_zero(q[2:]))
    return False


def _q_is_zero(value: str) -> bool:
    try:
        return float(value) == 0.0
    except ValueError:
        return False


# --------------------------------------------------------------------------------------------
# The application


async def _serve_file(request: web.Request) -> web.StreamResponse:
    root = request.app[ROOT_KEY]
    tail = request.match_info.get("tail", "")
    path = resolve_path(root, tail)
    if path is None:
        raise web.HTTPNotFound()
    if path.is_dir():
        if tail and not tail.endswith("/"):
            # rebuilt from checked segments: "//host" must never become an open redirect
            segments = [quote(p) for p in tail.split("/") if p]
            raise web.HTTPMovedPermanently(location="/" + "/".join(segments) + "/")
        path = resolve_path(root, f"{tail}/index.html")
        if path is None or not path.is_file():
            raise web.HTTPNotFound()
    if path.suffix.lower() not in CONTENT_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    try:
        rep = await asyncio.to_thread(request.app[CACHE_KEY].get, path)
    except OSError:
        raise web.HTTPNotFound() from None
    return _respond(request, rep)


def _respond(request: web.Request, rep: Representation) -> web.StreamResponse:
    use_gzip = rep.gzipped is not None and accepts_gzip(request.headers.get("Accept-Encoding"))
    etag = rep.gzip_etag if use_gzip else rep.etag
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(rep.last_modified, usegmt=True),
        "Cache-Control": _cache_control(request.path),
    }
    if rep.gzipped is not None:
        headers["Vary"] = "Accept-Encoding"
    if not_modified(
        request.headers.get("If-None-Match"),
        request.headers.get("If-Modified-Since"),
        etag,
        rep.last_modified,
    ):
        return web.Response(status=304, headers=headers)
    headers["Content-Type"] = rep.content_type
    if use_gzip and rep.gzipped is not None:
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=rep.gzipped, headers=headers)
    return web.Response(body=rep.body, headers=headers)


def _cache_control(path: str) -> str:
    """Archive pages never change once written; everything else is revalidated often."""
    if path.startswith("/archive/"):
        return "public, max-age=86400"
    return "public, max-age=300"


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.path.startswith("/digest/") and response.headers["Content-Security-Policy"] == CSP:
        response.headers["Content-Security-Policy"] = DIGEST_CSP


def make_app(settings: Settings) -> web.Application:
    """The site as an aiohttp application; other routes (member pages) may be added to it."""
    quiet_bad_requests()
    app = web.Application()
    root = settings.output_dir
    root.mkdir(parents=True, exist_ok=True)
    app[ROOT_KEY] = root.resolve()
    app[CACHE_KEY] = FileCache()
    app.on_response_prepare.append(_security_headers)
    add_member_routes(app, settings)  # before the catch-all below, which would shadow them
    app.router.add_get("/{tail:.*}", _serve_file, name="static")
    return app


def run_server(settings: Settings, host: str = "127.0.0.1", port: int = 8080) -> None:
    """Serve until interrupted (the CLI's ``serve``)."""
    web.run_app(make_app(settings), host=host, port=port, print=None)

"""A small static HTTP server for loopback use: the demo's and the benchmark's feed host.

It answers GET and HEAD for files under one directory, with strong ETags and Last-Modified, and
a 304 to a matching conditional request, so a second demo run shows the cheap path.  It binds to
127.0.0.1 only: it is a stand-in for members' web servers, never a public server (``serve`` is).
"""

from __future__ import annotations

import hashlib
import mimetypes
import threading
from collections.abc import Callable
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
}

Resolver = Callable[[str], "tuple[bytes, str] | None"]


class LoopbackFeedServer:
    """Serve ``resolve(path) -> (body, content_type)`` on 127.0.0.1 in a background thread."""

    def __init__(self, resolve: Resolver, port: int = 0) -> None:
        self.resolve = resolve
        self.requests = 0
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                outer.requests += 1
                found = outer.resolve(self.path.split("?", 1)[0])
                if found is None:
                    self._send(404, b"not found\n", "text/plain; charset=utf-8", None)
                    return
                body, ctype = found
                etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", None, etag)
                    return
                self._send(200, body, ctype, etag)

            def do_HEAD(self) -> None:
                self.do_GET()

            def _send(self, status: int, body: bytes, ctype: str | None, etag: str | None) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                if etag:
                    self.send_header("ETag", etag)
                    self.send_header("Last-Modified", formatdate(0, usegmt=True))
                self.send_header("Content-Length", str(len(body) if status != 304 else 0))
                self.end_headers()
                if self.command != "HEAD" and status != 304:
                    self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 1024
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LoopbackFeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def directory_resolver(root: Path, prefix: str = "/") -> Resolver:
    """Map URL paths under ``prefix`` to files under ``root``, refusing traversal."""
    base = root.resolve()

    def resolve(path: str) -> tuple[bytes, str] | None:
        if not path.startswith(prefix):
            return None
        candidate = (base / path[len(prefix) :]).resolve()
        if base not in candidate.parents or not candidate.is_file():
            return None
        ctype = _TYPES.get(candidate.suffix) or (
            mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        )
        return candidate.read_bytes(), ctype

    return resolve

"""Files from one directory over HTTP, through aiohttp's ``FileResponse``.

Enters: a directory and a request path.  Leaves: the file, or a 404 (a 301 for a directory
named without its slash).  Shared by ``serve`` (``web.app``, the published outputs) and the
demo's loopback feed host (``demo.server``), which the tests reuse.

What ``FileResponse`` does for us, as aiohttp 3.14 implements it: a strong ETag and a
Last-Modified from the file's stat (publish rewrites a file only when its bytes change, so
they stay put between cycles), 304 to a matching If-None-Match (weak comparison) or, without
one, to If-Modified-Since, ranges, HEAD, and the ``name.gz`` twin beside a text output (made
on the first request that takes gzip, and again after publish changed the file), sent with
``Content-Encoding: gzip`` and an ETag of its own.  It picks the twin when
the Accept-Encoding header merely *contains* "gzip" (so ``gzip;q=0`` too) and prefers a
``.br`` file when one exists: ``send_file`` therefore hands it a request whose Accept-Encoding
says exactly ``gzip`` or ``identity``, as ``accepts_gzip`` reads the client's.

What is refused, whoever asks: dotfiles (``write_atomic``'s temporary files, publish's memo),
unknown file types (``.eml``, ``.gz`` and ``.yaml`` included), and any path that leaves the
directory (``..``, encoded or not, a symlink pointing out).  No directory listings.
"""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter

from aggregator.files import fresh_twin, gzip_twin

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
ROOT_KEY = web.AppKey("static_root", Path)


def resolve_path(root: Path, tail: str) -> Path | None:
    """The file a request path names inside ``root``, or None when it must not be served.

    ``root`` is already resolved, so only the components below it are looked at (one
    ``lstat`` each); a symbolic link among them is followed in full and must stay inside
    ``root``.  ``Path.resolve`` on every request walked the whole path from ``/``: a tenth of
    the server's time when it serves files as fast as it can.
    """
    parts = [p for p in tail.split("/") if p]
    for part in parts:
        if part in (".", "..") or part.startswith(".") or "\\" in part or "\x00" in part:
            return None
    candidate = root
    try:
        for part in parts:
            candidate = candidate / part
            if stat.S_ISLNK(candidate.lstat().st_mode):
                return _linked(root, root.joinpath(*parts))
        if not parts:
            root.stat()
    except (OSError, ValueError):
        return None
    return candidate


def _linked(root: Path, candidate: Path) -> Path | None:
    """``candidate``, which passes through a symbolic link, resolved; None outside ``root``."""
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    return resolved if resolved.is_relative_to(root) else None


def find_file(root: Path, tail: str) -> Path:
    """The servable file for ``tail`` (a directory's ``index.html``); raises 404 or 301."""
    path = resolve_path(root, tail)
    if path is None:
        raise web.HTTPNotFound()
    if path.is_dir():
        if tail and not tail.endswith("/"):
            # rebuilt from checked segments: "//host" must never become an open redirect
            segments = [quote(p) for p in tail.split("/") if p]
            raise web.HTTPMovedPermanently(location="/" + "/".join(segments) + "/")
        path = resolve_path(root, f"{tail}/index.html")
        if path is None:
            raise web.HTTPNotFound()
    if path.suffix.lower() not in CONTENT_TYPES or not path.is_file():
        raise web.HTTPNotFound()
    return path


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


class _NegotiatedFile(web.FileResponse):
    """``FileResponse`` told plainly whether the client takes gzip (see the module docstring),
    with the file's gzip twin made fresh first (``files.fresh_twin``) when it does."""

    def __init__(self, path: Path, headers: Mapping[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._source = path

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        asked = request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
        gzip_ok = accepts_gzip(asked)
        if gzip_ok and gzip_twin(self._source) is not None:
            gzip_ok = await asyncio.to_thread(fresh_twin, self._source)
        if "br" in asked or ("gzip" in asked) != gzip_ok:  # FileResponse would choose otherwise
            plain = request.headers.copy()
            plain[hdrs.ACCEPT_ENCODING] = "gzip" if gzip_ok else "identity"
            request = request.clone(headers=plain)
        return await super().prepare(request)


def send_file(path: Path, headers: Mapping[str, str] | None = None) -> web.StreamResponse:
    """``path`` (found by ``find_file``) as a response: its gzip twin for clients taking gzip."""
    sent = {"Content-Type": CONTENT_TYPES[path.suffix.lower()], **(headers or {})}
    if gzip_twin(path) is not None:
        sent["Vary"] = "Accept-Encoding"  # on the plain answer too: a cache must ask again
    return _NegotiatedFile(path, headers=sent)


async def _serve(request: web.Request) -> web.StreamResponse:
    return send_file(find_file(request.app[ROOT_KEY], request.match_info.get("tail", "")))


def static_app(root: Path, prefix: str = "/") -> web.Application:
    """A directory as a bare application (no headers of ``serve``'s): the demo's feed host."""
    app = web.Application()
    app[ROOT_KEY] = root.resolve()
    app.router.add_get(prefix.rstrip("/") + "/{tail:.*}", _serve)
    return app

"""The demo's feed host: the sample feeds on 127.0.0.1, as members' web servers serve them.

A directory served through the same code as ``serve`` (``web.static``: aiohttp's
``FileResponse``, with strong ETags, Last-Modified and 304s to conditional requests, as a
member's server would answer), on loopback only (``web.loopback``).  The tests reuse it wherever
they need feeds served as files rather than answers crafted by hand; the benchmark keeps its own
in-memory host (``bench/feedserver.py`` says why).
"""

from __future__ import annotations

from pathlib import Path

from aggregator.web.loopback import LoopbackServer
from aggregator.web.static import static_app


class LoopbackFeedServer(LoopbackServer):
    """The files under ``root``, at ``prefix`` on 127.0.0.1 (any free port unless ``port``)."""

    def __init__(self, root: Path, prefix: str = "/", port: int = 0) -> None:
        super().__init__(static_app(root, prefix), port)

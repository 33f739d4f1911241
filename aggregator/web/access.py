"""The access log of ``serve``: one line per answered request, and the request metrics.

aiohttp calls ``AccessLogger.log`` after each response.  The line goes to the
``aggregator.access`` logger at INFO (so it shares the format, text or JSON, and the ISO times
of every other line), with the fields also passed as ``extra`` for the JSON format.  The query
string is left out: links in digests carry signed tokens there, and a log is not the place to
keep them.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

ACCESS_LOGGER = "aggregator.access"


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        fields = {
            "remote": request.remote or "-",
            "method": request.method,
            "path": request.path,
            "status": response.status,
            # a file sent with sendfile is not counted by body_length: its length is declared
            "bytes": (
                response.content_length
                if response.content_length is not None
                else response.body_length
            ),
            "duration_ms": round(time * 1000, 1),
            "user_agent": request.headers.get("User-Agent", "-"),
        }
        self.logger.info(
            '%s "%s %s" %d %d %.1fms "%s"',
            *fields.values(),
            extra=fields,
        )


def access_logger() -> logging.Logger:
    return logging.getLogger(ACCESS_LOGGER)

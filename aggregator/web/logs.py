"""What ``serve`` writes to its log about requests that never became requests.

aiohttp logs a malformed request (a request line over 8 KiB, a header it cannot parse) with a
full traceback at ERROR level.  For an operator that is noise that looks like a crash: the client
already got its 400 and the server is fine.  This filter turns such records into one line naming
the client and the reason, at INFO.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import BadHttpMessage

SERVER_LOGGER = "aiohttp.server"
MAX_REASON_CHARS = 120


class OneLineBadRequests(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, BadHttpMessage):
            reason = " ".join(str(exc.message).split())[:MAX_REASON_CHARS]
            said = record.getMessage()
            record.msg, record.args = "%s (answered 400): %s", (said, reason)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def quiet_bad_requests() -> None:
    """Install the filter once on aiohttp's server logger."""
    logger = logging.getLogger(SERVER_LOGGER)
    if not any(isinstance(f, OneLineBadRequests) for f in logger.filters):
        logger.addFilter(OneLineBadRequests())

"""What every way a fetch can end means, as a ``FetchResult``'s fields.

A feed that answers 404, asks us to come back later, times out, resolves to a refused address
or sends a broken gzip stream is an outcome for the cycle to record, never an exception that
stops it.  Here each ending is classified: the final answer's status and validators, the delay a
``Retry-After`` asks for (clamped), and for every failure an ``ErrorKind`` (``timeout``,
``http_status``, ``refused``, ``too_large``…) with its parameters (the status, the limit, the
host), which each reader's language words, and one English sentence for logs and the CLI.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any

import aiohttp

from aggregator.clock import Clock
from aggregator.config import FetchSettings
from aggregator.ingest.fetch.connector import REFUSED_MARK
from aggregator.models import ErrorKind, ErrorParams, FetchRequest, FetchStatus

RETRY_AFTER_MIN_S = 60.0
RETRY_AFTER_MAX_S = 24 * 3600.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})


class FetchFailure(Exception):
    """A failure inside one fetch, turned into a value before it leaves ``Fetcher.fetch``."""

    def __init__(self, kind: ErrorKind, message: str, params: ErrorParams | None = None) -> None:
        self.kind = kind
        self.params: ErrorParams = params or {}
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Hop:
    """One HTTP exchange of a fetch (a redirect or the final answer)."""

    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def flatten_headers(headers: Any) -> dict[str, str]:
    """Response headers as a plain dict with lower-case names (repeats joined by ', ')."""
    flat: dict[str, str] = {}
    for name, value in headers.items():
        key = str(name).lower()
        flat[key] = f"{flat[key]}, {value}" if key in flat else str(value)
    return flat


def answer_fields(
    hop: Hop, request: FetchRequest, *, moved_to: str | None, clock: Clock
) -> tuple[FetchStatus, dict[str, Any]]:
    """The status and fields of a result from the final (non-redirect) answer.

    ``moved_to`` is the final URL when every redirect was permanent; ``clock`` is read only to
    turn a ``Retry-After`` date into seconds.  A 304 or an error keeps the request's validators,
    so the next conditional request still has them.
    """
    common: dict[str, Any] = {
        "http_status": hop.status,
        "headers": hop.headers,
        "content_type": hop.headers.get("content-type"),
    }
    if hop.status == 304:
        return FetchStatus.NOT_MODIFIED, {
            "permanent_url": moved_to,
            "etag": hop.headers.get("etag") or request.etag,
            "last_modified": hop.headers.get("last-modified") or request.last_modified,
            **common,
        }
    if 200 <= hop.status < 300:
        return FetchStatus.OK, {
            "permanent_url": moved_to,
            "body": hop.body if hop.body is not None else b"",
            "etag": hop.headers.get("etag"),
            "last_modified": hop.headers.get("last-modified"),
            **common,
        }
    gone = hop.status == 410
    retry = None
    if hop.status in (429, 503):
        retry = parse_retry_after(hop.headers.get("retry-after"), clock())
    return FetchStatus.GONE if gone else FetchStatus.ERROR, {
        "error": describe_status(hop.status),
        "error_kind": ErrorKind.GONE if gone else ErrorKind.HTTP_STATUS,
        "error_params": {"status": hop.status},
        "retry_after_s": retry,
        "etag": request.etag,
        "last_modified": request.last_modified,
        **common,
    }


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), clamped.

    The clamp to [1 minute, 1 day] keeps a hostile or confused server from either hammering us
    into a tight loop (``0``) or parking a source for a year.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, RETRY_AFTER_MIN_S), RETRY_AFTER_MAX_S)


def describe_status(code: int) -> str:
    """``HTTP 404 Not Found``: the status as a person reads it."""
    try:
        return f"HTTP {code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def size_text(n: int) -> str:
    """A byte count as a person reads it: ``512 bytes``, ``64 KiB``, ``5 MiB``."""
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g} MiB"
    return f"{n / 1024:g} KiB" if n >= 1024 else f"{n} bytes"


def _refusal_in(exc: BaseException) -> str | None:
    """The address-policy reason buried in an aiohttp connection error, if any."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        inner = getattr(current, "os_error", None)
        current = inner if isinstance(inner, BaseException) else current.__cause__
    for item in reversed(chain):  # the innermost error words it best
        text = item.strerror if isinstance(item, OSError) and item.strerror else str(item)
        if REFUSED_MARK in text:
            return text[text.index(REFUSED_MARK) + len(REFUSED_MARK) + 2 :].rstrip("]")
    return None


Failure = tuple[ErrorKind, str, ErrorParams]


def classify_error(exc: BaseException, settings: FetchSettings, url: str) -> Failure:
    """(kind, English message, parameters) for an exception raised while fetching ``url``."""
    refused = _refusal_in(exc)
    if refused is not None:
        return ErrorKind.REFUSED, f"refused: {refused}", {"url": url}
    timeout = _timeout(exc, settings)
    if timeout is not None:
        message, seconds = timeout
        return ErrorKind.TIMEOUT, message, {"seconds": seconds}
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return ErrorKind.TLS, f"TLS certificate problem: {exc.certificate_error}", {}
    if isinstance(exc, aiohttp.ClientSSLError):
        return ErrorKind.TLS, f"TLS error: {exc.os_error}", {}
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ErrorKind.DNS, f"could not resolve host {exc.host}", {"host": exc.host}
    if isinstance(exc, aiohttp.ClientResponseError):
        return ErrorKind.PROTOCOL, f"invalid HTTP response: {exc.message}", {}
    if isinstance(exc, zlib.error):
        return ErrorKind.ENCODING, f"could not decompress the body: {exc}", {}
    connection = _connection(exc)
    if connection is not None:
        return ErrorKind.CONNECTION, connection, {}
    return ErrorKind.INTERNAL, f"unexpected {type(exc).__name__}: {exc}", {}


def _timeout(exc: BaseException, settings: FetchSettings) -> tuple[str, float] | None:
    """The sentence and the limit of a timeout, or None when ``exc`` is not one."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        seconds = settings.connect_timeout_s
        return f"could not connect within {seconds:g} s", seconds
    if isinstance(exc, aiohttp.SocketTimeoutError):
        seconds = settings.read_timeout_s
        return f"no data received for {seconds:g} s", seconds
    if isinstance(exc, TimeoutError):
        seconds = settings.total_timeout_s
        return f"timed out after {seconds:g} s", seconds
    return None


def _connection(exc: BaseException) -> str | None:
    """The sentence of a connection that failed or broke off, or None when it is not one."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"could not connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the response body was cut short or malformed"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return f"connection error: {exc or type(exc).__name__}"
    return None

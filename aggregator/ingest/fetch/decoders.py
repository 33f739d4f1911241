"""A response body, decoded layer by layer, with its size limit counted after decompression.

A ``Content-Encoding: gzip`` body of a few hundred bytes can inflate to gigabytes, and
``gzip, gzip`` multiplies that again.  So the body is decoded here rather than by aiohttp, each
layer producing at most ``_PIECE`` bytes per step, and ``BoundedBody`` stops as soon as the
declared size, the bytes on the wire or the decoded bytes pass ``max_body_bytes``: a bomb costs
one limit's worth of memory, never more.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Any

from aggregator.ingest.fetch.outcome import FetchFailure, size_text
from aggregator.models import ErrorKind

_PIECE = 64 * 1024  # most bytes one decompression step may produce
_MAX_CODINGS = 3


class _Inflater:
    """One gzip or deflate layer that never produces more than ``_PIECE`` bytes per step."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._z: Any = None  # zlib's Decompress type is not exported

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._z is None or self._z.eof:
                if self._z is not None and not (self._gzip and data[:2] == b"\x1f\x8b"):
                    return  # trailing bytes after the stream: ignored, as browsers do
                self._z = zlib.decompressobj(self._wbits(data))
            out = self._z.decompress(data, _PIECE)
            data = self._z.unconsumed_tail or (self._z.unused_data if self._z.eof else b"")
            if out:
                yield out

    def flush(self) -> Iterator[bytes]:
        if self._z is not None and not self._z.eof:
            out = self._z.flush()
            if out:
                yield out

    def _wbits(self, head: bytes) -> int:
        if self._gzip:
            return 16 + zlib.MAX_WBITS
        # "deflate" should be zlib-wrapped; some servers send raw deflate instead.
        wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


class ContentDecoder:
    """The Content-Encoding stack, outermost layer first; an unknown coding is a failure."""

    def __init__(self, header: str | None) -> None:
        codings = [c.strip().lower() for c in (header or "").split(",")]
        codings = [c for c in codings if c and c != "identity"]
        unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate")]
        if unknown:
            raise FetchFailure(ErrorKind.ENCODING, f"unsupported Content-Encoding {unknown[0]!r}")
        if len(codings) > _MAX_CODINGS:
            message = f"too many Content-Encoding layers ({len(codings)})"
            raise FetchFailure(ErrorKind.ENCODING, message)
        self._layers = [_Inflater(c) for c in reversed(codings)]

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def flush(self) -> Iterator[bytes]:
        for index, layer in enumerate(self._layers):
            for piece in layer.flush():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._through(index + 1, piece)


class BoundedBody:
    """Collects a body chunk by chunk, raising ``FetchFailure(TOO_LARGE)`` past the limit.

    Three counts, checked in the order they become known: the declared Content-Length (before
    a byte is read), the bytes received, and the bytes they decode to.
    """

    def __init__(self, content_encoding: str | None, limit: int, declared: int | None) -> None:
        if declared is not None and declared > limit:
            message = f"body of {size_text(declared)} exceeds the {size_text(limit)} limit"
            raise FetchFailure(ErrorKind.TOO_LARGE, message, {"limit": limit})
        self._decoder = ContentDecoder(content_encoding)
        self._limit = limit
        self._parts: list[bytes] = []
        self._raw = 0
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        """Take one chunk as received from the network."""
        self._raw += len(chunk)
        if self._raw > self._limit:
            message = f"body exceeds the {size_text(self._limit)} limit"
            raise FetchFailure(ErrorKind.TOO_LARGE, message, {"limit": self._limit})
        self._collect(self._decoder.feed(chunk))

    def finish(self) -> bytes:
        """The whole decoded body, once the stream has ended."""
        self._collect(self._decoder.flush())
        return b"".join(self._parts)

    def _collect(self, pieces: Iterator[bytes]) -> None:
        for piece in pieces:
            self._size += len(piece)
            if self._size > self._limit:
                message = f"decoded body exceeds the {size_text(self._limit)} limit"
                raise FetchFailure(ErrorKind.TOO_LARGE, message, {"limit": self._limit})
            self._parts.append(piece)

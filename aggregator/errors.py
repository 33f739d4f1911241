"""The exception tree.

Exceptions are for the operator's mistakes and for failures that must stop a command.  A failing
*source* is not one of them: fetch and parse problems travel as values (``FetchResult.error``,
``UpdateOutcome.error``) so that one broken feed never stops a cycle.

::

    AggregatorError
     ├── ConfigError            feeds.yaml is unreadable or invalid (names file, line, field)
     ├── FeedError              one document could not be turned into posts
     │    ├── FetchError        network, HTTP status, limits
     │    │    └── RefusedURLError   the address checks said no (SSRF guard)
     │    └── ParseError        not a feed, or a feed we refuse to parse
     ├── StorageError           the database is unusable or its schema is too new
     │    └── LockedError       another process holds the cycle lock
     ├── DeliveryError          an email could not be built or sent
     └── OutputError            a file could not be written (full disk, read-only directory);
                                also an OSError, for callers that expect one
"""

from __future__ import annotations

MAX_ERROR_CHARS = 300


def one_line(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """A message as people meet it in a table, a log line or an email: one line (controls and
    line breaks become spaces), at most ``limit`` characters, cut with an ellipsis.

    Every per-source error goes through this before it is stored or shown, so no server's
    answer, however long or strange, can flood the CLI, the log, the store or ``/sources``."""
    flat = " ".join("".join(" " if ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029"
                            else c for c in text).split())  # fmt: skip
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


class AggregatorError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(AggregatorError):
    """``feeds.yaml`` is invalid.  ``problems`` holds one readable line per mistake."""

    def __init__(self, path: str, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__("\n".join(problems) if problems else path)


class FeedError(AggregatorError):
    """A document (or its URL) could not be turned into posts."""


class FetchError(FeedError):
    def __init__(self, message: str, kind: str = "fetch") -> None:
        self.kind = kind
        super().__init__(message)


class RefusedURLError(FetchError):
    """The URL's scheme, host or resolved address is not allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, kind="refused")


class ParseError(FeedError):
    def __init__(self, message: str, kind: str = "parse") -> None:
        self.kind = kind
        super().__init__(message)


class StorageError(AggregatorError):
    """``transient``: the database could not be reached (a restart, a network cut); the same
    operation may well succeed in a moment, so a patient caller waits and tries again."""

    transient = False


class LockedError(StorageError):
    pass


class DeliveryError(AggregatorError):
    pass


class OutputError(AggregatorError, OSError):
    """A published file, a preview or a cache could not be written: which and why, one line."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.reason}"

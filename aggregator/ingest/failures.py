"""A parse failure as an error kind and its parameters, read from the outside of the parser.

What enters: a ``ParseError`` (its ``kind``: ``empty``, ``not_a_feed``, ``hostile``,
``invalid``, and its English message).  What leaves: the ``ErrorKind`` stored with the source
and the few parameters a reader's sentence needs (the feeds an HTML page advertises, the
selector of a listing that matched nothing, the size limit of a document too large).

Why here and not in the parser: the parser is one English sentence per failure, and it is
being split into a package; reading its kind and its stable message prefixes keeps the two
apart.  A message this module does not recognise still gets its kind, without parameters, so
a reader always sees a sentence in their language.
"""

from __future__ import annotations

import re

from aggregator.errors import ParseError
from aggregator.models import ErrorKind, ErrorParams

__all__ = ["MAX_LISTED_FEEDS", "parse_failure"]

#: The advertised feeds kept in the parameters: enough to act on, small enough to store.
MAX_LISTED_FEEDS = 3

_KINDS = {
    "empty": ErrorKind.EMPTY,
    "not_a_feed": ErrorKind.NOT_A_FEED,
    "hostile": ErrorKind.HOSTILE,
    "invalid": ErrorKind.INVALID,
}
_ADVERTISES = "this is an HTML page; it advertises "
_NO_FEED = "this is an HTML page and it advertises no feed"
_NOT_WELL_FORMED = "feed is not well-formed XML"
_SELECTOR = re.compile(r"no item on the page matches the selector (['\"])(.*)\1$")
_TOO_LARGE = re.compile(r"^(?:document|listing page) too large \(\d+ bytes(?:, limit (\d+))?\)")


def parse_failure(exc: ParseError) -> tuple[ErrorKind, ErrorParams]:
    """The kind of a parse failure and its parameters (see the module docstring)."""
    message = str(exc)
    too_large = _TOO_LARGE.match(message)
    if too_large is not None:
        limit = too_large.group(1)
        return ErrorKind.TOO_LARGE, {"limit": int(limit)} if limit else {}
    kind = _KINDS.get(exc.kind, ErrorKind.INVALID)
    if kind is ErrorKind.NOT_A_FEED:
        return kind, _not_a_feed_params(message)
    if kind is ErrorKind.INVALID and _NOT_WELL_FORMED in message:
        return kind, {"xml": "not_well_formed"}
    return kind, {}


def _not_a_feed_params(message: str) -> ErrorParams:
    if _ADVERTISES in message:
        listed = message.split(_ADVERTISES, 1)[1].split(", ")
        return {"page": "html", "feeds": tuple(listed[:MAX_LISTED_FEEDS])}
    if _NO_FEED in message:
        return {"page": "html"}
    selector = _SELECTOR.search(message)
    if selector is not None:
        return {"selector": selector.group(2)}
    return {}

"""The sources a cycle fetches, read from the store a page at a time.

A cycle over 35,000 sources used to read every source's state at its start and hold them all
until its end: most of its memory, for states each needed for a few milliseconds.  Here they
come in keyset pages (``id > last``, ``SOURCE_PAGE`` rows), each read when the previous one has
been handed out, and a source's state is dropped once its update is written.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from aggregator.models import Source, SourceState
from aggregator.store.protocol import Store

# Sources read from the store at a time (keyset pages): the states a cycle holds at once.
SOURCE_PAGE = 500
# Longest ``only`` given to the store as a list of ids; a longer one filters the pages.
ONLY_IN_QUERY = 500


def due_sources(
    store: Store,
    due_at: datetime | None,
    only: Sequence[str] | None,
    *,
    page: int | None = None,
) -> Iterator[tuple[Source, SourceState]]:
    """Every source the cycle fetches with its state, read ``page`` (default ``SOURCE_PAGE``)
    at a time by id.

    Keyset pages (``id > last``), not one read of every state: 35,000 sources' states held for
    a whole cycle were most of its memory.  A page's rows are read when the previous page is
    handed out, so a source updated meanwhile is read with its fresh state or not at all
    (every id comes once).
    """
    size = page or SOURCE_PAGE
    asked, wanted = only_in_query(only)
    after: str | None = None
    while True:
        rows = store.due_sources(after, size, due_at=due_at, only=asked)
        yield from (row for row in rows if wanted is None or row[0].id in wanted)
        if len(rows) < size:
            return
        after = rows[-1][0].id


def only_in_query(
    only: Sequence[str] | None,
) -> tuple[Sequence[str] | None, frozenset[str] | None]:
    """``only`` as the store's filter when short, else as a set the pages are filtered by.

    A queue bucket names thousands of sources; as ``id IN (…)`` that is one bound value each,
    in every page's query, past SQLite's and PostgreSQL's limits on bound values.
    """
    if not only or len(only) <= ONLY_IN_QUERY:
        return only, None
    return None, frozenset(only)

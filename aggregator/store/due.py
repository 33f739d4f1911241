"""The sources a cycle fetches, read from the store a batch at a time.

A cycle over 35,000 sources used to read every source's state at its start and hold them all
until its end: most of its memory, for states each needed for a few milliseconds.  Here the
configured ids are walked in ``feeds.yaml`` order, ``BATCH`` at a time, and each batch's
sources are read with their state when the previous batch has been handed out; a source's
state is dropped once its update is written.  The order is the configuration's, as before:
when two members publish one story in the same cycle, which of them holds it and which becomes
its alias follows that order, and readers see the same result as before.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from aggregator.models import Source, SourceState
from aggregator.store.protocol import Store

# Sources read from the store at a time: the states a cycle holds at once.
BATCH = 500


def due_sources(
    store: Store,
    ids: Sequence[str],
    due_at: datetime | None,
    *,
    batch: int | None = None,
) -> Iterator[tuple[Source, SourceState]]:
    """Those of ``ids`` a cycle fetches (``Store.due_sources``), with their state, in the order
    of ``ids``, read ``batch`` (default ``BATCH``) at a time.

    A source updated meanwhile is read with its fresh state or not at all: each id comes once.
    """
    size = batch or BATCH
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        found = {pair[0].id: pair for pair in store.due_sources(chunk, due_at=due_at)}
        yield from (found[i] for i in chunk if i in found)

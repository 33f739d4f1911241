"""Driver SQL: the cycle's bulk writes and per-source lookups, sent to the driver as they are.

A speed path beside its reference.  The reference is SQLAlchemy Core (the typed statements in
``posts.py`` and ``sources.py``); here the same statements are spelled once as SQL text with the
driver's positional markers and executed with ``exec_driver_sql`` or a raw cursor, which skips
SQLAlchemy's compilation and per-value type processing: most of a cold cycle's CPU in the parent
process went there (docs/performance.md, "store").  Stored values are byte-identical either way
(``tests/test_store_speed.py`` compares them, and ``tests/test_store_driver.py`` compares a whole
cycle's store with the switch on and off).

The one switch: ``AGGREGATOR_DRIVER_SQL=0`` (read at import) makes ``placeholder`` answer None,
and every caller then takes the SQLAlchemy path, as it does for a driver with another style.
"""

from __future__ import annotations

import os
from functools import lru_cache

from sqlalchemy import Dialect, Table

ENABLED = os.environ.get("AGGREGATOR_DRIVER_SQL", "1") != "0"
_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def placeholder(dialect: Dialect) -> str | None:
    """The driver's positional parameter marker, or None: use SQLAlchemy's statements."""
    if not ENABLED:
        return None
    return _MARKERS.get(dialect.paramstyle)


@lru_cache(maxsize=1024)
def marks(mark: str, count: int) -> str:
    """``count`` markers for an IN list or a VALUES tuple."""
    return ", ".join([mark] * count)


@lru_cache(maxsize=8)
def insert_sql(dialect: Dialect, table: Table, names: tuple[str, ...], mark: str) -> str:
    quote = dialect.identifier_preparer
    columns = ", ".join(quote.format_column(table.c[name]) for name in names)
    return f"INSERT INTO {quote.format_table(table)} ({columns}) VALUES ({marks(mark, len(names))})"


@lru_cache(maxsize=8)
def update_by_id_sql(dialect: Dialect, table: Table, names: tuple[str, ...], mark: str) -> str:
    """``UPDATE table SET name = ?, … WHERE id = ?``: the values in ``names`` order, then the id."""
    quote = dialect.identifier_preparer
    sets = ", ".join(f"{quote.format_column(table.c[name])} = {mark}" for name in names)
    return f"UPDATE {quote.format_table(table)} SET {sets} WHERE id = {mark}"

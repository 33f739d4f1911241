"""Storage: SQLite by default, PostgreSQL through the same code.

Everything outside this package talks to storage through the ``Store`` Protocol
(``aggregator.store.protocol``) and gets one from :func:`open_store`; SQLAlchemy and Alembic are
imported nowhere else.

Enters: frozen records (``SourceUpdate``, ``EditionRecord``, submissions, locks).  Leaves: frozen
records (``SourceState``, ``Post``, ``StoryKey``...), never rows.  Each source's update is one
transaction; Alembic migrations run when a store opens.  ``due.due_sources`` reads the sources
a cycle fetches a batch at a time, so no caller holds every source's state at once.
"""

from __future__ import annotations

from aggregator.store.engine import SCHEMA_VERSION, create_store_engine, migrate
from aggregator.store.protocol import Store
from aggregator.store.sql import SqlStore

__all__ = ["SCHEMA_VERSION", "SqlStore", "Store", "open_store"]


def open_store(url: str) -> SqlStore:
    """Connect to ``url``, migrate it to the current schema, and return the store.

    ``url`` is a SQLAlchemy URL: ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or
    ``postgresql+psycopg://user:password@host/db`` (a bare ``postgresql://`` means psycopg 3).
    Raises ``StorageError`` when the database cannot be opened or was written by a newer
    release of the aggregator.
    """
    engine = create_store_engine(url)
    try:
        migrate(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine)

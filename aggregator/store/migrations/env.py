"""Alembic's entry point, run by ``open_store`` (never by the ``alembic`` command line).

``open_store`` hands over an open connection inside its own transaction (and, on PostgreSQL, an
advisory lock), so two processes starting at once cannot both migrate.  There is no
``alembic.ini`` and no logging set-up here: the application owns logging.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from aggregator.store.schema import metadata


def run_migrations(connection: Connection) -> None:
    # render_as_batch lets future revisions alter tables on SQLite (copy-and-move) with the
    # same operations that PostgreSQL runs directly.
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError("migrations run only through aggregator.store.open_store()")
run_migrations(_connection)

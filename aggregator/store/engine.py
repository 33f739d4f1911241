"""Opening a database: the engine, SQLite's settings, and migrating to the code's schema.

Two backends share one code path: SQLite (the default, a file beside ``feeds.yaml``) and
PostgreSQL through psycopg 3.  Anything else is refused up front rather than half working.

SQLite is set up for a cron job, a scheduler and a web server touching one file at once: WAL
(readers never block the writer), ``synchronous=NORMAL`` (safe with WAL, no fsync per commit),
foreign keys on, and a busy timeout so a second writer waits instead of failing.  pysqlite's own
transaction handling is switched off so that we emit ``BEGIN`` ourselves: writes take
``BEGIN IMMEDIATE``, which reserves the write lock up front and so avoids the "database is
locked" failure SQLite returns when a read transaction later tries to write.

A new SQLite file gets 16 KiB pages (``PAGE_SIZE``, decision 33) instead of 4 KiB: a post's
row, its content included, is about 4 KB, just over what a 4 KiB page holds, so each spilled
onto an overflow page of its own; with larger pages rows share pages and the many indexes on
posts split less.  Writing a cold cycle's 20,000 posts costs about a fifth less CPU (1.6-2.0 s
against 1.4-1.6 s, interleaved) for a store 5 % larger.  The setting only takes effect before
the file's first table: existing stores keep their pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from aggregator.errors import StorageError
from aggregator.store.schema import metadata

#: The Alembic revision this code writes and reads.  A database at a revision the code does not
#: know (written by a newer release) is refused instead of being misread.
SCHEMA_VERSION = "0011"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 15_000
PAGE_SIZE = 16_384  # bytes; see the module docstring
WRITE_OPTION = "aggregator_write"  # execution option: this connection will write
_PG_MIGRATION_LOCK = 0x61676772  # pg_advisory_xact_lock key held while migrating ("aggr")


def create_store_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL, with the settings described above."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite_engine(parsed)
        if backend == "postgresql":
            if parsed.drivername == "postgresql":  # the bare scheme means psycopg 3 here
                parsed = parsed.set(drivername="postgresql+psycopg")
            return create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:
        raise StorageError(
            f"no database driver for {parsed.drivername}: {exc}; for PostgreSQL install "
            "the 'postgres' extra (psycopg 3)"
        ) from exc
    raise StorageError(
        f"unsupported database {parsed.drivername!r}: use sqlite:///path or "
        "postgresql+psycopg://user@host/db"
    )


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise StorageError(f"invalid storage URL {url!r}: {exc}") from exc


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    if database in ("", ":memory:"):
        # One shared in-memory database: every connection must be the same one.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        if not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see module docstring)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # a no-op once the file holds a table; before WAL, which fixes the page size too
        cursor.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # Every read begins so (a cycle: one per source); SQLAlchemy's statement machinery cost
    # several times SQLite's work here.  A deferred BEGIN takes no lock, so it cannot wait
    # or fail for another connection; should it fail at all, the retry below reports it as
    # every other database error is reported.
    try:
        conn.connection.driver_connection.execute("BEGIN")  # type: ignore[union-attr]
    except sqlite3.Error:
        conn.exec_driver_sql("BEGIN")


@contextmanager
def translate_errors(
    action: str, driver_error: type[Exception] = SQLAlchemyError
) -> Iterator[None]:
    """Turn a driver or SQLAlchemy failure into a StorageError that names what we were doing.

    ``driver_error``: the driver's own base exception, where the driver is used directly.
    """
    try:
        yield
    except (SQLAlchemyError, driver_error) as exc:
        detail = (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0]
        error = StorageError(f"database error while {action}: {detail}")
        error.transient = unreachable(exc)
        raise error from exc


def unreachable(exc: BaseException) -> bool:
    """Whether the error says the server could not be reached or dropped the connection (as
    opposed to a refusal of the statement: a constraint, a full disk, a locked SQLite file)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DisconnectionError):
        return True
    original = getattr(exc, "orig", exc)
    module = type(original).__module__
    return module.startswith("psycopg") and type(original).__name__ in _PG_UNREACHABLE


_PG_UNREACHABLE = frozenset({"OperationalError", "InterfaceError", "AdminShutdown"})


def migrate(engine: Engine) -> None:
    """Bring the database to the code's schema, or refuse one written by a newer release.

    The revision is first read without a write lock: on SQLite, taking the write lock to learn
    that nothing needs doing made every command (``digest list``, ``serve``'s first request)
    wait behind a running cycle and fail after the busy timeout.  Only a database that needs
    migrating is locked, and it is checked again under the lock.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    script = ScriptDirectory.from_config(config)
    with translate_errors("reading the schema revision"), engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    _refuse_unknown(current, script)
    if current == set(script.get_heads()):
        return
    with (
        translate_errors("migrating the schema"),
        engine.connect().execution_options(**{WRITE_OPTION: True}) as conn,
        conn.begin(),
    ):
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        current = set(MigrationContext.configure(conn).get_current_heads())
        _refuse_unknown(current, script)
        if current != set(script.get_heads()):
            config.attributes["connection"] = conn
            command.upgrade(config, "head")


def _refuse_unknown(current: set[str], script: ScriptDirectory) -> None:
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        raise StorageError(
            f"the database schema is at revision {', '.join(unknown)}, newer than this "
            f"version of the aggregator knows (up to {SCHEMA_VERSION}); upgrade the "
            "aggregator or point it at another database"
        )


def schema_drift(engine: Engine) -> list[str]:
    """Differences between the live tables and ``schema.metadata``; empty when they agree.

    Tables that are not ours (APScheduler's job store shares the database) are ignored.
    """

    def ours(name: str | None, kind: str, _parent: Any) -> bool:
        return kind != "table" or name in metadata.tables

    with translate_errors("comparing the schema"), engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": ours}
        )
        return [repr(diff) for diff in compare_metadata(context, metadata)]


def current_revision(engine: Engine) -> str | None:
    """The revision stamped in the database (for ``aggregator doctor`` style reports)."""
    with translate_errors("reading the schema revision"), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

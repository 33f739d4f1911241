"""A SQLite store at the current schema without running Alembic for each test.

Migrating a new SQLite file walks every revision through Alembic: about 50 ms of CPU, paid by
some two hundred tests of the quick loop.  Here the migrations run once per test process, into
a template file, and each test that wants an empty store at head gets a copy of that file
(under a millisecond).  The copy is what ``open_store`` would have built: same tables, same
``alembic_version``, WAL mode recorded in the file.

Tests about migrating itself (an empty file, or one left at an older revision) do not use this:
they open or upgrade their own file, as an operator's first run would.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import make_url

from aggregator.store import SqlStore, open_store


def migrated_sqlite(path: Path) -> str:
    """Put an empty database at the code's schema at ``path``; its ``sqlite:///`` URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), path)
    return f"sqlite:///{path}"


def open_migrated(path: Path) -> SqlStore:
    """``open_store`` on a copy of the template at ``path`` (its check finds nothing to do)."""
    return open_store(migrated_sqlite(path))


def at_head(url: str) -> str:
    """``url`` itself, its SQLite file first made a copy of the template if it does not exist
    yet (what ``open_store`` would have created there); any other database is left alone."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:"):
        path = Path(database)
        if not database.startswith("file:") and not path.exists():
            migrated_sqlite(path)
    return url


@functools.cache
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="aggregator-test-store-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite3"
    open_store(f"sqlite:///{path}").close()
    # closed, the last connection folded the write-ahead log into the file: it stands alone
    leftovers = sorted(p.name for p in folder.iterdir() if p != path)
    assert not leftovers, f"the template store left {leftovers} beside it"
    return path

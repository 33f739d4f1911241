"""New SQLite stores get 16 KiB pages (decision 33); an existing store keeps its own."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from aggregator.store import open_store
from aggregator.store.engine import PAGE_SIZE


def _page_size(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_store_has_large_pages_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    open_store(f"sqlite:///{path}").close()
    assert _page_size(path) == PAGE_SIZE == 16_384
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_existing_store_keeps_its_pages_and_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # a file made before: 4 KiB pages, WAL
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE leftover (x)")
    assert _page_size(path) == 4096
    store = open_store(f"sqlite:///{path}")
    try:
        assert store.count_posts() == 0  # migrated and usable
    finally:
        store.close()
    assert _page_size(path) == 4096

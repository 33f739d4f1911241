"""The store's side of the staff console: accounts, audit log, takedowns, edition curation.

``ConsoleStore`` is the part of the Store Protocol the console adds; ``ConsoleMethods`` is its
implementation, mixed into ``SqlStore`` so one object (one pool, one transaction rule) serves
both.  Each staff action and its audit entry are written in one transaction: the log never
misses an action that happened, nor records one that did not.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from aggregator.models import Post
from aggregator.store import curation as _curation
from aggregator.store import posts as _posts
from aggregator.store import search as _search
from aggregator.store import staff as _staff
from aggregator.store import takedowns as _takedowns
from aggregator.store.curation import Curation
from aggregator.store.staff import Account, AuditEntry, Bounce
from aggregator.store.takedowns import Hidden, PostQuery, SourceHold

__all__ = ["ConsoleMethods", "ConsoleStore"]


class ConsoleStore(Protocol):
    # --- accounts ---------------------------------------------------------------------------
    def add_account(
        self, email: str, role: str, password_hash: str, language: str, now: datetime
    ) -> int | None:
        """The new account's id; None when that address has an account already."""

    def find_account(
        self, *, email: str | None = None, ident: int | None = None
    ) -> Account | None: ...

    def list_accounts(self) -> list[Account]: ...

    def record_login_failure(
        self, ident: int, expected_failures: int, locked_until: datetime | None
    ) -> bool:
        """``failures`` + 1 if it still is ``expected_failures``; False if it moved meanwhile."""

    def record_login(self, ident: int, now: datetime, new_hash: str | None = None) -> None: ...

    def update_account(
        self, ident: int, entry: AuditEntry | None = None, **values: Any
    ) -> bool: ...

    def remove_account(self, ident: int, entry: AuditEntry) -> bool: ...

    # --- audit ------------------------------------------------------------------------------
    def audit(self, entry: AuditEntry) -> None: ...

    def audit_entries(
        self, target: str | None = None, limit: int = 100, kind: str | None = None
    ) -> list[AuditEntry]: ...

    def bounces(self, edition_id: str | None = None, limit: int = 20) -> list[Bounce]:
        """Bounces and complaints on the subscriber list, newest first (of one edition)."""

    # --- takedowns --------------------------------------------------------------------------
    def hide_post(self, post_id: str, entry: AuditEntry) -> bool: ...

    def unhide_post(self, post_id: str, entry: AuditEntry) -> bool: ...

    def hidden_posts(self) -> dict[str, Hidden]: ...

    def hold_source(self, source_id: str, state: str, entry: AuditEntry) -> None: ...

    def release_source(self, source_id: str, entry: AuditEntry) -> bool: ...

    def source_holds(self) -> dict[str, SourceHold]: ...

    def find_posts(self, query: PostQuery) -> list[Post]: ...

    # --- curation ---------------------------------------------------------------------------
    def get_curation(self, issue: str) -> Curation | None: ...

    def save_curation(self, curation: Curation, entry: AuditEntry | None = None) -> None: ...

    def due_curations(self, now: datetime) -> list[Curation]: ...


class ConsoleMethods:
    """``ConsoleStore`` over the ``SqlStore`` plumbing (``_write``, ``_read``)."""

    def _write(self, action: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # SqlStore's

    def _read(self, action: str) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # SqlStore's

    # --- accounts ---------------------------------------------------------------------------
    def add_account(
        self, email: str, role: str, password_hash: str, language: str, now: datetime
    ) -> int | None:
        with self._write("adding a staff account") as conn:
            if _staff.find_account(conn, email=email) is not None:
                return None
            return _staff.add_account(conn, email, role, password_hash, language, now)

    def find_account(self, *, email: str | None = None, ident: int | None = None) -> Account | None:
        with self._read("reading a staff account") as conn:
            return _staff.find_account(conn, email=email, ident=ident)

    def list_accounts(self) -> list[Account]:
        with self._read("listing staff accounts") as conn:
            return _staff.list_accounts(conn)

    def record_login_failure(
        self, ident: int, expected_failures: int, locked_until: datetime | None
    ) -> bool:
        with self._write("counting a wrong password") as conn:
            return _staff.record_failure(conn, ident, expected_failures, locked_until)

    def record_login(self, ident: int, now: datetime, new_hash: str | None = None) -> None:
        with self._write("recording a login") as conn:
            _staff.record_login(conn, ident, now, new_hash)

    def update_account(self, ident: int, entry: AuditEntry | None = None, **values: Any) -> bool:
        with self._write("changing a staff account") as conn:
            changed = _staff.update_account(conn, ident, **values)
            if changed and entry is not None:
                _staff.audit(conn, entry)
            return changed

    def remove_account(self, ident: int, entry: AuditEntry) -> bool:
        with self._write("removing a staff account") as conn:
            removed = _staff.remove_account(conn, ident)
            if removed:
                _staff.audit(conn, entry)
            return removed

    # --- audit ------------------------------------------------------------------------------
    def audit(self, entry: AuditEntry) -> None:
        with self._write("writing the audit log") as conn:
            _staff.audit(conn, entry)

    def audit_entries(
        self, target: str | None = None, limit: int = 100, kind: str | None = None
    ) -> list[AuditEntry]:
        with self._read("reading the audit log") as conn:
            return _staff.audit_entries(conn, target, limit, kind)

    def bounces(self, edition_id: str | None = None, limit: int = 20) -> list[Bounce]:
        with self._read("reading bounces") as conn:
            return _staff.bounces(conn, edition_id, limit)

    # --- takedowns --------------------------------------------------------------------------
    def hide_post(self, post_id: str, entry: AuditEntry) -> bool:
        with self._write(f"hiding post {post_id}") as conn:
            done = _takedowns.hide_post(conn, post_id, entry.actor, entry.reason, entry.at)
            if done:
                _staff.audit(conn, entry)
                _search.unindex(conn, [post_id])  # out of every search at once
            return done

    def unhide_post(self, post_id: str, entry: AuditEntry) -> bool:
        with self._write(f"showing post {post_id} again") as conn:
            done = _takedowns.unhide_post(conn, post_id)
            if done:
                _staff.audit(conn, entry)
                _search.index(conn, _posts.posts_by_ids(conn, [post_id]))
            return done

    def hidden_posts(self) -> dict[str, Hidden]:
        with self._read("reading hidden posts") as conn:
            return _takedowns.hidden(conn)

    def hold_source(self, source_id: str, state: str, entry: AuditEntry) -> None:
        with self._write(f"holding source {source_id}") as conn:
            _takedowns.hold_source(conn, source_id, state, entry.actor, entry.at)
            _staff.audit(conn, entry)

    def release_source(self, source_id: str, entry: AuditEntry) -> bool:
        with self._write(f"restoring source {source_id}") as conn:
            done = _takedowns.release_source(conn, source_id)
            if done:
                _staff.audit(conn, entry)
            return done

    def source_holds(self) -> dict[str, SourceHold]:
        with self._read("reading held sources") as conn:
            return _takedowns.holds(conn)

    def find_posts(self, query: PostQuery) -> list[Post]:
        with self._read("searching posts") as conn:
            return _takedowns.find_posts(conn, query)

    # --- curation ---------------------------------------------------------------------------
    def get_curation(self, issue: str) -> Curation | None:
        with self._read(f"reading the curation of {issue}") as conn:
            return _curation.get_curation(conn, issue)

    def save_curation(self, curation: Curation, entry: AuditEntry | None = None) -> None:
        with self._write(f"saving the curation of {curation.issue}") as conn:
            _curation.save_curation(conn, curation)
            if entry is not None:
                _staff.audit(conn, entry)

    def due_curations(self, now: datetime) -> list[Curation]:
        with self._read("reading scheduled editions") as conn:
            return _curation.due_curations(conn, now)

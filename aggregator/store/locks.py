"""Named locks in the database, so that a cron job, the scheduler and a manual run never run
the same cycle at once, on one machine or (with PostgreSQL) several.

A lock row records who holds it and until when.  It is taken over when its time is up, or
when it was taken on this very host by a process that no longer exists (a run killed with -9
should not block the next one for a whole TTL).  A holder on another host is trusted until
its TTL ends: we cannot see its processes.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from aggregator.store.schema import locks, to_utc

_ATTEMPTS = 3  # a holder may release between our INSERT and our SELECT: try again


def this_host() -> str:
    return socket.gethostname()


def pid_alive(pid: int) -> bool:
    """Whether a process with that id exists here.  Unsure means alive: never steal wrongly."""
    if pid <= 0:  # os.kill(0, …) would signal our own process group
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists but belongs to someone else
        return True
    return True


def _insert_if_absent(conn: Connection, values: dict[str, Any]) -> bool:
    """INSERT … ON CONFLICT DO NOTHING; whether a row went in (read back through RETURNING,
    since drivers differ on rowcount for this statement)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(locks).values(values).on_conflict_do_nothing().returning(locks.c.name)
    )
    return conn.execute(statement).first() is not None


def _stale(row: Row[Any], now: datetime, host: str) -> bool:
    if row.expires <= now:
        return True
    return row.host == host and row.pid is not None and not pid_alive(int(row.pid))


def describe(row: Row[Any]) -> str:
    since = row.acquired.strftime("%Y-%m-%d %H:%M:%S UTC")
    until = row.expires.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"held by pid {row.pid} on host {row.host} since {since} "
        f"(owner {row.owner}, expires {until})"
    )


def acquire_lock(
    conn: Connection,
    name: str,
    owner: str,
    now: datetime,
    ttl_s: float,
    *,
    pid: int,
    host: str,
) -> str | None:
    """Take the lock or describe its holder.  Every write is conditional, so two processes
    racing for a free or stale lock cannot both win."""
    now = to_utc(now)
    values = {
        "name": name,
        "owner": owner,
        "pid": pid,
        "host": host,
        "acquired": now,
        "expires": now + timedelta(seconds=ttl_s),
    }
    holder = "held by another process"
    for _ in range(_ATTEMPTS):
        if _insert_if_absent(conn, values):
            return None
        row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is None:
            continue  # released in between: try the INSERT again
        if not _stale(row, now, host):
            return describe(row)
        taken = conn.execute(
            update(locks)
            .where(
                and_(
                    locks.c.name == name,
                    locks.c.owner == row.owner,
                    locks.c.acquired == row.acquired,
                )
            )
            .values(values)
        )
        if taken.rowcount == 1:
            return None
        holder = "taken over by another process just now"
    return holder


def renew_lock(conn: Connection, name: str, owner: str, now: datetime, ttl_s: float) -> bool:
    """Push the holder's expiry ``ttl_s`` past ``now``; False if ``owner`` no longer holds it."""
    renewed = conn.execute(
        update(locks)
        .where(locks.c.name == name, locks.c.owner == owner)
        .values(expires=to_utc(now) + timedelta(seconds=ttl_s))
    )
    return renewed.rowcount == 1


def release_lock(conn: Connection, name: str, owner: str) -> None:
    conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == owner))


def held_since(conn: Connection, name: str, now: datetime, host: str) -> datetime | None:
    """When the named lock's live holder took it, or None when it is free or stale."""
    row = conn.execute(select(locks).where(locks.c.name == name)).one_or_none()
    if row is None or _stale(row, now, host):
        return None
    acquired: datetime = row.acquired
    return acquired

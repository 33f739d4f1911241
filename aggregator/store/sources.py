"""Source rows: the operator's configuration and the state the update cycle keeps beside it.

One row per source holds both halves, so a fetch reads everything it needs in one query.  The
configuration half is rewritten from ``feeds.yaml`` on every sync; the state half is written
only by the update cycle (``write_state``), except where a configuration change makes the old
state meaningless (a new URL).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import false as false_
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from aggregator.models import ErrorKind, ErrorParams, ScrapeRules, Source, SourceState
from aggregator.store.driver import placeholder, update_by_id_sql
from aggregator.store.schema import StoredTime, UTCDateTime, source_holds, sources, stored_time

STATE_FIELDS = (
    "url",
    "etag",
    "last_modified",
    "body_hash",
    "last_fetch",
    "last_success",
    "last_error",
    "last_error_kind",
    "last_error_params",
    "last_error_at",
    "failing_since",
    "consecutive_failures",
    "next_fetch",
    "gone",
    "entries_seen",
    "title",
    "link",
)

# What a changed URL (or a source switched back on) starts again from: nothing cached, not
# gone, not failing, due now.  History (last_success, entries_seen, title) is kept.
_FRESH_FETCH: dict[str, Any] = {
    "etag": None,
    "last_modified": None,
    "body_hash": None,
    "gone": False,
    "consecutive_failures": 0,
    "failing_since": None,
    "next_fetch": None,
}


def _config_values(source: Source) -> dict[str, Any]:
    scrape = source.scrape
    return {
        "name": source.name,
        "organisation": source.organisation,
        "config_url": source.url,
        "homepage": source.homepage,
        "language": source.language,
        "tags": json.dumps(list(source.tags), ensure_ascii=False),
        "enabled": source.enabled,
        "kind": source.kind,
        "scrape": None if scrape is None else json.dumps(_scrape_dict(scrape), ensure_ascii=False),
        "day_first": source.day_first,
        "contact": source.contact,
        "configured": True,
    }


def _scrape_dict(rules: ScrapeRules) -> dict[str, str | None]:
    return {
        "item": rules.item,
        "title": rules.title,
        "link": rules.link,
        "date": rules.date,
        "date_format": rules.date_format,
        "tags": rules.tags,
        "excerpt": rules.excerpt,
    }


def _scrape_rules(text: str | None) -> ScrapeRules | None:
    if not text:
        return None
    data = json.loads(text)
    return ScrapeRules(
        item=data["item"],
        title=data.get("title"),
        link=data.get("link"),
        date=data.get("date"),
        date_format=data.get("date_format") or "%d/%m/%Y",
        tags=data.get("tags"),
        excerpt=data.get("excerpt"),
    )


_CONFIG_COLUMNS = tuple(_config_values(Source(id="", name="", organisation="", url="")))


def sync_sources(conn: Connection, configured: Sequence[Source]) -> None:
    """Make rows match the configuration; see ``Store.sync_sources`` for the rules.

    A row whose configuration is unchanged is not rewritten (a cycle syncs every source, and
    one UPDATE each was most of a cycle where every feed answers 304); the others are written
    with one statement per set of columns.
    """
    columns = [sources.c.id, sources.c.url, *(sources.c[name] for name in _CONFIG_COLUMNS)]
    existing = {row.id: row for row in conn.execute(select(*columns))}
    fresh: list[dict[str, Any]] = []
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for source in configured:
        values = _config_values(source)
        old = existing.get(source.id)
        if old is None:
            fresh.append({"id": source.id, "url": source.url, **values, **_FRESH_FETCH})
            continue
        if old.config_url != source.url:
            values.update(_FRESH_FETCH, url=source.url)
        elif source.enabled and not (old.enabled and old.configured):
            values.update(_FRESH_FETCH)  # switched back on: retry even a source that was gone
        elif _unchanged(old, values):
            continue
        changed.setdefault(tuple(values), []).append({"_id": source.id, **values})
    for names, rows in changed.items():
        statement = (
            update(sources)
            .where(sources.c.id == bindparam("_id"))
            .values({name: bindparam(name) for name in names})
        )
        conn.execute(statement, rows)
    if fresh:
        conn.execute(insert(sources), fresh)
    absent = set(existing) - {s.id for s in configured}
    if absent:
        conn.execute(
            update(sources).where(sources.c.id.in_(sorted(absent))).values(configured=False)
        )


def _unchanged(old: Row[Any], values: dict[str, Any]) -> bool:
    """The stored configuration columns equal ``values`` (in ``_CONFIG_COLUMNS`` order).

    One tuple comparison: a cycle syncs every source, and the column-by-column comparison
    was a second per 10,000 sources.  SQLite's 0/1 booleans equal True/False as Python
    compares them, and None equals neither, which is what ``_same`` says one by one.
    """
    return tuple(old[2:]) == tuple(values.values())


def _source(row: Row[Any]) -> Source:
    return Source(
        id=row.id,
        name=row.name,
        organisation=row.organisation,
        url=row.config_url,
        homepage=row.homepage,
        language=row.language,
        tags=tuple(json.loads(row.tags or "[]")),
        enabled=bool(row.enabled and row.configured),  # gone from feeds.yaml: never fetched
        kind=row.kind,
        scrape=_scrape_rules(row.scrape),
        day_first=bool(row.day_first),
        contact=row.contact,
    )


def _error_kind(stored: str | None) -> ErrorKind | None:
    """A stored kind; None for rows older than kinds, and for a kind this version does not
    know (written by a newer one): readers then see the stored sentence."""
    if stored is None or stored not in _KNOWN_KINDS:
        return None
    return ErrorKind(stored)


_KNOWN_KINDS = frozenset(kind.value for kind in ErrorKind)


def _error_params(stored: str | None) -> ErrorParams:
    """The JSON object of a kind's parameters; JSON arrays come back as tuples."""
    if not stored:
        return {}
    data = json.loads(stored)
    if not isinstance(data, dict):
        return {}
    return {str(k): tuple(v) if isinstance(v, list) else v for k, v in data.items()}


def _params_text(params: ErrorParams) -> str | None:
    return json.dumps(dict(params), ensure_ascii=False, sort_keys=True) if params else None


def _state_columns(state: SourceState) -> dict[str, Any]:
    """A state's ``STATE_FIELDS`` as column values (the kind as text, parameters as JSON)."""
    values = {name: getattr(state, name) for name in STATE_FIELDS}
    kind = state.last_error_kind
    values["last_error_kind"] = None if kind is None else str(kind.value)
    values["last_error_params"] = _params_text(state.last_error_params)
    return values


def _state(row: Row[Any]) -> SourceState:
    return SourceState(
        source_id=row.id,
        url=row.url,
        etag=row.etag,
        last_modified=row.last_modified,
        body_hash=row.body_hash,
        last_fetch=row.last_fetch,
        last_success=row.last_success,
        last_error=row.last_error,
        last_error_kind=_error_kind(row.last_error_kind),
        last_error_params=_error_params(row.last_error_params),
        last_error_at=row.last_error_at,
        failing_since=row.failing_since,
        consecutive_failures=row.consecutive_failures,
        next_fetch=row.next_fetch,
        gone=bool(row.gone),
        entries_seen=row.entries_seen,
        title=row.title,
        link=row.link,
    )


def get_sources(conn: Connection) -> dict[str, Source]:
    return {row.id: _source(row) for row in conn.execute(select(sources).order_by(sources.c.id))}


def get_states(conn: Connection) -> dict[str, SourceState]:
    return {row.id: _state(row) for row in conn.execute(select(sources).order_by(sources.c.id))}


def _fetchable(due_at: datetime | None, only: Sequence[str] | None) -> ColumnElement[bool]:
    """Sources a cycle fetches: enabled and configured, not gone, not held in the console,
    due at ``due_at`` (None: due or not), and among ``only`` when given."""
    held = exists().where(source_holds.c.source_id == sources.c.id)
    wanted = [
        sources.c.enabled == true(),
        sources.c.configured == true(),
        sources.c.gone == false_(),
        ~held,
    ]
    if due_at is not None:
        wanted.append(or_(sources.c.next_fetch.is_(None), sources.c.next_fetch <= due_at))
    if only:
        wanted.append(sources.c.id.in_(sorted(only)))
    return and_(*wanted)


def due_of(
    conn: Connection, ids: Sequence[str], due_at: datetime | None
) -> list[tuple[Source, SourceState]]:
    """Those of ``ids`` a cycle fetches, each with its configuration and state (any order)."""
    query = select(sources).where(_fetchable(due_at, None), sources.c.id.in_(list(ids)))
    return [(_source(row), _state(row)) for row in conn.execute(query)]


def due_counts(
    conn: Connection, due_at: datetime | None, only: Sequence[str] | None
) -> tuple[int, int]:
    """How many sources ``due_page`` would give in all, and how many of them never parsed."""
    never = func.sum(case((sources.c.body_hash.is_(None), 1), else_=0))
    row = conn.execute(select(func.count(), never).where(_fetchable(due_at, only))).one()
    return int(row[0]), int(row[1] or 0)


# Built once with bound parameters: SQLAlchemy then reuses the compiled statement, where a
# fresh ``.values(...)`` per call spent about 1 ms of Python per source on coercion.
_STATE_UPDATE = (
    update(sources)
    .where(sources.c.id == bindparam("_id"))
    .values({name: bindparam(f"_{name}") for name in STATE_FIELDS})
)


def write_states(conn: Connection, states: Sequence[SourceState]) -> None:
    """``write_state`` for many sources with one executemany; rows that do not exist yet
    (the total count falls short) are written one by one, which inserts their placeholder."""
    if states and _updated(conn, states) != len(states):
        for state in states:
            write_state(conn, state)


def _updated(conn: Connection, states: Sequence[SourceState]) -> int:
    """UPDATE the rows of ``states``; how many rows there were.

    As driver values when the driver takes positional ones (SQLAlchemy's per-value type
    processing was most of the cost); a naive datetime takes SQLAlchemy's path, which
    reports it as usual.
    """
    mark = placeholder(conn.dialect)
    if mark is not None:
        convert = stored_time(conn.dialect)
        try:
            values = [_state_values(state, convert) for state in states]
        except ValueError:
            pass
        else:
            return conn.exec_driver_sql(
                update_by_id_sql(conn.dialect, sources, STATE_FIELDS, mark), values
            ).rowcount
    rows = [
        {"_id": state.source_id, **{f"_{k}": v for k, v in _state_columns(state).items()}}
        for state in states
    ]
    return conn.execute(_STATE_UPDATE, rows).rowcount


_TIME_FIELDS = frozenset(n for n in STATE_FIELDS if isinstance(sources.c[n].type, UTCDateTime))


def _state_values(state: SourceState, convert: StoredTime) -> tuple[Any, ...]:
    """A state as driver values in ``STATE_FIELDS`` order, then the id (the WHERE)."""
    values = list(_state_columns(state).values())
    for index, name in enumerate(STATE_FIELDS):
        if name in _TIME_FIELDS and values[index] is not None:
            values[index] = convert(values[index])
    return (*values, state.source_id)


def write_state(conn: Connection, state: SourceState) -> None:
    """Store a source's state.  A state for a source never synced gets a placeholder row
    (disabled, not configured) rather than an error, so the state is never lost."""
    values = _state_columns(state)
    params = {f"_{name}": value for name, value in values.items()}
    result = conn.execute(_STATE_UPDATE, {"_id": state.source_id, **params})
    if result.rowcount == 0:
        conn.execute(
            insert(sources).values(
                id=state.source_id,
                name=state.title or state.source_id,
                organisation="",
                config_url=state.url,
                tags="[]",
                enabled=False,
                kind="feed",
                day_first=False,
                configured=False,
                **values,
            )
        )

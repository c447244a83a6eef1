"""Reads straight on the driver's cursor, for the lookups every command makes.

A Core `execute` of a cached SELECT still spends most of its time around the
driver: an execution context, parameter processing through generic machinery,
a result object and its row proxies. For statements built once (see the
`@cache` builders of `repositories.py`) the SQL text, the order of the
parameters and every column's bind and result processors are worked out once
per (dialect, schema map); a read is then one cursor execute and a loop over
the rows. What comes back is what the Core read gives (the same column types
convert the values), and a driver error surfaces as the SQLAlchemy error the
Core read would raise, so lost races stay retryable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from attrs import frozen
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from settlement_adapters.sqla.bulk import sqlite_instant
from settlement_adapters.sqla.types import UtcDateTime

Processor = Callable[[Any], Any]

# Statements are keyed by identity: only statements built once belong here, and
# the bound keeps a caller that builds one per call from growing the cache.
_PLANS = 512


def fetch_all(
    conn: Connection, statement: Select[Any], params: dict[str, Any]
) -> list[dict[str, Any]]:
    """The rows of a built-once SELECT, as dicts by column key, values as Core reads them."""
    plan = _plan(conn.dialect, _translation(conn), statement)
    rows = _run(conn, plan, params)
    names = plan.names
    converting = plan.converting
    found = []
    for row in rows:
        values = list(row)
        for at, process in converting:
            values[at] = process(values[at])
        found.append(dict(zip(names, values, strict=True)))
    return found


def fetch_values(
    conn: Connection, statement: Select[Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """The rows of a built-once SELECT as tuples, values as Core reads them."""
    plan = _plan(conn.dialect, _translation(conn), statement)
    rows = _run(conn, plan, params)
    converting = plan.converting
    if not converting:
        return [tuple(row) for row in rows]
    found = []
    for row in rows:
        values = list(row)
        for at, process in converting:
            values[at] = process(values[at])
        found.append(tuple(values))
    return found


@frozen
class _Plan:
    """A SELECT's SQL for one dialect, how to bind its parameters and convert its columns."""

    sql: str
    positional: tuple[str, ...] | None  # parameter names in order, or None for named style
    defaults: dict[str, Any]  # values bound in the statement itself
    binds: dict[str, Processor]
    names: tuple[str, ...]
    converting: tuple[tuple[int, Processor], ...]

    def parameters(self, given: dict[str, Any]) -> Any:
        """The driver's parameters: a tuple in order, or a dict by name."""
        binds = self.binds
        if self.positional is None:
            named = {**self.defaults, **given}
            for name, process in binds.items():
                named[name] = process(named[name])
            return named
        values = []
        for name in self.positional:
            value = given[name] if name in given else self.defaults[name]
            convert = binds.get(name)
            values.append(value if convert is None else convert(value))
        return tuple(values)


def _run(conn: Connection, plan: _Plan, params: dict[str, Any]) -> Sequence[Any]:
    parameters = plan.parameters(params)
    raw = conn.connection.driver_connection
    assert raw is not None
    dbapi = conn.dialect.loaded_dbapi
    dispatch = conn.dispatch
    cursor = raw.cursor()
    try:
        # The engine's cursor events still fire, so a host's instrumentation sees
        # these reads like any other statement.
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(conn, cursor, plan.sql, parameters, None, False)
        cursor.execute(plan.sql, parameters)
        rows: Sequence[Any] = cursor.fetchall()
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(conn, cursor, plan.sql, parameters, None, False)
        return rows
    except dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, raw, cursor):
            # As Core does: a dead connection is not handed back to the pool.
            conn.invalidate(exc)
        raise DBAPIError.instance(plan.sql, parameters, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _translation(conn: Connection) -> tuple[tuple[str | None, str | None], ...]:
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    return tuple(sorted(translate.items(), key=repr))


@lru_cache(maxsize=_PLANS)
def _plan(
    dialect: Dialect,
    translate: tuple[tuple[str | None, str | None], ...],
    statement: Select[Any],
) -> _Plan:
    compiled = statement.compile(
        dialect=dialect, schema_translate_map=dict(translate), render_schema_translate=True
    )
    binds: dict[str, Processor] = {}
    for name, bind in compiled.binds.items():
        process = bind_processor(bind.type, dialect)
        if process is not None:
            binds[name] = process
    positional = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    names: list[str] = []
    converting = []
    for at, column in enumerate(statement.selected_columns):
        names.append(str(column.key))
        process = _result_processor(column.type, dialect)
        if process is not None:
            converting.append((at, process))
    return _Plan(
        compiled.string,
        positional,
        dict(compiled.params),
        binds,
        tuple(names),
        tuple(converting),
    )


def bind_processor(kind: Any, dialect: Dialect) -> Processor | None:
    """The bind processor a column type applies on this dialect, if any."""
    if isinstance(kind, UtcDateTime) and dialect.name == "sqlite":
        return sqlite_instant
    found: Processor | None = kind.dialect_impl(dialect).bind_processor(dialect)
    return found


def _result_processor(kind: Any, dialect: Dialect) -> Processor | None:
    if isinstance(kind, UtcDateTime) and dialect.name == "sqlite":
        return _sqlite_instant
    found: Processor | None = kind.dialect_impl(dialect).result_processor(dialect, None)
    return found


def _sqlite_instant(value: str | None) -> datetime | None:
    # SQLite DATETIME's text and then UtcDateTime's zone in one step: every read
    # of an item or a statement converts several instants.
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC)
